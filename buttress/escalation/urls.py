from django.urls import path

from buttress.escalation import views

app_name = "escalation"

urlpatterns = [
    path("", views.policy_list, name="policy_list"),
    path("new/", views.policy_create, name="policy_create"),
    path("<int:policy_id>/edit/", views.policy_edit, name="policy_edit"),
    path("<int:policy_id>/delete/", views.policy_delete, name="policy_delete"),
    path("tickets/<int:ticket_id>/start/", views.start, name="start"),
    path("tickets/<int:ticket_id>/acknowledge/", views.acknowledge, name="acknowledge"),
    path("tickets/<int:ticket_id>/cancel/", views.cancel, name="cancel"),
]
