from django.urls import path

from buttress.accounts.views import auth, me, users

app_name = "accounts"

urlpatterns = [
    path("login/", auth.login, name="login"),
    path("login/code/", auth.login_verify, name="login_verify"),
    path("logout/", auth.logout, name="logout"),
    path("setup/", auth.setup, name="setup"),
    path("password-reset/", auth.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password-reset/sent/",
        auth.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        auth.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done/",
        auth.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("account/", me.profile, name="profile"),
    path("account/security/", me.security, name="security"),
    path("account/sessions/", me.sessions, name="sessions"),
    path("account/tokens/", me.tokens, name="tokens"),
    path("users/", users.users, name="users"),
    path("users/new/", users.user_create, name="user_create"),
    path("users/<int:pk>/", users.user_edit, name="user_edit"),
    path("users/<int:pk>/action/", users.user_action, name="user_action"),
    path("teams/", users.teams, name="teams"),
    path("teams/new/", users.team_create, name="team_create"),
    path("teams/<int:pk>/", users.team_edit, name="team_edit"),
    path("teams/<int:pk>/delete/", users.team_delete, name="team_delete"),
]
