"""Hot read queries built and compiled once per process, then re-run with new values.

Building and compiling a queryset is pure Python and costs more than running it
on the hot paths of the MLflow API: on the 2-CPU VM, 1.3 ms for a one-table
filter and ~9 ms for a version read with its team restriction, aliases and
stages, against ~1 ms of SQL. The ORM still writes the query, so restrictions
come from the same ``restrict`` code as every other read; only the compiled SQL
and its parameter list are kept.

How the values get in: the queryset is built once with *placeholder* values of
the right type that no constant of the query will equal (integers near 2**31,
strings holding NUL characters), compiled, and the positions of the placeholders in the
parameter list are remembered. A placeholder that does not come out of the
compiler unchanged (a lookup that rewrites its value, such as ``contains``)
makes that query fall back to being built on every call: slower, never wrong.

Anything inlined into the SQL by Django rather than passed as a parameter
(LIMIT/OFFSET, the number of items in an ``IN`` list) must be part of the key.
"""

from __future__ import annotations

import functools
import hashlib
import re
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from itertools import count

from django.conf import settings
from django.core.exceptions import EmptyResultSet, ImproperlyConfigured
from django.db import DatabaseError, connections, router, transaction
from django.db.models import Model, QuerySet
from django.db.models.query import ValuesIterable, ValuesListIterable
from django.db.models.signals import post_save, pre_save

# Just under 2**31 and counting down: inside every integer column's range (Django
# turns an out-of-range lookup into an empty result) yet far above real ids,
# version numbers and limits, so it cannot be mistaken for a constant parameter.
_int_placeholders = count(2_147_483_000, -1)
_CACHE_SIZE = 512


def int_placeholder() -> int:
    """An integer no constant of a compiled query will equal."""
    return next(_int_placeholders)


def str_placeholder(name: str) -> str:
    """A string no client can send (request values never hold NUL)."""
    return f"\x00modelgate-placeholder:{name}\x00"


class PreparedQuery:
    """A ``.values()`` queryset compiled once; ``run(**values)`` returns row dicts."""

    def __init__(self, build: Callable[..., QuerySet], placeholders: dict[str, object]):
        self.build = build
        self.fallback = False
        queryset = build(**placeholders)
        if queryset._iterable_class not in (ValuesIterable, ValuesListIterable):
            raise ImproperlyConfigured("PreparedQuery needs a .values() or .values_list() queryset.")
        self.as_tuples = queryset._iterable_class is ValuesListIterable
        self.using = queryset.db
        query = queryset.query
        self.compiler = query.get_compiler(using=self.using)
        try:
            self.sql, params = self.compiler.as_sql()
        except EmptyResultSet:  # e.g. an empty IN list: let Django answer it per call
            self.sql, params, self.fallback = None, (), True
        self.params = list(params)
        self.names = [*query.extra_select, *query.values_select, *query.annotation_select]
        fields = [column for column, _, _ in self.compiler.select[: self.compiler.col_count]]
        self.converters = self.compiler.get_converters(fields)
        self.positions: dict[str, list[int]] = {}
        for name, placeholder in placeholders.items():
            found = [i for i, p in enumerate(self.params) if type(p) is type(placeholder) and p == placeholder]
            if not found and not self.fallback:
                # A lookup rewrote the value (SQLite's iexact escapes it, for one): this
                # query cannot be re-run with new values, so it is built per call instead.
                self.fallback = True
            self.positions[name] = found
        self.statement = None
        if self.sql is not None and not self.fallback and connections[self.using].vendor == "postgresql":
            self.statement = Statement(self.sql)

    def run(self, **values) -> list:
        if self.fallback:
            return list(self.build(**values))
        params = list(self.params)
        for name, positions in self.positions.items():
            for position in positions:
                params[position] = values[name]
        connection = connections[self.using]
        if self.statement is not None:
            rows = self.statement.fetchall(connection, params)
        else:
            with connection.cursor() as cursor:
                cursor.execute(self.sql, params)
                rows = cursor.fetchall()
        if self.converters:
            rows = self.compiler.apply_converters(rows, self.converters)
        if self.as_tuples:
            return [tuple(row) for row in rows]
        return [dict(zip(self.names, row, strict=True)) for row in rows]


