"""Provider credentials: encrypted in the database, masked in the admin, rotated, never leaked."""

import logging

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from playground.models import Provider
from playground.secretbox import SecretsUnreadable
from tests.contract.fakes import API_KEY, JOBS, FakeUpstream, Step, adapter, new_generation
from tests.httpservers import Received, Reply

pytestmark = pytest.mark.django_db

SECRET = "sk-live-0123456789abcdef-secret"


def raw_credentials(row: Provider) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM playground_provider WHERE id = %s", [row.pk])
        return cursor.fetchone()[0]


@pytest.fixture
def staff_client(client, alice):
    alice.is_staff = alice.is_superuser = True
    alice.save()
    client.force_login(alice)
    return client


def test_the_column_holds_a_token_not_the_secret():
    row = Provider.objects.create(name="up", kind="jobs", credentials={"api_key": SECRET})

    stored = raw_credentials(row)
    assert SECRET not in stored
    assert stored.startswith("gAAAAA")  # a Fernet token
    assert Provider.objects.get(pk=row.pk).credentials == {"api_key": SECRET}


def test_a_row_without_credentials_stores_nothing():
    row = Provider.objects.create(name="local", kind="local")
    assert raw_credentials(row) == ""
    assert Provider.objects.get(pk=row.pk).credentials == {}


def test_rotation_reencrypts_under_the_new_first_key(settings):
    old = settings.PROVIDER_SECRETS_KEYS[0]
    row = Provider.objects.create(name="up", kind="jobs", credentials={"api_key": SECRET})
    new = Fernet.generate_key().decode()
    settings.PROVIDER_SECRETS_KEYS = [new, old]

    call_command("provider", "rotate-keys")

    token = raw_credentials(row)
    assert Fernet(new.encode()).decrypt(token.encode())  # the new key alone opens it
    settings.PROVIDER_SECRETS_KEYS = [new]
    assert Provider.objects.get(pk=row.pk).credentials == {"api_key": SECRET}


def test_without_the_key_reading_fails_naming_the_setting(settings):
    Provider.objects.create(name="up", kind="jobs", credentials={"api_key": SECRET})
    settings.PROVIDER_SECRETS_KEYS = [Fernet.generate_key().decode()]

    with pytest.raises(SecretsUnreadable, match="PROVIDER_SECRETS_KEY"):
        Provider.objects.get(name="up")
    with pytest.raises(CommandError, match="PROVIDER_SECRETS_KEY"):
        call_command("provider", "list")


def test_a_malformed_key_setting_names_itself(settings):
    settings.PROVIDER_SECRETS_KEYS = ["not-a-fernet-key"]
    with pytest.raises(Exception, match="PROVIDER_SECRETS_KEY"):
        Provider.objects.create(name="up", kind="jobs", credentials={"api_key": SECRET})


def test_the_admin_masks_credentials_and_keeps_them_when_left_blank(staff_client):
    row = Provider.objects.create(name="up", kind="jobs", credentials={"api_key": SECRET})

    listing = staff_client.get("/admin/playground/provider/").content.decode()
    page = staff_client.get(f"/admin/playground/provider/{row.pk}/change/").content.decode()
    assert SECRET not in listing and SECRET not in page
    assert "api_key …et" in listing

    form = {
        "name": "up",
        "kind": "jobs",
        "base_url": "",
        "options": "{}",
        "model_map": "{}",
        "model_ids": "[]",
        "costs": "{}",
        "priority": "5",
        "weight": "1",
        "enabled": "on",
        "access_key": "AK-new",
    }
    response = staff_client.post(f"/admin/playground/provider/{row.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    row.refresh_from_db()
    assert row.credentials == {"api_key": SECRET, "access_key": "AK-new"}
    assert row.priority == 5


def test_the_admin_tests_a_connection_with_the_stored_key(staff_client):
    with FakeUpstream(JOBS) as fake:
        fake.server.route(
            "/api/v1/chat/credit",
            lambda request: balance_reply(request, fake.key),
        )
        good = fake.provider_row(name="good")
        bad = fake.provider_row(name="bad", credentials={"api_key": "sk-wrong-key-123456"})
        response = staff_client.post(
            f"/admin/playground/provider/{good.pk}/test-connection/", follow=True
        )
        said = [str(m) for m in response.context["messages"]]
        assert said == ["good: credentials accepted; balance: 42.5"]
        response = staff_client.post(
            f"/admin/playground/provider/{bad.pk}/test-connection/", follow=True
        )
        said = [str(m) for m in response.context["messages"]]
    assert len(said) == 1 and "bad" in said[0] and "401" in said[0]
    assert "sk-wrong-key-123456" not in said[0]
    assert (
        staff_client.get(f"/admin/playground/provider/{good.pk}/test-connection/").status_code
        == 403
    )


def balance_reply(request: Received, key: str) -> Reply:
    """Kie-style gateways' (and Reelgate's) GET /api/v1/chat/credit."""
    if request.header("Authorization") != f"Bearer {key}":
        return Reply.json({"code": 401, "msg": "Unauthorized", "data": None}, status=401)
    return Reply.json({"code": 200, "msg": "success", "data": 42.5})


def test_no_message_or_log_line_carries_a_key(alice, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    with FakeUpstream(JOBS) as fake:
        # An upstream that echoes the key back in every error it gives.
        echo = f"bad request for key {API_KEY}"
        fake.script(Step("fail", fail_msg=echo), Step("success"))
        provider = adapter(fake.provider_row())
        generation = new_generation(alice, JOBS)
        outcome = provider.start(generation, tmp_path, lambda percent: True)
        generation.upstream_ref = outcome.reference
        failed = provider.poll(generation)
    assert API_KEY not in failed.message
    assert "[api key hidden]" in failed.message
    assert API_KEY not in caplog.text
