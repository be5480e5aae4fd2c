"""Prompt search from an index on each database (playground/search.py says how).

Neither index is part of the models' state: each exists on one database
only, so they are created here, by vendor, and the model does not declare them.
"""

from django.db import migrations

from playground import search

# On the expression Django's icontains writes for input__prompt (its ::text
# cast of a text value is no cast at all), so the LIKE can use the index.
POSTGRES_INDEX = (
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS gen_prompt_trgm ON playground_generation "
    "USING gin ((UPPER((input ->> 'prompt'))) gin_trgm_ops)"
)


def create_postgres_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # pg_trgm ships with PostgreSQL; since PostgreSQL 13 a database's owner
    # may create it (a trusted extension). Where an administrator created it
    # already, IF NOT EXISTS asks for no right at all. (Not Django's
    # TrigramExtension: migrated back, it drops the extension, which other
    # tables may use, and in Django 5.2 it does so on SQLite too, where it fails.)
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(POSTGRES_INDEX)


def drop_postgres_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX CONCURRENTLY IF EXISTS gen_prompt_trgm")


def create_sqlite_index(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        search.create_sqlite_index(schema_editor.connection)


def drop_sqlite_index(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        search.drop_sqlite_index(schema_editor.connection)


class Migration(migrations.Migration):
    # CONCURRENTLY (not in a transaction): an install with many generations
    # keeps accepting new ones while the index builds, where a plain CREATE
    # INDEX would hold every insert until it is done.
    atomic = False

    dependencies = [
        ('playground', '0016_usage_rollup_fill'),
    ]

    operations = [
        migrations.RunPython(create_postgres_index, drop_postgres_index),
        # The table, its triggers and the rows so far, all or nothing.
        migrations.RunPython(create_sqlite_index, drop_sqlite_index, atomic=True),
    ]
