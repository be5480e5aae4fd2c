"""Hot-path lookups whose SQL is built once, not on every request.

Turning a queryset into SQL is most of what the ORM costs on a short API
request: for recordInfo's two lookups (the API key with its user, team and
credit account; the generation by task id) building the SQL took more CPU
than PostgreSQL took to answer (bench/README.md, "What limits it").

A PreparedQuery builds its queryset once per thread with marker values in
place of its parameters, compiles it, and remembers where the markers landed
among the SQL's parameters. Each call then only puts the values in, runs the
SQL and makes the instances the way Django's own ModelIterable does,
select_related included. The SQL still goes through Django's cursor, so
connection handling, query logging and the test tools see it as usual.

Only for querysets with str or int parameters (model instances, or a count),
used where the saving matters; everything else uses the ORM as it is.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable

from django.db import connections
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators

# Marker values: an int inside every integer column's range (Django 5 turns a
# lookup on an out-of-range integer into "no rows" without any SQL), and a
# string no request could send (NUL characters are refused at the door).
_INT_MARKER = -2_000_000_000
_STR_MARKER = "\x00prepared-parameter-{}\x00"


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


class PreparedQuery:
    """`build(**parameters)` returns the queryset; `kinds` names each parameter's type.

    BY_TASK = PreparedQuery(
        lambda task_id: Generation.objects.filter(task_id=task_id)[:1], task_id=str
    )
    generation = BY_TASK.first(task_id="gen_...")
    """

    def __init__(self, build: Callable[..., QuerySet], **kinds: type):
        if any(kind not in (str, int) for kind in kinds.values()):
            raise TypeError("PreparedQuery parameters are str or int")
        self.build = build
        self.kinds = kinds
        self._local = threading.local()

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
        if values.keys() != self.kinds.keys():
            raise TypeError(f"expected the parameters {sorted(self.kinds)}, got {sorted(values)}")
        params = list(compiled.params)
        for name, value in values.items():
            if type(value) is not self.kinds[name]:
                raise TypeError(f"{name} must be {self.kinds[name].__name__}, not {value!r}")
            for slot in compiled.slots[name]:
                params[slot] = value
        return params

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

    def _compiled(self) -> _Compiled:
        compiled = getattr(self._local, "compiled", None)
        if compiled is not None and compiled.connection is connections[compiled.connection.alias]:
            return compiled
        self._local.compiled = compiled = self._compile()
        return compiled

    def _compile(self) -> _Compiled:
        markers = {
            name: (_INT_MARKER + index if kind is int else _STR_MARKER.format(index))
            for index, (name, kind) in enumerate(self.kinds.items())
        }
        queryset = self.build(**markers)
        if queryset._prefetch_related_lookups or queryset._known_related_objects:
            raise TypeError("PreparedQuery does not handle prefetch_related or related managers")
        connection = connections[queryset.db]
        compiler = queryset.query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
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
