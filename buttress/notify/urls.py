from django.urls import path

from buttress.notify import views

app_name = "notify"

urlpatterns = [
    path("", views.settings_page, name="settings"),
    path("methods/", views.method_add, name="method_add"),
    path("methods/<int:method_id>/test/", views.method_test, name="method_test"),
    path("methods/<int:method_id>/delete/", views.method_delete, name="method_delete"),
    path("rules/", views.rule_add, name="rule_add"),
    path("rules/<int:notification_rule_id>/delete/", views.rule_delete, name="rule_delete"),
    path("events/", views.subscriptions, name="subscriptions"),
    path("log/", views.log, name="log"),
    path("webhooks/", views.webhook_list, name="webhooks"),
    path("webhooks/<int:webhook_id>/", views.webhook_detail, name="webhook_detail"),
    path("act/<str:token>/", views.action_page, name="action"),
    path("mail/<str:token>/", views.requester_page, name="requester"),
    path(
        "mail/<str:token>/unsubscribe/", views.requester_unsubscribe, name="requester_unsubscribe"
    ),
]
