"""Bulk inserts for the drainer's batches: one COPY per table on PostgreSQL, a multi-row INSERT
elsewhere; and `BackgroundCopy`, which sends a batch's chunks on a thread of their own while the
drainer decides the next.

COPY writes a batch of bookings and their lines several times faster than multi-row INSERT
statements, and turning the rows into COPY's text is the client's share of it, so that is done
column by column (docs/architecture.md, "How a booking flows"): each column's values go through
one conversion chosen once from the column's type, and a column whose values repeat through the
batch (the event, the decision time, a status, a ticket type) converts each distinct value once.
A table whose every column is an id or a time (the seat assignments, some 3.4 rows a decision
of a seated rush) goes in COPY's binary format instead: PostgreSQL then parses no text, which
for such a row (its time above all) cost it some 2 µs, several times what storing it costs
(docs/seating.md, "What an assignment row costs"); other columns (text, numbers, JSON) would each
need their own binary form, so those tables keep the text format.
Everything runs inside the caller's transaction, so the batch still commits or rolls back as
one. COPY goes around SQLAlchemy, so its errors are raised as SQLAlchemy's, like those of any
other statement: the drainer tells a bad row (`IntegrityError`, `DataError`) from a lost
connection by them.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import json
import queue
import sys
import threading
import uuid
from collections.abc import Callable, Sequence

from sqlalchemy import JSON, Column, Connection, DateTime, Table, TypeDecorator, exc, insert

NULL = r"\N"
# COPY's text format: a backslash, a tab or a line break inside a value is escaped.
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def insert_rows(connection: Connection, tables: list[tuple[Table, list[dict]]]) -> None:
    """Insert each table's rows (dicts with the same keys, in the same order) in one statement,
    table after table, in the order given (a row's references before it)."""
    if connection.dialect.name != "postgresql":
        for table, rows in tables:
            if rows:
                connection.execute(insert(table), rows)
        return
    for statement, data in _copy_statements(tables):
        _copy(connection.connection.dbapi_connection, connection.dialect, statement, data)


def _copy_statements(tables: list[tuple[Table, list[dict]]]) -> list[tuple[str, str | bytes]]:
    """Each table's COPY statement and its data, for the tables that have rows (PostgreSQL)."""
    statements = []
    for table, rows in tables:
        if not rows:
            continue
        columns = [table.c[name] for name in rows[0]]
        names = ", ".join(f'"{column.name}"' for column in columns)
        if all(_binary_converter(column) for column in columns):
            statements.append(
                (f'COPY "{table.name}" ({names}) FROM STDIN (FORMAT binary)', copy_binary(columns, rows))
            )
        else:
            statements.append((f'COPY "{table.name}" ({names}) FROM STDIN', copy_text(columns, rows)))
    return statements


def _copy(dbapi_connection, dialect, statement: str, data: str | bytes) -> None:
    buffer = io.BytesIO(data) if isinstance(data, bytes) else io.StringIO(data)
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
            self._chunks.put(_copy_statements(tables))

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


def copy_text(columns: Sequence[Column], rows: list[dict]) -> str:
    """The rows in COPY's text format, one line each, the columns in the order given."""
    texts = [_column_values(_converter(column), [row[column.name] for row in rows]) for column in columns]
    return "\n".join(map("\t".join, zip(*texts, strict=True))) + "\n"


def copy_binary(columns: Sequence[Column], rows: list[dict]) -> bytes:
    """The rows in COPY's binary format, the columns in the order given (each `_binary_converter`
    has one)."""
    fields = [
        _column_values(_binary_converter(column), [row[column.name] for row in rows]) for column in columns
    ]
    count = len(columns).to_bytes(2, "big")
    body = b"".join(map(b"".join, zip(itertools.repeat(count, len(rows)), *fields, strict=False)))
    return _BINARY_HEADER + body + _BINARY_TRAILER


def _column_values(convert: Callable[[object], str | bytes], values: list) -> list:
    # The values that repeat are the same objects (one `now`, one event id, one status), so
    # identity finds them without hashing: while `values` holds them, no two share an id.
    distinct = dict(zip(map(id, values), values, strict=True))
    if len(distinct) > len(values) // 2:
        return list(map(convert, values))
    converted = {key: convert(value) for key, value in distinct.items()}
    return list(map(converted.__getitem__, map(id, values)))


def _converter(column: Column) -> Callable[[object], str]:
    sql_type = column.type
    if isinstance(sql_type, TypeDecorator):  # `UTCDateTime`: what it stores is its `impl`'s
        sql_type = sql_type.impl_instance
    convert = _json if isinstance(sql_type, JSON) else _BY_TYPE.get(sql_type.python_type, _text)
    if not column.nullable:
        return convert
    return lambda value: NULL if value is None else convert(value)


def _text(value) -> str:
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:  # rare: looked for before translating
        return text.translate(_ESCAPES)
    return text


def _json(value) -> str:
    return json.dumps(value).translate(_ESCAPES)


def _uuid(value: uuid.UUID) -> str:
    # The 32 hex digits without the hyphens, which PostgreSQL's uuid input takes as well: one
    # formatting, where `str` slices and joins five pieces (a batch's seat assignments carry two
    # ids each).
    return format(value.int, "032x")


def _timestamp(value: dt.datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("naive datetime in a bulk insert")
    return value.isoformat()


# COPY's binary format: the signature, no flags and no header extension; each row its number of
# fields, then each field its length and its bytes (-1: NULL); -1 as the number of fields ends it.
_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
_BINARY_TRAILER = (-1).to_bytes(2, "big", signed=True)
_BINARY_NULL = (-1).to_bytes(4, "big", signed=True)
# PostgreSQL's times are microseconds since its epoch.
_PG_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)


def _binary_uuid(value: uuid.UUID) -> bytes:
    return b"\x00\x00\x00\x10" + value.bytes


def _binary_timestamp(value: dt.datetime) -> bytes:
    if value.tzinfo is None:
        raise ValueError("naive datetime in a bulk insert")
    return b"\x00\x00\x00\x08" + ((value - _PG_EPOCH) // _MICROSECOND).to_bytes(8, "big", signed=True)


def _binary_converter(column: Column) -> Callable[[object], bytes] | None:
    """How a column's value is written in COPY's binary format, for an id (`uuid`) or a time with
    its zone (`timestamptz`); None for any other column."""
    sql_type = column.type
    if isinstance(sql_type, TypeDecorator):
        sql_type = sql_type.impl_instance
    if sql_type.python_type is uuid.UUID:
        convert = _binary_uuid
    elif isinstance(sql_type, DateTime) and sql_type.timezone:
        convert = _binary_timestamp
    else:
        return None
    if not column.nullable:
        return convert
    return lambda value: _BINARY_NULL if value is None else convert(value)


_BY_TYPE: dict[type, Callable[[object], str]] = {
    uuid.UUID: _uuid,
    int: str,
    bool: {True: "t", False: "f"}.__getitem__,
    dt.datetime: _timestamp,
}
