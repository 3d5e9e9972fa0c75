from django.urls import path

from buttress.catalogue import views

app_name = "catalogue"

urlpatterns = [
    path("", views.item_list, name="list"),
    path("new/", views.item_create, name="create"),
    path("<int:item_id>/", views.item_detail, name="detail"),
    path("<int:item_id>/edit/", views.item_edit, name="edit"),
    path("<int:item_id>/delete/", views.item_delete, name="delete"),
    path("<int:item_id>/fields/", views.field_add, name="field_add"),
    path("<int:item_id>/fields/<int:field_id>/", views.field_edit, name="field_edit"),
    path("<int:item_id>/fields/<int:field_id>/delete/", views.field_delete, name="field_delete"),
    path("<int:item_id>/fields/<int:field_id>/move/", views.field_move, name="field_move"),
]
