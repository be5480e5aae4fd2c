"""Prompt search (playground/search.py): the rows icontains finds, from an index.

These run on the database of the run: SQLite's FTS5 table by default, the
trigram index with DATABASE_URL on PostgreSQL.
"""

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection

from playground import search
from playground.models import Generation

BEFORE = [("playground", "0016_usage_rollup_fill")]
SQLITE_ONLY = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's FTS5 table")
POSTGRES_ONLY = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's index")

PROMPTS = (
    "A Paper Boat drifting down a rainy street",
    "paperboy on a bicycle, 35mm",
    "100% natural: a fox_cub in the snow",
    'The sign reads "OPEN" in red neon',
    "it's a back\\slash story",
    "一只小猫在屋顶上睡觉",
    "Rocket launch 🚀 at dusk",
    "",
)


def make(owner, prompt: str | None) -> Generation:
    """A generation whose input has `prompt` (none at all when None)."""
    return Generation.objects.create(
        owner=owner,
        team_id=owner.profile.team_id,
        model_id="kling/v2-1",
        input={} if prompt is None else {"prompt": prompt, "duration": 5},
        quoted_credits=Decimal("55.00"),
    )


def found(text: str) -> set[int]:
    return set(search.matching(Generation.objects.all(), text).values_list("pk", flat=True))


def by_icontains(text: str) -> set[int]:
    return set(
        Generation.objects.filter(input__prompt__icontains=text).values_list("pk", flat=True)
    )


@pytest.fixture
def rows(alice):
    return [make(alice, prompt) for prompt in PROMPTS] + [make(alice, None)]


@pytest.mark.parametrize(
    "text",
    [
        "paper",
        "PAPER B",
        "r boat drift",
        "rainy street",
        "100%",
        "fox_cub",
        "% n",
        '"OPEN"',
        'reads "',
        "it's",
        "k\\sl",
        "小猫在",
        "🚀 at",
        "nothing like it",
        "a",  # shorter than a trigram: icontains
        "AP",
        "%",
        "_",
    ],
)
def test_it_finds_the_rows_icontains_finds(rows, text):
    assert found(text) == by_icontains(text)


def test_it_finds_a_substring_anywhere_in_any_case(rows):
    boat, paperboy = rows[0], rows[1]
    assert found("PAPER") == {boat.pk, paperboy.pk}
    assert found("aPeR bOaT dR") == {boat.pk}
    assert found("street") == {boat.pk}
    assert found("zebra") == set()


def test_short_texts_are_found_too(rows):
    boat, paperboy, fox = rows[0], rows[1], rows[2]
    assert found("Bo") == {boat.pk, paperboy.pk}
    assert found("x_") == {fox.pk}
    assert found("小猫") == {rows[5].pk}


def test_a_double_quote_is_text_not_query_syntax(rows):
    sign = rows[3]
    assert found('"OPEN" in') == {sign.pk}
    assert found('" OR "') == set()
    assert found("OPEN AND neon") == set()  # words are not operators either


def test_it_folds_the_case_of_other_alphabets_and_keeps_accents(alice):
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT upper('é') = 'É'")
            if not cursor.fetchone()[0]:
                pytest.skip("this PostgreSQL database's LC_CTYPE folds ASCII letters only")
    painting = make(alice, "Ölgemälde eines CAFÉS am Meer")
    greek = make(alice, "ΣΕΛΗΝΗ πάνω από τη θάλασσα")
    russian = make(alice, "Москва ночью")
    assert found("ölgemälde") == {painting.pk}
    assert found("café") == {painting.pk}
    assert found("σελήνη") == set()  # an accent the prompt lacks
    assert found("σεληνη") == {greek.pk}
    assert found("МОСКВА") == {russian.pk}
    # Accents are kept: the plain letters find nothing.
    assert found("olgemalde") == set()
    assert found("cafe") == set()


def test_it_respects_the_queryset_it_is_given(alice, carol):
    ours = make(alice, "a lighthouse in a storm")
    make(carol, "a lighthouse at noon")
    team = Generation.objects.filter(team_id=alice.profile.team_id)
    assert list(search.matching(team, "lighthouse")) == [ours]
    assert list(search.matching(team, "li")) == [ours]


