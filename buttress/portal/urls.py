from django.urls import path

from buttress.portal import views

app_name = "portal"

urlpatterns = [
    path("", views.ticket_list, name="list"),
    path("new/", views.ticket_create, name="create"),
    path("mail/", views.mail_preferences, name="mail"),
    path("mail/targets/", views.chat_target_add, name="chat_target_add"),
    path("mail/targets/<int:method_id>/test/", views.chat_target_test, name="chat_target_test"),
    path(
        "mail/targets/<int:method_id>/delete/", views.chat_target_delete, name="chat_target_delete"
    ),
    path("<int:pk>/", views.ticket_detail, name="detail"),
    path("<int:pk>/close/", views.ticket_close, name="close"),
]
