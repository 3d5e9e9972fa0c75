from django.urls import path

from buttress.catalogue import views

app_name = "catalogue_portal"

urlpatterns = [
    path("", views.portal_list, name="list"),
    path("<int:item_id>/", views.portal_request, name="request"),
]
