"""Hot-path lookups and inserts whose SQL is built once, not on every request.

Turning a queryset into SQL is most of what the ORM costs on a short API
request: for recordInfo's two lookups (the API key with its user, team and
credit account; the generation by task id) building the SQL took more CPU
than PostgreSQL took to answer (bench/README.md, "What was tried").

A PreparedQuery builds its queryset once per thread with marker values in
place of its parameters, compiles it, and remembers where the markers landed
among the SQL's parameters. Each call then only puts the values in, runs the
SQL and makes the instances the way Django's own ModelIterable does,
select_related included. The SQL still goes through Django's cursor, so
connection handling, query logging and the test tools see it as usual.

Only for querysets with str, int or Decimal parameters (model instances, or
a count), used where the saving matters; everything else uses the ORM as it
is.

A PreparedInsert does the same for `Model.objects.create()`: the INSERT's
SQL (with its RETURNING clause) is built once per thread, and each call only
converts the new row's values, as save() would, and runs it. A
PreparedUpdate does it for a guarded `queryset.update()`.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from decimal import Decimal

from django.db import connections, router
from django.db.models import Model
from django.db.models.query import get_related_populators
from django.db.models.sql import InsertQuery, UpdateQuery

# Marker values: an int inside every integer column's range (Django 5 turns a
# lookup on an out-of-range integer into "no rows" without any SQL), a
# string no request could send (NUL characters are refused at the door), and
# a Decimal no amount of credits has (they have two places).
_INT_MARKER = -2_000_000_000
_STR_MARKER = "\x00prepared-parameter-{}\x00"
_DECIMAL_MARKER = "-7777777.{:03d}0000000001"
KINDS = (str, int, Decimal)


def _markers(kinds: dict[str, type]) -> dict[str, object]:
    if any(kind not in KINDS for kind in kinds.values()):
        raise TypeError("prepared parameters are str, int or Decimal")
    makers = {
        int: lambda index: _INT_MARKER + index,
        str: _STR_MARKER.format,
        Decimal: lambda index: Decimal(_DECIMAL_MARKER.format(index)),
    }
    return {name: makers[kind](index) for index, (name, kind) in enumerate(kinds.items())}


def _slots(params, markers: dict[str, object]) -> dict[str, tuple[int, ...]]:
    """Where each marker landed among the compiled SQL's parameters."""
    slots = {
        name: tuple(
            position
            for position, param in enumerate(params)
            if type(param) is type(marker) and param == marker
        )
        for name, marker in markers.items()
    }
    missing = [name for name, positions in slots.items() if not positions]
    if missing:
        raise TypeError(f"the parameters {missing} do not reach the SQL as they are")
    return slots


def _filled(params: tuple, slots: dict, kinds: dict[str, type], values: dict) -> list:
    """The compiled parameters with each call's values in the markers' places."""
    if values.keys() != kinds.keys():
        raise TypeError(f"expected the parameters {sorted(kinds)}, got {sorted(values)}")
    filled = list(params)
    for name, value in values.items():
        if type(value) is not kinds[name]:
            raise TypeError(f"{name} must be {kinds[name].__name__}, not {value!r}")
        for slot in slots[name]:
            filled[slot] = value
    return filled


@dataclasses.dataclass(frozen=True)
class _Compiled:
    connection: object  # the thread's connection wrapper it was compiled for
    sql: str
    params: tuple
    slots: dict[str, tuple[int, ...]]
    model: type[Model] | None
    init_list: list[str]
    model_fields: slice
    converters: tuple
    related_populators: list
    annotations: dict[str, int]


class _BuiltOncePerThread:
    """`build(**parameters)` compiled with markers on first use in each thread,
    and again for a new connection; `kinds` names each parameter's type.

    Each thread has its own connection; one closed and opened again (a
    restart of the database, CONN_MAX_AGE) gets its SQL compiled anew.
    """

    def __init__(self, build: Callable, **kinds: type):
        _markers(kinds)  # refuses kinds it has no marker for
        self.build = build
        self.kinds = kinds
        self._local = threading.local()

    def _compiled(self):
        compiled = getattr(self._local, "compiled", None)
        if compiled is not None and compiled.connection is connections[compiled.connection.alias]:
            return compiled
        self._local.compiled = compiled = self._compile()
        return compiled


