"""Bulk inserts for the drainer's batches: one COPY per table on PostgreSQL, a multi-row INSERT
elsewhere.

COPY writes a batch of bookings and their lines several times faster than multi-row INSERT
statements, and turning the rows into COPY's text is the client's share of it, so that is done
column by column (docs/architecture.md, "How a booking flows"): each column's values go through
one conversion chosen once from the column's type, and a column whose values repeat through the
batch (the event, the decision time, a status, a ticket type) converts each distinct value once.
It runs inside the caller's transaction, so the batch still commits or rolls back as one. COPY
goes around SQLAlchemy, so its errors are raised as SQLAlchemy's, like those of any other
statement: the drainer tells a bad row (`IntegrityError`, `DataError`) from a lost connection by
them.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid
from collections.abc import Callable, Sequence

from sqlalchemy import JSON, Column, Connection, Table, TypeDecorator, exc, insert

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
        columns = list(rows[0])
        buffer = io.StringIO(copy_text([table.c[name] for name in columns], rows))
        names = ", ".join(f'"{column}"' for column in columns)
        _copy(connection, f'COPY "{table.name}" ({names}) FROM STDIN', buffer)


def _copy(connection: Connection, statement: str, buffer: io.StringIO) -> None:
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
    texts = [_column_text(_converter(column), [row[column.name] for row in rows]) for column in columns]
    return "\n".join(map("\t".join, zip(*texts, strict=True))) + "\n"


def _column_text(convert: Callable[[object], str], values: list) -> list[str]:
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


_BY_TYPE: dict[type, Callable[[object], str]] = {
    uuid.UUID: _uuid,
    int: str,
    bool: {True: "t", False: "f"}.__getitem__,
    dt.datetime: _timestamp,
}
