"""The process's configured resources: settings, database, Redis, and how jobs are dispatched.

`api.create_app()` and the Celery worker call `configure()` once at start-up. Core services
enqueue background work through `dispatch()` without knowing that Celery is behind it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from core.config import Settings
from core.db import Database, database_for
from core.jobs import Job

JobDispatcher = Callable[[Job, dict], None]

_settings: Settings | None = None
_dispatcher: JobDispatcher | None = None


def configure(settings: Settings) -> None:
    global _settings
    _settings = settings


def set_dispatcher(dispatcher: JobDispatcher) -> None:
    global _dispatcher
    _dispatcher = dispatcher


def settings() -> Settings:
    if _settings is None:
        configure(Settings.from_env())
    return _settings


def database() -> Database:
    return database_for(settings().database_url)


def redis_timeouts(config: Settings) -> dict:
    """The socket timeouts of every Redis client of the API and the workers' jobs (the Celery
    broker keeps its own, for its long blocking reads): a hung Redis fails a call after
    `redis_socket_timeout` instead of holding its thread until Redis resumes."""
    return {
        "socket_timeout": config.redis_socket_timeout,
        "socket_connect_timeout": config.redis_connect_timeout,
    }


# How long a caller waits for a free connection of a full pool before the request fails (503).
# Nothing has been sent yet, so waiting is safe; under a burst a busy process hands connections
# out slowly (each is held until its greenlet runs again), and failing after a second turned
# most of a 2,000-client burst into 503s (tests/e2e/test_live_status_processes.py).
POOL_WAIT_SECONDS = 10.0


def redis_pool(config: Settings, **options) -> redis.BlockingConnectionPool:
    """A pool of at most `redis_max_connections` connections that makes a caller wait for a free
    one instead of failing: under gevent (`gunicorn.conf.py`) hundreds of requests of one
    process may use Redis at the same moment."""
    return _pool(config.redis_url, config.redis_max_connections, **redis_timeouts(config), **options)


def _pool(url: str, max_connections: int, **options) -> redis.BlockingConnectionPool:
    return redis.BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=POOL_WAIT_SECONDS, **options
    )


def redis_client() -> redis.Redis:
    current = settings()
    return _redis_for(current.redis_url, current.redis_max_connections, **redis_timeouts(current))


@lru_cache(maxsize=8)
def _redis_for(url: str, max_connections: int, **timeouts: float) -> redis.Redis:
    # A command that timed out is not sent again: Redis may still run the first one when it
    # resumes (the booking step refuses to run after its deadline, see `core.booking_queue`).
    pool = _pool(url, max_connections, decode_responses=True, health_check_interval=30,
                 retry=Retry(NoBackoff(), 0), **timeouts)  # fmt: skip
    return redis.Redis.from_pool(pool)


def dispatch(job: Job, **kwargs) -> None:
    """Send a background job; call only after the data it refers to is committed."""
    if not isinstance(job, Job):
        raise TypeError(f"dispatch takes a core.jobs.Job, not {job!r}: no task would receive it")
    if _dispatcher is None:
        raise RuntimeError("no job dispatcher configured: start the worker package first")
    _dispatcher(job, kwargs)
