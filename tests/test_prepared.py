"""Queries and inserts compiled once (config/prepared.py) do what the ORM does."""

from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import F

from accounts import apikeys, ledger
from accounts.models import ApiKey, CreditAccount
from config.prepared import PreparedInsert, PreparedQuery, PreparedUpdate
from playground import services
from playground.api.common import GENERATION_BY_TASK_ID
from playground.models import Generation
from playground.services import UNFINISHED_BY_KEY

pytestmark = pytest.mark.django_db


def submit(user, prompt="A lighthouse in a storm", **extra):
    return services.submit(
        user=user, model="kling/v2-1", input={"prompt": prompt, "resolution": "480p"}, **extra
    )


def field_values(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.fields}


def test_an_instance_equals_the_orms_field_for_field(alice):
    generation = submit(alice, callback_url="https://example.com/hook")
    Generation.objects.filter(pk=generation.pk).update(
        progress=40, width=854, height=480, price_breakdown="per job = 55.00 credits"
    )
    expected = Generation.objects.get(pk=generation.pk)

    found = GENERATION_BY_TASK_ID.first(task_id=generation.task_id)

    assert field_values(found) == field_values(expected)
    assert found.input["prompt"] == "A lighthouse in a storm"  # JSON decoded
    assert found.created_at.tzinfo is not None  # aware, as the ORM's
    assert not found._state.adding  # a saved row: save() updates it


# Two parameters, one of each kind.
TEAM_GENERATION = PreparedQuery(
    lambda task_id, team_id: Generation.objects.filter(task_id=task_id, team_id=team_id)[:1],
    task_id=str,
    team_id=int,
)


def test_each_call_uses_its_own_parameters(alice, carol):
    mine, theirs = submit(alice, "first"), submit(carol, "second")
    team = alice.profile.team_id

    assert TEAM_GENERATION.first(task_id=mine.task_id, team_id=team).pk == mine.pk
    assert TEAM_GENERATION.first(task_id=theirs.task_id, team_id=team) is None  # other team
    assert (
        TEAM_GENERATION.first(task_id=theirs.task_id, team_id=carol.profile.team_id).pk == theirs.pk
    )
    assert TEAM_GENERATION.first(task_id="gen_missing", team_id=team) is None


def test_select_related_rows_come_in_the_same_query(alice, django_assert_num_queries):
    key, _ = apikeys.issue(alice, "laptop")
    with django_assert_num_queries(1):
        found = apikeys.KEY_BY_PREFIX.first(prefix=key.prefix)
        assert found.pk == key.pk
        assert found.user.username == "alice"
        assert found.user.profile.team_id == alice.profile.team_id
        assert found.user.credit_account.pk == alice.credit_account.pk


def test_what_moves_is_not_in_the_row_but_read_when_asked_for(alice):
    key, _ = apikeys.issue(alice, "laptop")
    [row] = apikeys.KEY_BY_PREFIX.rows(prefix=key.prefix)
    ledger.grant(alice.credit_account, Decimal("7"), note="after the row was read")

    account = apikeys.KEY_BY_PREFIX.instance(row).user.credit_account
    assert account.get_deferred_fields() == {"balance", "held"}
    assert account.balance == Decimal("507.00")  # 500 granted by the fixture, then 7


def test_count_stops_at_its_limit(alice):
    key, _ = apikeys.issue(alice)
    for n in range(3):
        submit(alice, f"take {n}", api_key=key)
    Generation.objects.filter(api_key=key).filter(input__prompt="take 0").update(
        state=Generation.SUCCESS
    )

    assert UNFINISHED_BY_KEY.count(api_key_id=key.pk) == 2
    assert UNFINISHED_BY_KEY.count(api_key_id=key.pk, up_to=1) == 1
    assert UNFINISHED_BY_KEY.count(api_key_id=key.pk + 1000) == 0


def test_a_query_without_parameters(alice):
    query = PreparedQuery(lambda: ApiKey.objects.order_by("pk"))
    first, _ = apikeys.issue(alice, "one")
    second, _ = apikeys.issue(alice, "two")
    assert [key.pk for key in query.all()] == [first.pk, second.pk]


def test_wrong_parameters_are_refused_before_any_sql(alice, django_assert_num_queries):
    team = alice.profile.team_id
    with django_assert_num_queries(0):
        with pytest.raises(TypeError, match="team_id must be int"):
            TEAM_GENERATION.first(task_id="gen_x", team_id=str(team))
        with pytest.raises(TypeError, match="expected the parameters"):
            TEAM_GENERATION.first(task_id="gen_x")
    with pytest.raises(TypeError, match="str, int or Decimal"):
        PreparedQuery(lambda when: Generation.objects.filter(created_at=when), when=object)


