"""Monitoring: checks of customer services and the engine that runs them."""