_PARAM = re.compile(r"%([%s])")


def _numbered(sql: str) -> str:
    """Django's ``%s`` parameters as PostgreSQL's ``$1, $2…`` (and ``%%`` back to ``%``)."""
    numbers = count(1)
    return _PARAM.sub(lambda m: "%" if m.group(1) == "%" else f"${next(numbers)}", sql)


# Statements PREPAREd on each open PostgreSQL connection (keyed by the driver's
# connection object, so a reconnect starts afresh). PostgreSQL plans a prepared
# statement a few times, then reuses a generic plan: the ~2 ms of planning the
# restricted reads cost on every request is paid once per connection.
_prepared_on: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class Statement:
    """A PostgreSQL statement (Django's ``%s`` parameters) PREPAREd once per
    connection: the SQL of a compiled query above, or hand-written for the few
    writes whose ORM form costs several round trips (the audit append)."""

    def __init__(self, sql: str):
        self.sql = sql
        self.name = "mg_" + hashlib.sha256(sql.encode()).hexdigest()[:20]
        self.prepare_sql = f"PREPARE {self.name} AS {_numbered(sql)}"
        parameter_count = len([m for m in _PARAM.finditer(sql) if m.group(1) == "s"])
        self.execute_sql = f"EXECUTE {self.name}" + (f"({', '.join(['%s'] * parameter_count)})" if parameter_count else "")

    def fetchall(self, connection, params: list) -> list[tuple]:
        with connection.cursor() as cursor:
            if settings.DB_SERVER_SIDE_PREPARE:
                self._ensure_prepared(connection, cursor)
                cursor.execute(self.execute_sql, params)
            else:
                cursor.execute(self.sql, params)
            return cursor.fetchall()

    def defer(self, connection, params: list) -> bool:
        """Hand the statement to the connection to send with the transaction's next
        statement (``DatabaseWrapper.defer``); False where it cannot be deferred."""
        if not (hasattr(connection, "can_defer") and connection.can_defer()):
            return False
        if not settings.DB_SERVER_SIDE_PREPARE:
            return connection.defer(self.sql, params)
        with connection.cursor() as cursor:
            self._ensure_prepared(connection, cursor)  # at once, once per connection
        return connection.defer(self.execute_sql, params)

    def _ensure_prepared(self, connection, cursor) -> None:
        raw = connection.connection
        names = _prepared_on.get(raw)
        if names is None:
            names = _prepared_on[raw] = set()
        if self.name not in names:
            cursor.execute(self.prepare_sql)
            names.add(self.name)


_cache: OrderedDict[tuple, PreparedQuery] = OrderedDict()
_lock = threading.Lock()


def prepared(key: tuple, build: Callable[..., QuerySet], **placeholders) -> PreparedQuery:
    """The compiled query for ``key`` (built on first use; least recently used evicted)."""
    with _lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found
    query = PreparedQuery(build, placeholders)
    with _lock:
        _cache[key] = query
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return query


def clear_cache(**kwargs) -> None:
    """Compiled SQL holds ids of rows a flush re-creates (permissions): post_migrate clears it."""
    with _lock:
        _cache.clear()


# --- single-row writes -------------------------------------------------------------
#
# ``Model.save()`` compiles its INSERT or UPDATE on every call: on the MLflow write
# path that was a fifth of the worker's CPU. These compile the statement once per
# model and field set, PREPARE it on PostgreSQL, and send the same signals as
# ``save()``. Other databases (the embedded SQLite demo) go through ``save()``.