def test_a_parameter_that_does_not_reach_the_sql_is_an_error():
    # The marker is transformed on its way into the SQL, so no value could be put in.
    query = PreparedQuery(
        lambda prompt: Generation.objects.filter(task_id=prompt.upper()), prompt=str
    )
    with pytest.raises(TypeError, match="do not reach the SQL"):
        query.first(prompt="x")


# PreparedInsert: the row written is the row objects.create() writes.

NEW_GENERATION = PreparedInsert(Generation)


def generation_fields(user) -> dict:
    return {
        "owner": user,
        "team_id": user.profile.team_id,
        "model_id": "kling/v2-1",
        "input": {"prompt": "A lighthouse", "duration": 5},
        "request": {"model": "kling/v2-1", "input": {"prompt": "A lighthouse"}},
        "quoted_credits": Decimal("55.00"),
        "price_breakdown": "per job = 55.00 credits",
        "state": Generation.QUEUING,
    }


def test_an_insert_writes_the_row_the_orm_writes(alice):
    by_orm = Generation.objects.create(**generation_fields(alice))
    prepared = NEW_GENERATION.create(**generation_fields(alice))

    assert prepared.pk is not None and prepared.pk != by_orm.pk
    assert not prepared._state.adding  # a saved row: save() updates it
    assert prepared.created_at is not None  # auto_now_add, as save() sets it
    stored = Generation.objects.get(pk=prepared.pk)
    assert field_values(stored) == field_values(prepared)
    ignored = {"id", "task_id", "created_at", "updated_at"}  # each row its own
    assert {k: v for k, v in field_values(stored).items() if k not in ignored} == {
        k: v
        for k, v in field_values(Generation.objects.get(pk=by_orm.pk)).items()
        if k not in ignored
    }
    assert stored.input == {"prompt": "A lighthouse", "duration": 5}  # JSON stored as JSON


def test_an_insert_refuses_expressions_and_unsaved_relations(alice):
    with pytest.raises(TypeError, match="expressions"):
        NEW_GENERATION.create(**{**generation_fields(alice), "progress": F("progress") + 1})
    with pytest.raises(ValueError, match="unsaved"):
        NEW_GENERATION.create(**{**generation_fields(alice), "remixed_from": Generation()})
    assert not Generation.objects.exists()


def test_an_insert_runs_inside_the_callers_transaction(alice):
    with pytest.raises(RuntimeError), transaction.atomic():
        NEW_GENERATION.create(**generation_fields(alice))
        raise RuntimeError("roll back")
    assert not Generation.objects.exists()


# PreparedUpdate: a guarded update, as queryset.update() does it.

RAISE_HELD = ledger.RAISE_HELD  # the hold's guard: held rises while balance covers it


def test_an_update_changes_the_row_when_its_condition_holds_and_counts_it(alice, bob):
    account = CreditAccount.objects.get(user=alice)
    account.balance, account.held = Decimal("100.00"), Decimal("20.00")
    account.save()
    others = CreditAccount.objects.exclude(pk=account.pk)
    before = list(others.values_list("pk", "balance", "held"))

    assert RAISE_HELD.update(pk=account.pk, amount=Decimal("30.50")) == 1
    assert RAISE_HELD.update(pk=account.pk, amount=Decimal("49.50")) == 1  # exactly all
    assert RAISE_HELD.update(pk=account.pk, amount=Decimal("0.01")) == 0  # would overspend
    account.refresh_from_db()
    assert (account.balance, account.held) == (Decimal("100.00"), Decimal("100.00"))
    assert list(others.values_list("pk", "balance", "held")) == before  # only that row


def test_an_update_refuses_wrong_values_and_other_tables(alice, django_assert_num_queries):
    account = CreditAccount.objects.get(user=alice)
    with django_assert_num_queries(0):
        with pytest.raises(TypeError, match="amount must be Decimal"):
            RAISE_HELD.update(pk=account.pk, amount=30.5)
    joined = PreparedUpdate(
        lambda name: (CreditAccount.objects.filter(user__username=name), {"held": 0}), name=str
    )
    with pytest.raises(TypeError, match="one table"):
        joined.update(name="alice")
