"""Bulk inserts for the drainer's batches: one COPY per table on PostgreSQL, a multi-row INSERT
elsewhere; and `BackgroundCopy`, which sends a batch's chunks on a thread of their own while the
drainer decides the next.

COPY writes a batch of bookings and their lines several times faster than multi-row INSERT
statements. The rows go in COPY's binary format: PostgreSQL then parses no text, and parsing was
much of what a row cost it, a time with its zone above all (some 2 µs each, and a booking has
three to five: docs/seating.md, "What an assignment row costs"; docs/benchmarks.md). Each column's
values go through one conversion chosen once from the column's type (`_binary_converter`: ids,
times with their zone, text, integers, booleans, JSON: every type the drainer's tables have; any
other is refused when the statement is made), and a column whose values repeat through the batch
(the event, the decision time, a status, a ticket type) converts each distinct value once.
Everything runs inside the caller's transaction, so the batch still commits or rolls back as
one. COPY goes around SQLAlchemy, so its errors are raised as SQLAlchemy's, like those of any
other statement: the drainer tells a bad row (`IntegrityError`, `DataError`) from a lost
connection by them.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import itertools
import json
import queue
import struct
import sys
import threading
import uuid
from collections.abc import Callable, Sequence

from psycopg2.extensions import encodings as python_encodings
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    DateTime,
    Integer,
    String,
    Table,
    TypeDecorator,
    Uuid,
    exc,
    insert,
)


def insert_rows(connection: Connection, tables: list[tuple[Table, list[dict]]]) -> None:
    """Insert each table's rows (dicts with the same keys, in the same order) in one statement,
    table after table, in the order given (a row's references before it)."""
    if connection.dialect.name != "postgresql":
        for table, rows in tables:
            if rows:
                connection.execute(insert(table), rows)
        return
    dbapi_connection = connection.connection.dbapi_connection
    for statement, data in _copy_statements(tables, dbapi_connection):
        _copy(dbapi_connection, connection.dialect, statement, data)


def _copy_statements(tables: list[tuple[Table, list[dict]]], dbapi_connection) -> list[tuple[str, bytes]]:
    """Each table's COPY statement and its data, for the tables that have rows (PostgreSQL); text
    in the connection's client encoding, as PostgreSQL reads a binary COPY's text."""
    encoding = python_encodings[dbapi_connection.encoding]
    statements = []
    for table, rows in tables:
        if not rows:
            continue
        columns = [table.c[name] for name in rows[0]]
        names = ", ".join(f'"{column.name}"' for column in columns)
        statements.append(
            (
                f'COPY "{table.name}" ({names}) FROM STDIN (FORMAT binary)',
                copy_binary(columns, rows, encoding),
            )
        )
    return statements


def _copy(dbapi_connection, dialect, statement: str, data: bytes) -> None:
    buffer = io.BytesIO(data)
    with dbapi_connection.cursor() as cursor:
        try:
            # The whole buffer in one read: psycopg2 hands it to libpq at once, and holds the
            # GIL for that read only (a thread copying in the background needs it once).
            cursor.copy_expert(statement, buffer, size=max(len(data), 8192))
        except dialect.loaded_dbapi.Error as error:
            raise exc.DBAPIError.instance(
                statement, None, error, dialect.loaded_dbapi.Error, dialect=dialect,
                connection_invalidated=dialect.is_disconnect(error, dbapi_connection, cursor),
            ) from error  # fmt: skip


class BackgroundCopy:
    """Chunks of rows inserted on a thread of their own while the caller goes on, in the
    caller's transaction: PostgreSQL stores one chunk of a batch while the drainer decides the
    next (docs/architecture.md, "How a booking is decided"). The server's work and the drainer's
    overlap because psycopg2 lets go of the GIL while it waits for the server.

    Used as a context manager around the work that makes the chunks: leaving it waits for every
    chunk and raises the first error a chunk met (as SQLAlchemy's, like `insert_rows`); a chunk
    sent after an error raises it at once. The caller must not use the connection meanwhile.
    With `in_background` false (a batch of one chunk, which has nothing to overlap with: no
    thread to start), and elsewhere than on PostgreSQL, each chunk is inserted on the spot.

    Each statement's answer wakes the copying thread, which needs the GIL for a moment before
    it sends the next: while a copy runs, the process's switch interval is shortened from
    CPython's 5 ms to `SWITCH_INTERVAL`, or the server would sit idle for most of those 5 ms
    while the caller's thread decides (measured in docs/benchmarks.md)."""

    _DONE = object()
    SWITCH_INTERVAL = 0.0002
    # Copies under way in this process, and the switch interval from before the first of them:
    # the last to end puts it back, whichever thread ran which.
    _running = 0
    _usual_interval = 0.0
    _running_lock = threading.Lock()

    def __init__(self, connection: Connection, in_background: bool = True):
        self._connection = connection
        # Whether chunks are copied on the thread (else each is inserted as it is sent).
        self.in_background = in_background and connection.dialect.name == "postgresql"
        # Looked up here: the copying thread touches psycopg2's connection, not SQLAlchemy's.
        self._dbapi_connection = connection.connection.dbapi_connection
        self._chunks: queue.SimpleQueue = queue.SimpleQueue()
        self._error: BaseException | None = None
        self._abandoned = False
        self._thread = threading.Thread(target=self._run, name="background-copy", daemon=True)

    def __enter__(self) -> BackgroundCopy:
        if self.in_background:
            cls = BackgroundCopy
            with cls._running_lock:
                if cls._running == 0:
                    cls._usual_interval = sys.getswitchinterval()
                    sys.setswitchinterval(min(cls._usual_interval, cls.SWITCH_INTERVAL))
                cls._running += 1
            self._thread.start()
        return self

    def send(self, tables: list[tuple[Table, list[dict]]]) -> None:
        """Insert these tables' rows (as `insert_rows`), after every chunk sent before."""
        if self._error is not None:
            raise self._error
        if not self.in_background:
            insert_rows(self._connection, tables)
        elif any(rows for _, rows in tables):
            self._chunks.put(_copy_statements(tables, self._dbapi_connection))

    def _run(self) -> None:
        while (statements := self._chunks.get()) is not self._DONE:
            if self._error is not None or self._abandoned:
                continue  # the transaction is lost: the rest is not sent
            try:
                for statement, data in statements:
                    _copy(self._dbapi_connection, self._connection.dialect, statement, data)
            except BaseException as error:  # handed to the caller's thread, which raises it
                self._error = error

    def __exit__(self, kind, *_) -> None:
        self._abandoned = kind is not None  # the caller failed: its transaction will roll back
        if self.in_background:
            self._chunks.put(self._DONE)
            self._thread.join()
            cls = BackgroundCopy
            with cls._running_lock:
                cls._running -= 1
                if cls._running == 0:
                    sys.setswitchinterval(cls._usual_interval)
        if kind is None and self._error is not None:
            raise self._error


def copy_binary(columns: Sequence[Column], rows: list[dict], encoding: str) -> bytes:
    """The rows in COPY's binary format, the columns in the order given, text in `encoding`."""
    fields = [
        _column_values(_binary_converter(column, encoding), [row[column.name] for row in rows])
        for column in columns
    ]
    count = len(columns).to_bytes(2, "big")
    body = b"".join(map(b"".join, zip(itertools.repeat(count, len(rows)), *fields, strict=False)))
    return _BINARY_HEADER + body + _BINARY_TRAILER


def _column_values(convert: Callable[[object], bytes], values: list) -> list:
    # The values that repeat are the same objects (one `now`, one event id, one status), so
    # identity finds them without hashing: while `values` holds them, no two share an id.
    distinct = dict(zip(map(id, values), values, strict=True))
    if len(distinct) > len(values) // 2:
        return list(map(convert, values))
    converted = {key: convert(value) for key, value in distinct.items()}
    return list(map(converted.__getitem__, map(id, values)))


# COPY's binary format: the signature, no flags and no header extension; each row its number of
# fields, then each field its length and its bytes (-1: NULL); -1 as the number of fields ends it.
_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
_BINARY_TRAILER = (-1).to_bytes(2, "big", signed=True)
_BINARY_NULL = (-1).to_bytes(4, "big", signed=True)
# PostgreSQL's times are microseconds since its epoch.
_PG_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)
# An integer field: its length, then the value in as many bytes, by the column's type.
_INTEGERS = {BigInteger: struct.Struct(">iq"), Integer: struct.Struct(">ii")}
_BOOLEANS = {True: b"\x00\x00\x00\x01\x01", False: b"\x00\x00\x00\x01\x00"}


