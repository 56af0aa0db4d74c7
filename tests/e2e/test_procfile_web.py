"""The Procfile's `web` command, started for real, serves /readyz on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
import requests

from tests.conftest import REDIS_URL, migrate
from tests.processes import answers, child_env, free_port, procfile_command, running

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
