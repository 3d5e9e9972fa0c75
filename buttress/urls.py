from django.urls import include, path

from buttress.api.v1 import api

urlpatterns: list[object] = [
    path("api/v1/", api.urls),
    path("", include("buttress.ops.urls")),
    path("", include("buttress.accounts.urls")),
    path("", include("buttress.web.urls")),
    path("orgs/", include("buttress.tenancy.urls")),
    path("assets/", include("buttress.assets.urls")),
    path("audit/", include("buttress.audit.urls")),
    path("tickets/", include("buttress.desk.urls")),
    path("sla/", include("buttress.sla.urls")),
    path("portal/catalogue/", include("buttress.catalogue.portal_urls")),
    path("portal/", include("buttress.portal.urls")),
    path("catalogue/", include("buttress.catalogue.urls")),
    path("incidents/", include("buttress.response.urls")),
    path("", include("buttress.monitoring.urls")),
    path("maintenance/", include("buttress.maintenance.urls")),
    path("oncall/", include("buttress.oncall.urls")),
    path("notifications/", include("buttress.notify.urls")),
    path("", include("buttress.alerts.urls")),
    path("escalation/", include("buttress.escalation.urls")),
    path("alerts/", include("buttress.alerts.page_urls")),
]
