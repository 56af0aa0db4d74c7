"""Bulk inserts for the drainer's batches: one COPY per table on PostgreSQL, a multi-row INSERT
elsewhere.

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
It runs inside the caller's transaction, so the batch still commits or rolls back as one. COPY
goes around SQLAlchemy, so its errors are raised as SQLAlchemy's, like those of any other
statement: the drainer tells a bad row (`IntegrityError`, `DataError`) from a lost connection by
them.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import json
import uuid
from collections.abc import Callable, Sequence

from sqlalchemy import JSON, Column, Connection, DateTime, Table, TypeDecorator, exc, insert

NULL = r"\N"
# COPY's text format: a backslash, a tab or a line break inside a value is escaped.
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def insert_rows(connection: Connection, tables: list[tuple[Table, list[dict]]]) -> None:
    """Insert each table's rows (dicts with the same keys, in the same order) in one statement,
    table after table, in the order given (a row's references before it)."""
    for table, rows in tables:
        if not rows:
            continue
        if connection.dialect.name != "postgresql":
            connection.execute(insert(table), rows)
            continue
        columns = [table.c[name] for name in rows[0]]
        names = ", ".join(f'"{column.name}"' for column in columns)
        if all(_binary_converter(column) for column in columns):
            buffer = io.BytesIO(copy_binary(columns, rows))
            _copy(connection, f'COPY "{table.name}" ({names}) FROM STDIN (FORMAT binary)', buffer)
        else:
            _copy(
                connection, f'COPY "{table.name}" ({names}) FROM STDIN', io.StringIO(copy_text(columns, rows))
            )


def _copy(connection: Connection, statement: str, buffer: io.IOBase) -> None:
    dbapi_connection = connection.connection.dbapi_connection
    dialect = connection.dialect
    with dbapi_connection.cursor() as cursor:
        try:
            cursor.copy_expert(statement, buffer)
        except dialect.loaded_dbapi.Error as error:
            raise exc.DBAPIError.instance(
                statement, None, error, dialect.loaded_dbapi.Error, dialect=dialect,
                connection_invalidated=dialect.is_disconnect(error, dbapi_connection, cursor),
            ) from error  # fmt: skip


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
