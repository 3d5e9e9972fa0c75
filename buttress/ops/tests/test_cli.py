import click
import pytest
from click.testing import CliRunner

from buttress.accounts import services as accounts
from buttress.accounts.models import ApiToken, Role, User
from buttress.cli import cli, parse_bind
from buttress.lib.timeutil import now
from buttress.scheduler.models import SchedulerHeartbeat


def invoke(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), input=input)


def assert_one_line_error(result, fragment: str) -> None:
    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert fragment in lines[0]
    assert "Traceback" not in result.output


@pytest.mark.django_db
def test_token_create_prints_a_token_that_authenticates(admin_user):
    result = invoke("token", "create", "--email", admin_user.email, "--scope", "write")

    assert result.exit_code == 0, result.output
    secret = result.stdout.strip()
    token = accounts.authenticate_token(secret)
    assert token is not None
    assert token.user == admin_user
    assert token.scope == ApiToken.Scope.WRITE
    assert token.expires_at is None


@pytest.mark.django_db
def test_token_create_can_expire(admin_user):
    result = invoke(
        "token", "create", "--email", admin_user.email, "--name", "ci", "--expires-days", "3"
    )

    token = ApiToken.objects.get(user=admin_user, name="ci")
    assert result.exit_code == 0
    assert token.expires_at is not None
    assert 2.9 < (token.expires_at - now()).total_seconds() / 86400 <= 3


@pytest.mark.django_db
def test_token_create_for_an_unknown_email_is_one_clear_error():
    result = invoke("token", "create", "--email", "nobody@example.com")

    assert_one_line_error(result, "no user with email 'nobody@example.com'")
    assert result.exit_code == 1


@pytest.mark.django_db
def test_token_create_with_a_bad_scope_is_one_clear_error(admin_user):
    result = invoke("token", "create", "--email", admin_user.email, "--scope", "admin")

    assert_one_line_error(result, "--scope must be read or write")
    assert not ApiToken.objects.exists()


@pytest.mark.django_db
def test_token_create_with_a_bad_expiry_is_one_clear_error(admin_user):
    result = invoke("token", "create", "--email", admin_user.email, "--expires-days", "0")

    assert_one_line_error(result, "--expires-days")


@pytest.mark.django_db
def test_token_create_with_an_expiry_past_the_calendar_is_one_clear_error(admin_user):
    result = invoke("token", "create", "--email", admin_user.email, "--expires-days", "99999999")

    assert_one_line_error(result, "--expires-days")
    assert not ApiToken.objects.exists()


@pytest.mark.django_db
def test_createadmin_reads_the_password_from_stdin():
    result = invoke(
        "createadmin",
        "--email",
        "Boss@Example.com",
        "--password-stdin",
        input="a-long-enough-passphrase\n",
    )

    assert result.exit_code == 0, result.output
    user = User.objects.get(email="boss@example.com")
    assert user.role == Role.ADMIN
    assert user.check_password("a-long-enough-passphrase")
    assert "Password" not in result.stdout


@pytest.mark.django_db
def test_createadmin_generates_and_prints_a_password_when_not_interactive():
    result = invoke("createadmin", "--email", "boss@example.com", input="")

    assert result.exit_code == 0, result.output
    password = result.stdout.strip().splitlines()[-1].rsplit(" ", 1)[-1]
    assert User.objects.get(email="boss@example.com").check_password(password)


@pytest.mark.django_db
def test_createadmin_rejects_a_weak_password_in_one_line():
    result = invoke("createadmin", "--email", "boss@example.com", "--password-stdin", input="123\n")

    assert_one_line_error(result, "password")
    assert not User.objects.exists()


@pytest.mark.django_db
def test_createadmin_for_an_existing_email_is_one_clear_error(admin_user):
    result = invoke(
        "createadmin",
        "--email",
        admin_user.email,
        "--password-stdin",
        input="a-long-enough-passphrase\n",
    )

    assert_one_line_error(result, "already exists")


@pytest.mark.django_db
def test_check_passes_with_a_live_scheduler():
    SchedulerHeartbeat.objects.create(
        name="h:1:x", host="h", pid=1, started_at=now(), seen_at=now()
    )

    result = invoke("check")

    assert result.exit_code == 0, result.output
    assert [line.split()[0] for line in result.stdout.splitlines()] == ["OK", "OK", "OK"]


@pytest.mark.django_db
def test_check_fails_without_a_scheduler():
    result = invoke("check")

    assert result.exit_code == 1
    assert "FAIL scheduler" in result.stdout


def test_a_bad_bind_address_is_one_clear_error():
    result = invoke("run", "--bind", "localhost")

    assert_one_line_error(result, "--bind must be HOST:PORT")
    assert result.exit_code == 2


def test_an_unknown_command_is_one_clear_error():
    assert_one_line_error(invoke("frobnicate"), "No such command")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:8000", ("127.0.0.1", 8000)),
        ("0.0.0.0:80", ("0.0.0.0", 80)),  # noqa: S104
        ("[::1]:8080", ("::1", 8080)),
    ],
)
def test_bind_addresses_parse(value, expected):
    assert parse_bind(value) == expected


@pytest.mark.parametrize("value", ["8000", ":8000", "host:", "host:0", "host:70000", "host:http"])
def test_bad_bind_addresses_are_refused(value):
    with pytest.raises(click.BadParameter, match="HOST:PORT"):
        parse_bind(value)


@pytest.mark.django_db
def test_a_second_runner_on_sqlite_is_refused_while_the_first_lives(monkeypatch):
    import socket

    from django.db import connection

    from buttress.monitoring import runner as runner_module
    from buttress.monitoring.models import Runner

    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL runs several runners")
    started = []

    def run(self: runner_module.Runner) -> None:
        started.append(self)

    monkeypatch.setattr(runner_module.Runner, "run", run)
    Runner.objects.create(
        name="elsewhere:4242:ab", host="elsewhere", pid=4242, started_at=now(), seen_at=now()
    )

    refused = invoke("runner")

    assert_one_line_error(refused, "another runner (elsewhere, pid 4242")
    assert not started

    # A runner row of this host whose process is gone (killed) does not count.
    Runner.objects.all().update(host=socket.gethostname(), pid=2**22 + 1)
    assert invoke("runner").exit_code == 0
    assert len(started) == 1
