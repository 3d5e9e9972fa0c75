from buttress.monitoring.models import Monitor
from buttress.monitoring.tasks import check_heartbeat
from buttress.scheduler.registry import Timer, register

# A heartbeat monitor's next move without a ping (up -> late, late or running -> down).
register(Timer("monitoring.heartbeat", Monitor, "heartbeat_due_at", check_heartbeat))
