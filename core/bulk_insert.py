"""Bulk inserts for the drainer's batches: COPY on PostgreSQL, a multi-row INSERT elsewhere.

Measured on one hot event, COPY writes a batch of bookings and their lines several times faster
than multi-row INSERT statements, which were half of the time a drain took. It runs inside the
caller's transaction, so the batch still commits or rolls back as one.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid

from sqlalchemy import Connection, Table, insert

NULL = r"\N"


def insert_rows(connection: Connection, table: Table, rows: list[dict]) -> None:
    if not rows:
        return
    if connection.dialect.name != "postgresql":
        connection.execute(insert(table), rows)
        return
    columns = list(rows[0])
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerows([_csv_value(row[column]) for column in columns] for row in rows)
    buffer.seek(0)
    names = ", ".join(f'"{column}"' for column in columns)
    with connection.connection.dbapi_connection.cursor() as cursor:
        cursor.copy_expert(
            f"COPY \"{table.name}\" ({names}) FROM STDIN WITH (FORMAT csv, NULL '{NULL}')", buffer
        )


def _csv_value(value):
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime in a bulk insert")
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value
