"""The API's documentation as served: pages that need nothing from outside, viewer scripts that
are the pinned ones, and a document whose security and headers say what the API does.

The pages rendered in a real browser with the network cut: `tests/browser/test_docs_offline.py`.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import api.docs

ASSETS = Path(api.docs.__file__).parent / "assets"


class _Links(HTMLParser):
    """Every URL a page makes the browser load or follow: src, href, and ReDoc's spec-url."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.urls += [value for name, value in attrs if name in ("src", "href", "spec-url") and value]


def _urls_in(html: str) -> list[str]:
    parser = _Links()
    parser.feed(html)
    # Inline scripts name URLs too (Swagger UI's `url:` of the document).
    return parser.urls + re.findall(r"""["'](/[^"'\s]*)["']""", html)


@pytest.mark.parametrize("page", ["/api/v1/docs", "/api/v1/redoc"])
def test_doc_pages_load_everything_from_the_app_itself(client, page):
    answer = client.get(page)
    assert answer.status_code == 200
    assert "default-src 'self'" in answer.headers["Content-Security-Policy"]
    html = answer.get_data(as_text=True)
    urls = _urls_in(html)
    assert urls, "the page loads its viewer from somewhere"
    assert "://" not in html, "no absolute URL, so no other host, anywhere in the page"
    for url in urls:
        assert not urlsplit(url).netloc, url
        assert client.get(url).status_code == 200, url


def test_vendored_viewers_are_the_pinned_files():
    listed = {}
    for line in (ASSETS / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        listed[name] = digest
    on_disk = {
        str(path.relative_to(ASSETS)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in ASSETS.glob("*/*")
    }
    assert on_disk == listed


def test_the_document_introduces_the_api(client):
    spec = client.get("/api/v1/openapi.json").json
    introduction = spec["info"]["description"]
    for subject in ("Authorization: Bearer", "Retry-After", "Location", "Idempotency-Key", "429", "503"):
        assert subject in introduction
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def _operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                yield method, path, operation


def test_documented_security_is_what_the_api_asks_for(client):
    """An operation with the bearer scheme refuses a call without a token; one without lets it
    through to its own checks. So Swagger's "Authorize" sends the token exactly where needed."""
    spec = client.get("/api/v1/openapi.json").json
    guarded = public = 0
    for method, path, operation in _operations(spec):
        url = re.sub(r"\{[^}]+\}", lambda _: str(uuid.uuid4()), path)
        status = client.open(url, method=method.upper(), json={}).status_code
        security = operation.get("security")
        if security == [{"bearerAuth": []}]:
            guarded += 1
            assert status == 401, (method, path, status)
        else:
            public += 1
            assert security in (None, [{}, {"bearerAuth": []}]), (method, path)  # none, or optional
            assert status != 401, (method, path, status)
    assert guarded > 10 and public > 3


def test_pagination_header_is_documented_as_the_json_it_is(client, make_user, auth_header):
    spec = client.get("/api/v1/openapi.json").json
    documented = spec["paths"]["/api/v1/bookings"]["get"]["responses"]["200"]["headers"]["X-Pagination"]
    schema = documented["content"]["application/json"]["schema"]
    fields = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]["properties"]

    answer = client.get("/api/v1/bookings", headers=auth_header(make_user()))
    metadata = json.loads(answer.headers["X-Pagination"])
    assert metadata["total"] == 0 and set(metadata) <= set(fields)
