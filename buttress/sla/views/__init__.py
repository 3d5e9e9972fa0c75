"""The SLA pages: :mod:`.config` (calendars, policies, rules) and :mod:`.insight` (the
simulator and the compliance report)."""
