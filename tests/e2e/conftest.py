"""Real processes for end-to-end tests: gunicorn from the Procfile, Celery workers, beat."""

from __future__ import annotations

import contextlib
import uuid

import pytest
from flask_jwt_extended import create_access_token
from sqlalchemy import insert

from core.models import User
from tests.conftest import _PASSWORD_HASH, METRICS_TOKEN
from tests.processes import answers, child_env, free_port, procfile_command, running


@pytest.fixture()
def stack_env(settings, tmp_path):
    """The environment every process of the stack shares: the test database and Redis."""

    def env(**overrides) -> dict:
        return child_env(**{"DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url,
                            "RATE_LIMITS_ENABLED": "false", "HOLD_EXPIRY_INTERVAL": "1",
                            "METRICS_TOKEN": METRICS_TOKEN, "JWT_SECRET_KEY": settings.jwt_secret_key,
                            **overrides})  # fmt: skip

    return env


@pytest.fixture()
def start_worker(stack_env, tmp_path):
    """Start a Celery worker process (the Procfile's command); returns its Popen."""
    with contextlib.ExitStack() as stack:
        count = 0

        def start(concurrency: int = 2, **env):
            nonlocal count
            count += 1
            name = f"w{count}-{uuid.uuid4().hex[:4]}"
            command = (f"{procfile_command('worker').split(' --concurrency')[0]} --concurrency {concurrency} "
                       f"--hostname {name}@%h --without-gossip --without-mingle")  # fmt: skip
            return stack.enter_context(running(command, stack_env(**env), lambda: True))

        yield start


@pytest.fixture()
def start_beat(stack_env, tmp_path):
    """Start a beat process (the Procfile's command, with a schedule file of its own); returns
    its Popen. Any number of them may run at once."""
    with contextlib.ExitStack() as stack:

        def start():
            schedule = tmp_path / f"beat-schedule-{uuid.uuid4().hex[:6]}"
            command = f"{procfile_command('beat').split(' --schedule')[0]} --schedule {schedule}"
            return stack.enter_context(running(command, stack_env(), lambda: True))

        yield start


@pytest.fixture()
def beat(start_beat):
    return start_beat()


@pytest.fixture()
def web(stack_env, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = stack_env(PORT=str(port), WEB_CONCURRENCY="2")
    with running(procfile_command("web"), env, answers(f"{base}/healthz")):
        yield base


@pytest.fixture()
def many_customers(db, app):
    """`n` customers inserted in one statement, with access tokens minted for them."""

    def make(n: int) -> list[tuple[uuid.UUID, str]]:
        ids = [uuid.uuid4() for _ in range(n)]
        rows = [{"id": i, "email": f"fan-{i.hex[:12]}@example.test", "password_hash": _PASSWORD_HASH, "name": "Fan",
                 "role": "customer"} for i in ids]  # fmt: skip
        with db.unit_of_work() as uow:
            uow.session.execute(insert(User), rows)
            uow.commit()
        with app.app_context():
            return [(i, create_access_token(identity=str(i), additional_claims={"role": "customer", "sid": "e2e"}))
                    for i in ids]  # fmt: skip

    return make
