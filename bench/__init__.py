"""Reproducible benchmarks; each prints its figures and a ratio to a baseline."""
