from django.urls import re_path

from buttress.monitoring import views

app_name = "monitoring"

# One pattern for every form (/<uuid>[/<signal>], /<key>/<slug>[/<signal>], trailing slash or
# not): the view tells them apart, so that a bad slug or exit status can answer 400, not 404.
urlpatterns = [
    re_path(r"^(?P<path>.+)$", views.ping, name="ping"),
]