def test_it_follows_a_changed_prompt(alice):
    row = make(alice, "a red fox at dawn")
    Generation.objects.filter(pk=row.pk).update(input={"prompt": "a grey wolf at dusk"})
    assert found("red fox") == set()
    assert found("grey wolf") == {row.pk}
    # A save of the whole row, with the prompt as it was, leaves it found.
    row.refresh_from_db()
    row.state = Generation.SUCCESS
    row.save()
    assert found("grey wolf") == {row.pk}
    Generation.objects.filter(pk=row.pk).update(input={"duration": 5})
    assert found("grey wolf") == set()
    Generation.objects.filter(pk=row.pk).update(input={"prompt": "a red fox again"})
    assert found("red fox") == {row.pk}


def fts_rowids(text: str) -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT rowid FROM {search.SQLITE_TABLE} WHERE {search.SQLITE_TABLE} MATCH %s",
            [f'"{text}"'],
        )
        return {rowid for (rowid,) in cursor.fetchall()}


@SQLITE_ONLY
def test_a_deleted_generation_leaves_the_sqlite_index(alice):
    gone, kept = make(alice, "a glass jellyfish"), make(alice, "a glass jellyfish, again")
    assert fts_rowids("glass jelly") == {gone.pk, kept.pk}
    Generation.objects.filter(pk=gone.pk).delete()
    assert fts_rowids("glass jelly") == {kept.pk}


@SQLITE_ONLY
def test_a_bulk_insert_is_indexed_by_the_triggers(alice):
    rows = Generation.objects.bulk_create(
        Generation(
            owner=alice,
            team_id=alice.profile.team_id,
            model_id="kling/v2-1",
            input={"prompt": f"hot air balloon number {n}"},
            quoted_credits=Decimal("1.00"),
        )
        for n in range(50)
    )
    assert fts_rowids("balloon") == {row.pk for row in rows}


@POSTGRES_ONLY
def test_postgres_answers_the_search_from_the_trigram_index(alice):
    for n in range(20):
        make(alice, f"a paper boat number {n}")
    sql, params = search.matching(Generation.objects.all(), "boat").query.sql_with_params()
    with connection.cursor() as cursor:
        # A handful of rows: a scan would be cheaper, so forbid it to see
        # whether the index can serve Django's LIKE expression at all.
        cursor.execute("SET enable_seqscan = off")
        try:
            cursor.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("RESET enable_seqscan")
    assert "gen_prompt_trgm" in plan, plan


def test_the_migration_indexes_the_generations_made_before_it(migrated_back, alice):
    OldGeneration = migrated_back.get_model("playground", "Generation")
    old = OldGeneration.objects.create(
        owner_id=alice.pk,
        team_id=alice.profile.team_id,
        model_id="kling/v2-1",
        input={"prompt": "A monarch butterfly on a thistle"},
        quoted_credits="1.00",
    )
    if connection.vendor == "sqlite":
        assert not search.sqlite_index_exists(connection)

    call_command("migrate", verbosity=0)

    assert found("BUTTERFLY on") == {old.pk}
    if connection.vendor == "sqlite":
        assert fts_rowids("butterfly") == {old.pk}
    else:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = 'gen_prompt_trgm'")
            assert cursor.fetchone() is not None


@SQLITE_ONLY
def test_migrating_back_removes_the_sqlite_index(migrated_back):
    assert not search.sqlite_index_exists(connection)
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE name LIKE 'gen_prompt_fts%'")
        assert cursor.fetchall() == []


@SQLITE_ONLY
def test_the_triggers_come_back_after_a_migration_rebuilds_the_table(transactional_db, alice):
    before = make(alice, "a desert caravan at noon")
    old_field = Generation._meta.get_field("model_name")
    new_field = Generation._meta.get_field("model_name").clone()
    new_field.max_length = 101
    new_field.set_attributes_from_name("model_name")
    new_field.model = Generation
    # Django rebuilds a SQLite table to alter a column: a copy, then DROP
    # TABLE of the old one, whose triggers go with it.
    with connection.schema_editor() as editor:
        editor.alter_field(Generation, old_field, new_field)
    assert search.missing_sqlite_triggers(connection) == set(search.SQLITE_TRIGGERS)
    unindexed = make(alice, "a desert fox cub")
    assert fts_rowids("desert") == {before.pk}
    with connection.schema_editor() as editor:
        editor.alter_field(Generation, new_field, old_field)

    call_command("migrate", verbosity=0)

    assert search.missing_sqlite_triggers(connection) == set()
    assert found("DESERT") == {before.pk, unindexed.pk}
    after = make(alice, "a desert at night")
    assert found("desert") == {before.pk, unindexed.pk, after.pk}
