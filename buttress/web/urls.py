from django.urls import path

from buttress.web import views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("org-filter/", views.org_filter, name="org_filter"),
]
