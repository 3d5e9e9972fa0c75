from django.urls import path

from buttress.assets import views

app_name = "assets"

urlpatterns = [
    path("", views.asset_list, name="list"),
    path("new/", views.asset_create, name="create"),
    path("export.csv", views.asset_export, name="export"),
    path("import/", views.asset_import, name="import"),
    path("<int:pk>/", views.asset_detail, name="detail"),
    path("<int:pk>/edit/", views.asset_edit, name="edit"),
    path("<int:pk>/delete/", views.asset_delete, name="delete"),
    path("<int:pk>/relations/", views.relation_add, name="relation_add"),
    path("<int:pk>/relations/targets/", views.relation_targets, name="relation_targets"),
    path(
        "<int:pk>/relations/<int:relation_id>/delete/",
        views.relation_delete,
        name="relation_delete",
    ),
]
