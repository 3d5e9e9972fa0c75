from django.urls import path

from buttress.desk.views import create, queue, ticket

app_name = "desk"

urlpatterns = [
    path("", queue.ticket_list, name="list"),
    path("bulk/", queue.ticket_bulk, name="bulk"),
    path("new/", create.ticket_create, name="create"),
    path("views/", queue.view_save, name="view_save"),
    path("views/<int:view_id>/delete/", queue.view_delete, name="view_delete"),
    path("<int:pk>/", ticket.ticket_detail, name="detail"),
    path("<int:pk>/reply/", ticket.ticket_reply, name="reply"),
    path("<int:pk>/status/", ticket.ticket_transition, name="transition"),
    path("<int:pk>/fields/", ticket.ticket_update, name="update"),
    path("<int:pk>/assets/link/", ticket.ticket_asset_link, name="asset_link"),
    path("<int:pk>/assets/unlink/", ticket.ticket_asset_unlink, name="asset_unlink"),
    path("<int:pk>/time/", ticket.ticket_time, name="time"),
]
