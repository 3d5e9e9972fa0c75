from django.urls import path

from buttress.portal import views

app_name = "portal"

urlpatterns = [
    path("", views.ticket_list, name="list"),
    path("new/", views.ticket_create, name="create"),
    path("mail/", views.mail_preferences, name="mail"),
    path("<int:pk>/", views.ticket_detail, name="detail"),
    path("<int:pk>/close/", views.ticket_close, name="close"),
]
