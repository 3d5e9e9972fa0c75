"""The alert pages, mounted at /alerts/ (the endpoints senders post to are in urls.py)."""

from django.urls import path

from buttress.alerts import pages

app_name = "alerting"

urlpatterns = [
    path("", pages.integration_list, name="list"),
    path("integrations/new/", pages.integration_create, name="integration_create"),
    path("integrations/<int:integration_id>/", pages.integration_detail, name="integration"),
    path("integrations/<int:integration_id>/rotate-key/", pages.rotate_key, name="rotate_key"),
    path(
        "integrations/<int:integration_id>/policy/",
        pages.integration_policy,
        name="integration_policy",
    ),
    path("integrations/<int:integration_id>/rules/new/", pages.rule_create, name="rule_create"),
    path(
        "integrations/<int:integration_id>/rules/<int:routing_rule_id>/",
        pages.rule_edit,
        name="rule_edit",
    ),
    path(
        "integrations/<int:integration_id>/rules/<int:routing_rule_id>/delete/",
        pages.rule_delete,
        name="rule_delete",
    ),
    path(
        "integrations/<int:integration_id>/rules/<int:routing_rule_id>/move/",
        pages.rule_move,
        name="rule_move",
    ),
    path("silences/", pages.silence_list, name="silences"),
    path("silences/new/", pages.silence_create, name="silence_create"),
    path("silences/<int:silence_id>/expire/", pages.silence_expire, name="silence_expire"),
    path("recent/", pages.recent_alerts, name="recent"),
    path("incidents/<int:ticket_id>/", pages.incident_alerts, name="incident_alerts"),
]
