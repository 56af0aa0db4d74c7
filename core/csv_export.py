"""CSV exports a person can open in a spreadsheet safely, produced a batch at a time.

A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return would be read as a
formula by Excel, LibreOffice or Google Sheets (OWASP's "CSV injection"): such text is prefixed
with a quote, which spreadsheets show as plain text. The first character is judged as a
spreadsheet sees it: after NFKC (a full-width `＝` or `＋` is read as `=` or `+`) and past any
invisible character (zero-width space, byte-order mark, any other format character), which
some spreadsheets drop before parsing. Numbers are written as they are, times in
ISO 8601 with their offset, and the whole file is UTF-8 with a header row (or two: the attendee
list names its question columns by label, then by id; headers are neutralized too, since a label
is anyone's text). Rows arrive in
batches and leave as bytes chunk by chunk, so an export's memory does not grow with its size.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import unicodedata
import uuid
from collections.abc import Iterable, Iterator, Sequence

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _could_be_formula(text: str) -> bool:
    """Whether the first character that shows, once NFKC-normalized, starts a formula.

    Plain ASCII text (nearly every cell) is judged as it is; only other text pays for the
    normalization. Format characters (category Cf: zero-width space and joiners, BOM, bidi
    marks) are skipped, as they show nothing."""
    if text.isascii():
        return text.startswith(FORMULA_PREFIXES)
    for char in text:
        if unicodedata.category(char) == "Cf":
            continue
        return unicodedata.normalize("NFKC", char).startswith(FORMULA_PREFIXES)
    return False


def safe_cell(value) -> str | int:
    """The cell as written: text neutralized if a spreadsheet could take it for a formula."""
    if isinstance(value, str):  # first: most cells are text, and an export writes millions
        return "'" + value if _could_be_formula(value) else value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return value
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    text = str(value)
    return "'" + text if _could_be_formula(text) else text


def csv_chunks(
    header: Sequence[str], batches: Iterable[Iterable[Sequence]], more_header: Sequence[Sequence] = ()
) -> Iterator[bytes]:
    """The header (and `more_header` rows), then one UTF-8 chunk per batch of rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> bytes:
        chunk = buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
        return chunk

    writer.writerows([safe_cell(value) for value in row] for row in (header, *more_header))
    yield flush()
    for batch in batches:
        writer.writerows([safe_cell(value) for value in row] for row in batch)
        yield flush()
