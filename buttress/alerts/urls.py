from django.urls import path

from buttress.alerts import views

app_name = "alerts"

# Mounted at the site root: PagerDuty senders only change the host, so /v2/enqueue must be
# exactly there, and Prometheus appends /api/v2/alerts to the path prefix it is given.
urlpatterns = [
    path("hooks/alertmanager/<str:key>", views.alertmanager, name="alertmanager"),
    path("hooks/grafana/<str:key>", views.grafana, name="grafana"),
    path("hooks/generic/<str:key>", views.generic, name="generic"),
    path("hooks/<str:key>/api/v2/alerts", views.prometheus, name="prometheus"),
    path("v2/enqueue", views.pagerduty, name="pagerduty"),
]