class PreparedQuery(_BuiltOncePerThread):
    """`build(**parameters)` returns the queryset; `kinds` names each parameter's type.

    BY_TASK = PreparedQuery(
        lambda task_id: Generation.objects.filter(task_id=task_id)[:1], task_id=str
    )
    generation = BY_TASK.first(task_id="gen_...")
    """

    def all(self, **values) -> list[Model]:
        compiled = self._compiled()
        return [self._instance(compiled, row) for row in self._rows(compiled, values)]

    def rows(self, **values) -> list[tuple]:
        """The rows as the database sent them, for instance() to turn into models.

        A row can be kept and turned into fresh instances again and again
        (accounts/keycache.py keeps the rows of authenticated keys).
        """
        return self._rows(self._compiled(), values)

    def instance(self, row: tuple) -> Model:
        """A new model instance (related ones included) from a row of rows()."""
        return self._instance(self._compiled(), row)

    def first(self, **values) -> Model | None:
        found = self.all(**values)
        return found[0] if found else None

    def count(self, *, up_to: int | None = None, **values) -> int:
        """How many rows the queryset has; with `up_to`, counting stops there.

        Build the queryset with .order_by() and .values("pk") for this: the
        database then counts index entries without sorting or reading rows.
        """
        compiled = self._compiled()
        sql, params = compiled.sql, self._params(compiled, values)
        if up_to is not None:
            sql, params = f"{sql} LIMIT %s", [*params, up_to]
        with compiled.connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM ({sql}) counted", params)
            return cursor.fetchone()[0]

    def _params(self, compiled: _Compiled, values: dict) -> list:
        return _filled(compiled.params, compiled.slots, self.kinds, values)

    def _rows(self, compiled: _Compiled, values: dict) -> list[tuple]:
        if compiled.model is None:
            raise TypeError("all(), first() and rows() need a queryset of model instances")
        with compiled.connection.cursor() as cursor:
            cursor.execute(compiled.sql, self._params(compiled, values))
            return cursor.fetchall()

    def _instance(self, compiled: _Compiled, row) -> Model:
        # What ModelIterable does for each row (django/db/models/query.py).
        connection = compiled.connection
        if compiled.converters:
            row = list(row)
            for position, (converters, expression) in compiled.converters:
                value = row[position]
                for converter in converters:
                    value = converter(value, expression, connection)
                row[position] = value
        instance = compiled.model.from_db(
            connection.alias, compiled.init_list, row[compiled.model_fields]
        )
        for populator in compiled.related_populators:
            populator.populate(row, instance)
        for name, position in compiled.annotations.items():
            setattr(instance, name, row[position])
        return instance

    def _compile(self) -> _Compiled:
        markers = _markers(self.kinds)
        queryset = self.build(**markers)
        if queryset._prefetch_related_lookups or queryset._known_related_objects:
            raise TypeError("PreparedQuery does not handle prefetch_related or related managers")
        connection = connections[queryset.db]
        compiler = queryset.query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        slots = _slots(params, markers)
        select, klass_info = compiler.select, compiler.klass_info
        fields = [column[0] for column in select[: compiler.col_count]]
        compiled = _Compiled(
            connection=connection,
            sql=sql,
            params=tuple(params),
            slots=slots,
            model=None,  # a values() queryset: count() only
            init_list=[],
            model_fields=slice(0),
            converters=tuple(compiler.get_converters(fields).items()),
            related_populators=[],
            annotations={},
        )
        if klass_info is None:
            return compiled
        first, last = klass_info["select_fields"][0], klass_info["select_fields"][-1]
        return dataclasses.replace(
            compiled,
            model=klass_info["model"],
            init_list=[column[0].target.attname for column in select[first : last + 1]],
            model_fields=slice(first, last + 1),
            related_populators=get_related_populators(klass_info, select, queryset.db),
            annotations=dict(compiler.annotation_col_map or {}),
        )


@dataclasses.dataclass(frozen=True)
class _CompiledInsert:
    connection: object
    sql: str
    fields: tuple
    returning_fields: tuple
    returning_params: tuple
    converters: dict


