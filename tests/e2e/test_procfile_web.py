"""The Procfile's `web` command, started for real, serves /readyz on SQLite and on PostgreSQL,
and spreads kept-alive connections again after a number of requests."""

from __future__ import annotations

import http.client
import runpy

import pytest
import requests

from tests.conftest import REDIS_URL, migrate
from tests.processes import ROOT, answers, child_env, free_port, procfile_command, running

pytestmark = pytest.mark.e2e


def serve_and_check(database_url: str, tmp_path) -> dict:
    port = free_port()
    env = child_env(PORT=str(port), DATABASE_URL=database_url, REDIS_URL=REDIS_URL, WEB_CONCURRENCY="1",
                    ADMIN_EMAIL="root@example.test", ADMIN_PASSWORD="first-admin-password")  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    with running(procfile_command("web"), env, answers(f"{base}/healthz")):
        ready = requests.get(f"{base}/readyz", timeout=5)
        login = requests.post(
            f"{base}/api/v1/auth/login",
            json={"email": "root@example.test", "password": "first-admin-password"},
            timeout=5,
        )
        return {"ready": ready.status_code, "checks": ready.json()["checks"], "login": login.status_code}


def test_web_serves_readyz_on_the_embedded_sqlite_default(tmp_path):
    url = f"sqlite:///{tmp_path / 'boxoffice.sqlite3'}"
    migrate(url)
    result = serve_and_check(url, tmp_path)
    assert result == {"ready": 200, "checks": {"database": "ok", "redis": "ok"}, "login": 200}


def test_web_serves_readyz_on_postgresql(database_url, settings, tmp_path):
    result = serve_and_check(database_url, tmp_path)
    assert result == {"ready": 200, "checks": {"database": "ok", "redis": "ok"}, "login": 200}


def test_readyz_names_the_dependency_that_is_down(tmp_path):
    port = free_port()
    env = child_env(PORT=str(port), DATABASE_URL=f"sqlite:///{tmp_path / 'x.sqlite3'}",
                    REDIS_URL=f"redis://127.0.0.1:{free_port()}/0", WEB_CONCURRENCY="1")  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    migrate(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    with running(procfile_command("web"), env, answers(f"{base}/healthz")):
        response = requests.get(f"{base}/readyz", timeout=10)
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "ok"
    assert response.json()["checks"]["redis"].startswith("error")


def test_a_kept_alive_connection_is_closed_cleanly_after_its_quota_of_requests(tmp_path):
    """gunicorn.conf.py's `pre_request`: the last request a connection may carry is answered with
    `Connection: close` and the server closes it, so a client reconnects (and may land on
    another process) without ever losing a request sent on a connection closing under it."""
    quota = runpy.run_path(str(ROOT / "gunicorn.conf.py"))["KEEPALIVE_REQUESTS"]
    port = free_port()
    url = f"sqlite:///{tmp_path / 'boxoffice.sqlite3'}"
    migrate(url)
    env = child_env(PORT=str(port), DATABASE_URL=url, REDIS_URL=REDIS_URL, WEB_CONCURRENCY="1")
    with running(procfile_command("web"), env, answers(f"http://127.0.0.1:{port}/healthz")):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.connect()
        first_socket = connection.sock
        kept = []
        for _ in range(quota):
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            response.read()
            kept.append((response.status, response.getheader("Connection"), connection.sock is first_socket))
        assert kept[:-1] == [(200, "keep-alive", True)] * (quota - 1)
        assert kept[-1] == (200, "close", False)  # answered, then closed
        connection.request("GET", "/healthz")  # a new connection
        assert connection.getresponse().status == 200
