from django.urls import path

from buttress.oncall import views

app_name = "oncall"

urlpatterns = [
    path("", views.schedule_list, name="list"),
    path("new/", views.schedule_create, name="create"),
    path("my-feed/", views.my_feed, name="my_feed"),
    path("feeds/<str:token>.ics", views.feed, name="feed"),
    path("<int:schedule_id>/", views.schedule_detail, name="detail"),
    path("<int:schedule_id>/who/", views.schedule_lookup, name="lookup"),
    path("<int:schedule_id>/edit/", views.schedule_edit, name="edit"),
    path("<int:schedule_id>/delete/", views.schedule_delete, name="delete"),
    path("<int:schedule_id>/feed/", views.schedule_feed, name="schedule_feed"),
    path("<int:schedule_id>/layers/new/", views.layer_create, name="layer_create"),
    path("<int:schedule_id>/overrides/new/", views.override_create, name="override_create"),
    path("layers/<int:layer_id>/edit/", views.layer_edit, name="layer_edit"),
    path("layers/<int:layer_id>/delete/", views.layer_delete, name="layer_delete"),
    path("overrides/<int:override_id>/delete/", views.override_delete, name="override_delete"),
]
