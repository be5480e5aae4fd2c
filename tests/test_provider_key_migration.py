"""The migration that moved providers' clear-text API keys into encrypted credentials."""

from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from playground.models import Provider

BEFORE = [("playground", "0010_lean_indexes")]
AFTER = [("playground", "0011_real_providers")]
KEY = "sk-stored-in-clear-before-0011"


def test_stored_keys_end_up_encrypted_and_readable(migrated_back):
    OldProvider = migrated_back.get_model("playground", "Provider")
    OldProvider.objects.create(name="kie", kind="jobs", base_url="https://a.example", api_key=KEY)
    OldProvider.objects.create(name="local", kind="local", api_key="")

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)

    with connection.cursor() as cursor:
        cursor.execute("SELECT name, credentials FROM playground_provider ORDER BY name")
        raw = dict(cursor.fetchall())
    assert KEY not in raw["kie"] and raw["kie"].startswith("gAAAAA")
    assert raw["local"] == ""
    assert Provider.objects.get(name="kie").credentials == {"api_key": KEY}