def _binary_uuid(value: uuid.UUID) -> bytes:
    return b"\x00\x00\x00\x10" + value.bytes


def _binary_timestamp(value: dt.datetime) -> bytes:
    if value.tzinfo is None:
        raise ValueError("naive datetime in a bulk insert")
    return b"\x00\x00\x00\x08" + ((value - _PG_EPOCH) // _MICROSECOND).to_bytes(8, "big", signed=True)


def _binary_text(encoding: str) -> Callable[[str], bytes]:
    def convert(value: str) -> bytes:
        data = value.encode(encoding)
        return len(data).to_bytes(4, "big") + data

    return convert


def _binary_converter(column: Column, encoding: str) -> Callable[[object], bytes]:
    """How a column's value is written in COPY's binary format, by the column's type; a type
    without one here is refused (`TypeError`), before anything is sent."""
    sql_type = column.type
    if isinstance(sql_type, TypeDecorator):  # `UTCDateTime`: what it stores is its `impl`'s
        sql_type = sql_type.impl_instance
    if isinstance(sql_type, Uuid):
        convert = _binary_uuid
    elif isinstance(sql_type, DateTime) and sql_type.timezone:
        convert = _binary_timestamp
    elif isinstance(sql_type, Boolean):
        convert = _BOOLEANS.__getitem__
    elif isinstance(sql_type, Integer):
        integer = next(form for kind, form in _INTEGERS.items() if isinstance(sql_type, kind))
        convert = functools.partial(integer.pack, integer.size - 4)
    elif isinstance(sql_type, JSON):  # `json`'s binary form is its text (`jsonb` would need a version byte)
        text = _binary_text(encoding)
        convert = lambda value: text(json.dumps(value))  # noqa: E731 - as SQLAlchemy's JSON writes it
    elif isinstance(sql_type, String):
        convert = _binary_text(encoding)
    else:
        raise TypeError(f"no binary COPY form for {column.table.name}.{column.name} ({sql_type})")
    if not column.nullable:
        return convert
    return lambda value: _BINARY_NULL if value is None else convert(value)
