from django.urls import path

from buttress.sla.views import config as views
from buttress.sla.views.insight import report, simulator

app_name = "sla"

urlpatterns = [
    path("", views.calendar_list, name="index"),
    path("calendars/new/", views.calendar_create, name="calendar_create"),
    path("calendars/<int:calendar_id>/", views.calendar_detail, name="calendar_detail"),
    path("calendars/<int:calendar_id>/edit/", views.calendar_edit, name="calendar_edit"),
    path("calendars/<int:calendar_id>/delete/", views.calendar_delete, name="calendar_delete"),
    path("policies/", views.policy_list, name="policy_list"),
    path("policies/new/", views.policy_create, name="policy_create"),
    path("policies/<int:policy_id>/", views.policy_detail, name="policy_detail"),
    path("policies/<int:policy_id>/edit/", views.policy_edit, name="policy_edit"),
    path("policies/<int:policy_id>/delete/", views.policy_delete, name="policy_delete"),
    path("rules/", views.rule_list, name="rule_list"),
    path("rules/<int:rule_id>/delete/", views.rule_delete, name="rule_delete"),
    path("rules/<int:rule_id>/up/", views.rule_move, {"direction": "up"}, name="rule_up"),
    path("rules/<int:rule_id>/down/", views.rule_move, {"direction": "down"}, name="rule_down"),
    path("simulator/", simulator, name="simulator"),
    path("report/", report, name="report"),
]
