from django.urls import path

from buttress.response import views

app_name = "response"

urlpatterns = [
    path("<int:ticket_id>/severity/", views.set_severity, name="severity"),
    path("<int:ticket_id>/roles/", views.assign_role, name="assign_role"),
    path(
        "<int:ticket_id>/roles/<int:assignment_id>/release/",
        views.release_role,
        name="release_role",
    ),
    path("<int:ticket_id>/updates/", views.post_update, name="update"),
    path("<int:ticket_id>/postmortem/", views.postmortem, name="postmortem"),
    path("<int:ticket_id>/postmortem/actions/", views.add_action, name="add_action"),
    path(
        "<int:ticket_id>/postmortem/actions/<int:action_id>/convert/",
        views.convert_action,
        name="convert_action",
    ),
]
