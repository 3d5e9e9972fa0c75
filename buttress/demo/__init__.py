"""Demo data for evaluating buttress locally: `buttress demo` or `buttress run --demo`."""
