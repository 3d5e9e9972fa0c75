"""Service levels: business calendars, targets and clocks."""