def _writes_prepared(connection, model) -> bool:
    # A model with its own save() keeps it: these would skip whatever it does.
    return connection.vendor == "postgresql" and not model._meta.parents and model.save is Model.save


@functools.cache
def _insert_statement(model, then: str) -> tuple[list, Statement]:
    meta = model._meta
    fields = [f for f in meta.local_concrete_fields if not f.generated and f is not meta.auto_field]
    qn = connections["default"].ops.quote_name
    pk = qn(meta.pk.column)
    sql = (
        f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "  # noqa: S608 (names from the model)
        f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING {pk}"
    )
    if then:  # ``inserted`` offers the whole new row to ``then``
        sql = sql.removesuffix(f"RETURNING {pk}") + "RETURNING *"
        sql = f"WITH inserted AS ({sql}), followed AS ({then}) SELECT {pk} FROM inserted"  # noqa: S608 (the caller's SQL text)
    return fields, Statement(sql)


def insert_row(obj, *, then: str = "", then_params: list | tuple = ()) -> bool:
    """``obj.save(force_insert=True)``, from a statement compiled once per model.

    ``then``: an INSERT or UPDATE of another table, run in the same statement on
    PostgreSQL, that reads the new row as ``inserted`` (e.g. ``inserted.id``),
    with its own parameters; it sends no signals. Returns whether it ran:
    elsewhere the caller writes those rows itself.
    """
    model = type(obj)
    connection = connections[router.db_for_write(model, instance=obj)]
    if not _writes_prepared(connection, model) or obj.pk is not None:
        obj.save(force_insert=True)
        return False
    using = connection.alias
    pre_save.send(sender=model, instance=obj, raw=False, using=using, update_fields=None)
    fields, statement = _insert_statement(model, then)
    with transaction.mark_for_rollback_on_error(using):
        params = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
        (pk,), = statement.fetchall(connection, [*params, *then_params])
    obj.pk = pk
    obj._state.adding, obj._state.db = False, using
    post_save.send(sender=model, instance=obj, created=True, update_fields=None, raw=False, using=using)
    return bool(then)


@functools.cache
def _update_statement(model, names: tuple[str, ...]) -> tuple[list, Statement]:
    meta = model._meta
    fields = [meta.get_field(name) for name in names]
    qn = connections["default"].ops.quote_name
    return fields, Statement(
        f"UPDATE {qn(meta.db_table)} SET {', '.join(f'{qn(f.column)} = %s' for f in fields)} "  # noqa: S608 (names from the model)
        f"WHERE {qn(meta.pk.column)} = %s RETURNING 1"
    )


def update_row(obj, update_fields: tuple[str, ...]) -> None:
    """``obj.save(update_fields=...)``, from a statement compiled once per model and field set."""
    model = type(obj)
    connection = connections[router.db_for_write(model, instance=obj)]
    if not _writes_prepared(connection, model):
        obj.save(update_fields=update_fields)
        return
    using = connection.alias
    pre_save.send(sender=model, instance=obj, raw=False, using=using, update_fields=frozenset(update_fields))
    fields, statement = _update_statement(model, tuple(update_fields))
    with transaction.mark_for_rollback_on_error(using):
        params = [f.get_db_prep_save(f.pre_save(obj, False), connection) for f in fields]
        params.append(model._meta.pk.get_db_prep_value(obj.pk, connection))
        if not statement.fetchall(connection, params):
            raise DatabaseError("Save with update_fields did not affect any rows.")
    post_save.send(sender=model, instance=obj, created=False, update_fields=frozenset(update_fields), raw=False, using=using)


@functools.cache
def attnames(model) -> tuple[str, ...]:
    return tuple(f.attname for f in model._meta.concrete_fields)


def instance(model, row: dict, prefix: str = ""):
    """A model object from a prepared query's row dict (its concrete fields, each
    under ``prefix + attname``), as the ORM would have built it."""
    names = attnames(model)
    return model.from_db("default", names, [row[prefix + name] for name in names])
