from django.urls import path

from buttress.tenancy import views

app_name = "tenancy"

urlpatterns = [
    path("", views.org_list, name="org_list"),
    path("new/", views.org_create, name="org_create"),
    path("<slug:slug>/", views.org_detail, name="org_detail"),
    path("<slug:slug>/edit/", views.org_edit, name="org_edit"),
    path("<slug:slug>/delete/", views.org_delete, name="org_delete"),
    path("<slug:slug>/sites/new/", views.site_create, name="site_create"),
    path("<slug:slug>/sites/<int:site_id>/edit/", views.site_edit, name="site_edit"),
    path("<slug:slug>/sites/<int:site_id>/delete/", views.site_delete, name="site_delete"),
    path("<slug:slug>/contacts/new/", views.contact_create, name="contact_create"),
    path("<slug:slug>/contacts/<int:contact_id>/edit/", views.contact_edit, name="contact_edit"),
    path(
        "<slug:slug>/contacts/<int:contact_id>/delete/",
        views.contact_delete,
        name="contact_delete",
    ),
]
