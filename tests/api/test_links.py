"""The contract between core and the API: every link core builds reaches the endpoint it means."""

from __future__ import annotations

import string
import uuid
from urllib.parse import urlsplit

import pytest

from core import links


def _sample_params(link: links.Link) -> dict:
    names = [name for _, name, _, _ in string.Formatter().parse(link.template) if name]
    return {name: uuid.uuid4() if name.endswith("_id") and name != "session_id" else "cs_sample"
            for name in names}  # fmt: skip


def test_every_link_is_listed():
    defined = {value for value in vars(links).values() if isinstance(value, links.Link)}
    assert defined == set(links.LINKS)


@pytest.mark.parametrize("link", links.LINKS, ids=lambda link: link.endpoint)
def test_each_link_resolves_to_its_endpoint(app, settings, link):
    params = _sample_params(link)
    url = urlsplit(link.url(**params))
    assert f"{url.scheme}://{url.netloc}" == settings.public_base_url
    assert url.path == link.path(**params)
    endpoint, view_args = app.url_map.bind("localhost").match(url.path, method=link.method)
    assert endpoint == link.endpoint
    assert view_args == params
