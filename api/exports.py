"""Lists that are also exports: the same route answers JSON a page at a time, or every page as
CSV when the client sends `Accept: text/csv`."""

from __future__ import annotations

import functools
from collections.abc import Iterator

from flask import Response, request


def wants_csv() -> bool:
    return request.accept_mimetypes.best_match(["application/json", "text/csv"]) == "text/csv"


def csv_response(chunks: Iterator[bytes], filename: str) -> Response:
    """A streamed CSV download (the body is produced while it is sent)."""
    return Response(
        chunks,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


def paginate_or_csv(blp):
    """`blp.paginate()`, except for a CSV request, which is every page: the view then gets
    `pagination_parameters=None` and returns a `csv_response`."""

    def decorator(view):
        paged = blp.paginate()(view)

        @functools.wraps(paged)
        def wrapper(*args, **kwargs):
            if wants_csv():
                return view(*args, pagination_parameters=None, **kwargs)
            return paged(*args, **kwargs)

        return wrapper

    return decorator
