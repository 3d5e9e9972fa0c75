from buttress.monitoring.models import Monitor, Upkeep
from buttress.monitoring.rollups import LEASE
from buttress.monitoring.tasks import check_heartbeat, run_upkeep
from buttress.scheduler.registry import Timer, register

# A heartbeat monitor's next move without a ping (up -> late, late or running -> down).
register(Timer("monitoring.heartbeat", Monitor, "heartbeat_due_at", check_heartbeat))
# Rolling results up and pruning them (buttress.monitoring.rollups), every minute.
register(Timer("monitoring.upkeep", Upkeep, "due_at", run_upkeep, lease=LEASE))
