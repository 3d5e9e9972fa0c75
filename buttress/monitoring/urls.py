from django.urls import path, re_path

from buttress.monitoring import pages, settings_pages, views

app_name = "monitoring"

# One pattern for every form (/<uuid>[/<signal>], /<key>/<slug>[/<signal>], trailing slash or
# not): the view tells them apart, so that a bad slug or exit status can answer 400, not 404.
urlpatterns = [
    re_path(r"^ping/(?P<path>.+)$", views.ping, name="ping"),
    path("monitors/", pages.monitor_list, name="list"),
    path("monitors/new/", pages.monitor_create, name="create"),
    path("monitors/<int:monitor_id>/", pages.monitor_detail, name="detail"),
    path("monitors/<int:monitor_id>/edit/", pages.monitor_edit, name="edit"),
    path("monitors/<int:monitor_id>/delete/", pages.monitor_delete, name="delete"),
    path("monitors/<int:monitor_id>/pause/", pages.monitor_pause, name="pause"),
    path(
        "monitors/organizations/<int:org_id>/settings/",
        settings_pages.organization_settings,
        name="settings",
    ),
]
