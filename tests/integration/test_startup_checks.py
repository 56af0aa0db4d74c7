"""Start-up checks against Redis servers of the test's own: persistence off is a warning on a
laptop and a refusal in production; a server that hides its CONFIG, or does not answer, is a
warning everywhere; a weak first administrator's password is refused in one sentence naming it."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import tempfile

import pytest
import redis

from bench.servers import free_port, running_process
from core import runtime
from core.config import DEV_JWT_SECRET, ConfigError, Settings
from core.startup import check, known_default_warnings
from tests.faults import app_on


@contextlib.contextmanager
def own_redis(*options: str):
    """A redis-server of the test's own, on a free port, writing into a directory of its own."""
    port = free_port()
    client = redis.Redis(port=port, decode_responses=True, socket_timeout=2)

    def answers(_running) -> bool:
        with contextlib.suppress(redis.RedisError):
            return client.ping()
        return False

    with tempfile.TemporaryDirectory(prefix="startup-redis-") as directory:
        argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", directory, *options]
        with running_process(argv, ready=answers):
            yield client


DEVELOPMENT = Settings(jwt_secret_key="a-secret-of-this-test-only-0123456789")
PRODUCTION = dataclasses.replace(DEVELOPMENT, env="production")
NOTHING_ON_DISK = ("--appendonly", "no", "--save", "")


def test_redis_without_persistence_is_a_warning_in_development_and_refused_in_production():
    with own_redis(*NOTHING_ON_DISK) as client:
        [warning] = check(DEVELOPMENT, client)
        assert "appendonly" in warning
        with pytest.raises(ConfigError, match="REDIS_URL"):
            check(PRODUCTION, client)


@pytest.mark.parametrize(
    "options",
    [("--appendonly", "yes", "--save", ""), ("--appendonly", "no", "--save", "60 1")],
    ids=["aof", "rdb"],
)
def test_redis_with_an_append_only_file_or_snapshots_passes(options):
    with own_redis(*options) as client:
        assert check(PRODUCTION, client) == []


def test_a_redis_that_hides_its_config_is_a_warning_even_in_production():
    with own_redis(*NOTHING_ON_DISK, "--rename-command", "CONFIG", "") as client:
        [warning] = check(PRODUCTION, client)
        assert "CONFIG is disabled" in warning


def test_a_redis_that_does_not_answer_is_a_warning_not_a_crash():
    client = redis.Redis(port=free_port(), socket_connect_timeout=1)
    [warning] = check(PRODUCTION, client)
    assert "Cannot check" in warning


def test_a_weak_admin_password_is_refused_naming_the_variable_and_the_rule():
    weak = dataclasses.replace(DEVELOPMENT, admin_email="root@example.test", admin_password="short")
    with own_redis("--appendonly", "yes") as client, pytest.raises(ConfigError) as refused:
        check(weak, client)
    assert str(refused.value) == "ADMIN_PASSWORD is refused: Password must be at least 8 characters."


def test_a_published_secret_is_warned_about_loudly_outside_production(settings, app, caplog):
    published = dataclasses.replace(DEVELOPMENT, jwt_secret_key=DEV_JWT_SECRET)
    [warning] = known_default_warnings(published)
    assert warning.startswith("INSECURE: JWT_SECRET_KEY")
    assert known_default_warnings(DEVELOPMENT) == []
    with caplog.at_level(logging.WARNING), app_on(settings, app, jwt_secret_key=DEV_JWT_SECRET):
        pass
    assert any(
        record.levelno >= logging.WARNING and record.getMessage() == warning for record in caplog.records
    )


def test_the_worker_and_beat_warn_of_a_published_secret_too(settings, caplog):
    from worker import celery_app as worker_app

    runtime.configure(dataclasses.replace(settings, jwt_secret_key=DEV_JWT_SECRET))
    try:
        with caplog.at_level(logging.WARNING):
            worker_app._warn_of_known_defaults()
    finally:
        runtime.configure(settings)
    assert any(record.getMessage().startswith("INSECURE: JWT_SECRET_KEY") for record in caplog.records)
