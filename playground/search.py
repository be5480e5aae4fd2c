"""Prompt search: the generations whose prompt contains a text, in any case,
as `input__prompt__icontains` finds them, answered from an index.

The text searched is the prompt of the validated input, `input["prompt"]`
(every catalog model names its prompt field so). It is not copied into a
column of its own: every row is searchable however it was written
(services.submit, bulk_create, raw SQL), and no copy can disagree with the
input. Each database indexes that expression its own way:

- PostgreSQL: the lookup is icontains itself, which Django writes as
  `UPPER((input ->> 'prompt')::text) LIKE UPPER('%text%')`. The trigram GIN
  index gen_prompt_trgm is built on that very expression (migration 0015),
  so the planner can answer the LIKE from the index. (A trigram index on
  the bare prompt would serve ILIKE, which Django does not write.)
- SQLite: the FTS5 table gen_prompt_fts with the trigram tokenizer holds
  every generation's prompt as trigrams. It is contentless (the text stays
  in `input`) and triggers on playground_generation keep it in step. A
  text, quoted as one phrase, matches a row when its trigrams follow each
  other there: when it is a substring of the prompt, case folded.
- A text shorter than a trigram (1 or 2 characters) has no trigram to look
  up: icontains on both.

Where the two differ: SQLite's LIKE, which icontains uses there, folds the
case of ASCII letters only; FTS5 and PostgreSQL's UPPER (under a UTF-8
locale, as Debian's default C.UTF-8) fold every alphabet's: É finds é, Σ
finds σ. So on SQLite a search of 3 characters or more finds what
PostgreSQL finds, and one of 1 or 2 non-ASCII letters still matches their
case exactly. Neither removes accents: "cafe" does not find "café".
"""

from __future__ import annotations

from django.db import connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

# The trigram tokenizer indexes runs of three characters; a shorter text has none.
TRIGRAM = 3

SQLITE_TABLE = "gen_prompt_fts"
# The prompt as Django's JSONField lookups read it on SQLite.
SQLITE_PROMPT = "json_extract({row}.input, '$.prompt')"
SQLITE_TRIGGERS = {
    "gen_prompt_fts_insert": f"""
        CREATE TRIGGER IF NOT EXISTS gen_prompt_fts_insert
        AFTER INSERT ON playground_generation BEGIN
            INSERT INTO {SQLITE_TABLE}(rowid, prompt)
            VALUES (new.id, {SQLITE_PROMPT.format(row="new")});
        END""",
    # A contentless table forgets a row by being told the values it indexed.
    "gen_prompt_fts_delete": f"""
        CREATE TRIGGER IF NOT EXISTS gen_prompt_fts_delete
        AFTER DELETE ON playground_generation BEGIN
            INSERT INTO {SQLITE_TABLE}({SQLITE_TABLE}, rowid, prompt)
            VALUES ('delete', old.id, {SQLITE_PROMPT.format(row="old")});
        END""",
    # Only when the prompt changed: a save() of the whole row rewrites
    # `input` with every state change, with the same prompt.
    "gen_prompt_fts_update": f"""
        CREATE TRIGGER IF NOT EXISTS gen_prompt_fts_update
        AFTER UPDATE OF input ON playground_generation
        WHEN {SQLITE_PROMPT.format(row="old")} IS NOT {SQLITE_PROMPT.format(row="new")} BEGIN
            INSERT INTO {SQLITE_TABLE}({SQLITE_TABLE}, rowid, prompt)
            VALUES ('delete', old.id, {SQLITE_PROMPT.format(row="old")});
            INSERT INTO {SQLITE_TABLE}(rowid, prompt)
            VALUES (new.id, {SQLITE_PROMPT.format(row="new")});
        END""",
}


def matching(generations: QuerySet, text: str) -> QuerySet:
    """`generations` narrowed to those whose prompt contains `text`, in any case."""
    vendor = connections[generations.db].vendor
    if vendor == "sqlite" and len(text) >= TRIGRAM:
        # One phrase: inside double quotes FTS5 reads every character as
        # text, and a double quote is written twice.
        phrase = '"' + text.replace('"', '""') + '"'
        found = RawSQL(f"SELECT rowid FROM {SQLITE_TABLE} WHERE {SQLITE_TABLE} MATCH %s", [phrase])
        return generations.filter(pk__in=found)
    # PostgreSQL: served by gen_prompt_trgm (see above).
    return generations.filter(input__prompt__icontains=text)


# -- the SQLite index's upkeep -------------------------------------------------


def restore_after_migrate(using: str, **kwargs) -> None:
    """After `migrate`: put back the triggers a rebuild of the table dropped (see below)."""
    connection = connections[using]
    if connection.vendor != "sqlite" or not sqlite_index_exists(connection):
        return  # not SQLite, or migrated back to before the index
    if missing_sqlite_triggers(connection):
        with transaction.atomic(using=using):
            restore_sqlite_triggers(connection)


def sqlite_index_exists(connection: BaseDatabaseWrapper) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = %s", [SQLITE_TABLE]
        )
        return cursor.fetchone() is not None


def missing_sqlite_triggers(connection: BaseDatabaseWrapper) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        return set(SQLITE_TRIGGERS) - {name for (name,) in cursor.fetchall()}


def create_sqlite_index(connection: BaseDatabaseWrapper) -> None:
    """Create the FTS5 table and its triggers, and index every generation so far."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE VIRTUAL TABLE {SQLITE_TABLE} "
            "USING fts5(prompt, content='', tokenize='trigram')"
        )
    restore_sqlite_triggers(connection)


def restore_sqlite_triggers(connection: BaseDatabaseWrapper) -> None:
    """Create the triggers and index every generation afresh.

    A migration that rebuilds playground_generation on SQLite (most field
    changes: Django copies it into a new table and drops the old one) drops
    its triggers with it, and rows written until they are back go unindexed:
    so the index is filled again from the table, not patched.
    """
    with connection.cursor() as cursor:
        for sql in SQLITE_TRIGGERS.values():
            cursor.execute(sql)
        cursor.execute(f"INSERT INTO {SQLITE_TABLE}({SQLITE_TABLE}) VALUES ('delete-all')")
        cursor.execute(
            f"INSERT INTO {SQLITE_TABLE}(rowid, prompt) "
            f"SELECT id, {SQLITE_PROMPT.format(row='playground_generation')} "
            "FROM playground_generation"
        )


def drop_sqlite_index(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        for name in SQLITE_TRIGGERS:
            cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
        cursor.execute(f"DROP TABLE IF EXISTS {SQLITE_TABLE}")
