from django.urls import path

from buttress.maintenance import views

app_name = "maintenance"

urlpatterns = [
    path("", views.window_list, name="list"),
    path("calendar/", views.window_calendar, name="calendar"),
    path("new/", views.window_create, name="create"),
    path("<int:window_id>/", views.window_detail, name="detail"),
    path("<int:window_id>/edit/", views.window_edit, name="edit"),
    path("<int:window_id>/delete/", views.window_delete, name="delete"),
    path("<slug:slug>.ics", views.calendar_feed, name="feed"),
]
