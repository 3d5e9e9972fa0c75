from django.urls import path

from buttress.desk.views import create, files, macros, mail, priority, queue, survey, ticket

app_name = "desk"

urlpatterns = [
    path("", queue.ticket_list, name="list"),
    path("bulk/", queue.ticket_bulk, name="bulk"),
    path("new/", create.ticket_create, name="create"),
    path("views/", queue.view_save, name="view_save"),
    path("survey/<str:token>/", survey.survey_page, name="survey"),
    path("files/<int:attachment_id>/", files.attachment_download, name="attachment"),
    path("mail/", mail.mail_list, name="mail_list"),
    path("mail/<int:mail_id>/", mail.mail_detail, name="mail_detail"),
    path("mail/<int:mail_id>/retry/", mail.mail_retry, name="mail_retry"),
    path("mail/<int:mail_id>/discard/", mail.mail_discard, name="mail_discard"),
    path("macros/", macros.macro_list, name="macro_list"),
    path("macros/new/", macros.macro_create, name="macro_create"),
    path("macros/<int:macro_id>/edit/", macros.macro_edit, name="macro_edit"),
    path("macros/<int:macro_id>/delete/", macros.macro_delete, name="macro_delete"),
    path("priority/", priority.priority_matrix, name="priority_matrix"),
    path("views/<int:view_id>/delete/", queue.view_delete, name="view_delete"),
    path("<int:pk>/", ticket.ticket_detail, name="detail"),
    path("<int:pk>/reply/", ticket.ticket_reply, name="reply"),
    path("<int:pk>/status/", ticket.ticket_transition, name="transition"),
    path("<int:pk>/fields/", ticket.ticket_update, name="update"),
    path("<int:pk>/assets/link/", ticket.ticket_asset_link, name="asset_link"),
    path("<int:pk>/assets/unlink/", ticket.ticket_asset_unlink, name="asset_unlink"),
    path("<int:pk>/time/", ticket.ticket_time, name="time"),
    path("<int:pk>/macro/", ticket.ticket_macro, name="macro"),
]