class PreparedInsert:
    """`create(**values)` as `model.objects.create(**values)` does it, the SQL built once.

    NEW_EVENT = PreparedInsert(GenerationEvent)
    event = NEW_EVENT.create(generation=generation, to_state="queuing")

    The difference: no pre_save or post_save signal is sent, so it is only
    for models nothing listens to. Values must be plain values, not
    expressions (F(), functions), whose SQL would differ from call to call.
    """

    def __init__(self, model: type[Model]):
        meta = model._meta
        if meta.order_with_respect_to or meta.parents:
            raise TypeError("PreparedInsert takes models without order_with_respect_to or parents")
        self.model = model
        self._local = threading.local()

    def create(self, **values) -> Model:
        instance = self.model(**values)
        instance._prepare_related_fields_for_save(operation_name="save")
        using = router.db_for_write(self.model, instance=instance)
        compiled = self._compiled(using)
        connection = compiled.connection
        params = []
        for field in compiled.fields:
            value = field.pre_save(instance, True)  # auto_now_add and the like
            if hasattr(value, "resolve_expression"):
                raise TypeError(f"{field.name}: PreparedInsert takes values, not expressions")
            params.append(field.get_db_prep_save(value, connection))
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            if compiled.returning_fields:
                row = connection.ops.fetch_returned_insert_columns(
                    cursor, compiled.returning_params
                )
                row = list(row)
                for position, (converters, expression) in compiled.converters.items():
                    for converter in converters:
                        row[position] = converter(row[position], expression, connection)
                for field, value in zip(compiled.returning_fields, row, strict=True):
                    setattr(instance, field.attname, value)
        instance._state.adding = False
        instance._state.db = using
        return instance

    def _compiled(self, using: str) -> _CompiledInsert:
        compiled = getattr(self._local, "compiled", None)
        if compiled is not None and compiled.connection is connections[using]:
            return compiled
        self._local.compiled = compiled = self._compile(using)
        return compiled

    def _compile(self, using: str) -> _CompiledInsert:
        # The fields and RETURNING columns Model.save() inserts a new row with
        # (Model._save_table), compiled for a blank instance: only the SQL is kept.
        meta = self.model._meta
        fields = tuple(
            field
            for field in meta.local_concrete_fields
            if not field.generated and field is not meta.auto_field
        )
        connection = connections[using]
        query = InsertQuery(self.model)
        query.insert_values(fields, [self.model()])
        compiler = query.get_compiler(connection=connection)
        compiler.returning_fields = meta.db_returning_fields
        ((sql, _),) = compiler.as_sql()
        returning_fields = tuple(meta.db_returning_fields)
        if returning_fields and not connection.features.can_return_columns_from_insert:
            raise TypeError("PreparedInsert needs a database that returns columns from INSERT")
        columns = [field.get_col(meta.db_table) for field in returning_fields]
        return _CompiledInsert(
            connection=connection,
            sql=sql,
            fields=fields,
            returning_fields=returning_fields,
            returning_params=tuple(compiler.returning_params),
            converters=compiler.get_converters(columns),
        )


@dataclasses.dataclass(frozen=True)
class _CompiledUpdate:
    connection: object
    sql: str
    params: tuple
    slots: dict[str, tuple[int, ...]]


class PreparedUpdate(_BuiltOncePerThread):
    """`queryset.update(**changes)` with the SQL built once; `update()` returns the row count.

    `build(**parameters)` returns the queryset and the changes:

    HOLD = PreparedUpdate(
        lambda pk, amount: (
            CreditAccount.objects.filter(pk=pk, balance__gte=F("held") + amount),
            {"held": F("held") + amount},
        ),
        pk=int, amount=Decimal,
    )
    updated = HOLD.update(pk=account.pk, amount=Decimal("55.00"))

    For updates of one table only: one that needs other tables (a join in the
    filter, a parent model's fields) is refused when it is first compiled.
    """

    def update(self, **values) -> int:
        compiled = self._compiled()
        params = _filled(compiled.params, compiled.slots, self.kinds, values)
        with compiled.connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            return cursor.rowcount

    def _compile(self) -> _CompiledUpdate:
        markers = _markers(self.kinds)
        queryset, changes = self.build(**markers)
        # What QuerySet.update() does, up to the SQL.
        query = queryset.query.chain(UpdateQuery)
        query.add_update_values(changes)
        query.annotations = {}
        connection = connections[queryset.db]
        compiler = query.get_compiler(connection=connection)
        query.get_initial_alias()
        if query.related_updates or query.count_active_tables() != 1:
            raise TypeError("PreparedUpdate takes updates of one table only")
        sql, params = compiler.as_sql()
        return _CompiledUpdate(
            connection=connection, sql=sql, params=tuple(params), slots=_slots(params, markers)
        )
