"""The process's configured resources: settings, database, Redis, and how jobs are dispatched.

The edges of a process configure it once at start-up, from the environment or from settings
they were given: `api.create_app()`, the Celery app (`worker.celery_app`), the benchmarks and the
tests. Nothing reads the environment behind their back: `settings()` before `configure()` is an
error. Only the edges (`api`, `worker`, `core.startup`, tests, bench) take the `database()`; a
core service is handed the unit of work, or the `Database`, it works in (docs/architecture.md,
"Who owns the transaction"). Core services enqueue background work through `dispatch()`
without knowing that Celery is behind it.
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
from core.redis_cluster import cluster_client, is_cluster_url

JobDispatcher = Callable[[Job, dict], None]

_settings: Settings | None = None
_dispatcher: JobDispatcher | None = None


def configure(settings: Settings) -> None:
    global _settings
    _settings = settings


def set_dispatcher(dispatcher: JobDispatcher) -> None:
    global _dispatcher
    _dispatcher = dispatcher


def is_configured() -> bool:
    return _settings is not None


def settings() -> Settings:
    if _settings is None:
        raise RuntimeError(
            "Boxoffice's settings were never configured: call core.runtime.configure(Settings.from_env()) "
            "(or with the settings you mean) when the process starts."
        )
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


def limiter_storage_options(config: Settings) -> dict:
    """The rate limiter's storage options: on one Redis a waiting pool of its own (the limiter's
    client keeps bytes, see `redis_pool`); on a cluster the `limits` library's own cluster client,
    said outright (`None`) because Flask-Limiter merges each app's options into those it kept."""
    return {"connection_pool": None if is_cluster_url(config.redis_url) else redis_pool(config)}


def redis_client() -> redis.Redis | redis.RedisCluster:
    """The one Redis client of the process: a single Redis or a Redis Cluster, as `REDIS_URL`
    says (`core.redis_cluster`); both answer the same commands."""
    current = settings()
    return _redis_for(current.redis_url, current.redis_max_connections, **redis_timeouts(current))


@lru_cache(maxsize=8)
def _redis_for(url: str, max_connections: int, **timeouts: float) -> redis.Redis | redis.RedisCluster:
    # A command that timed out is not sent again: Redis may still run the first one when it
    # resumes (the booking step refuses to run after its deadline, see `core.booking_queue`).
    # A cluster client still follows MOVED and ASK (the command did not run) and refreshes its
    # slot map after a failover; a command that failed meanwhile is an outage (503).
    options = {
        "decode_responses": True,
        "health_check_interval": 30,
        "retry": Retry(NoBackoff(), 0),
        **timeouts,
    }
    if is_cluster_url(url):
        return cluster_client(url, max_connections=max_connections, **options)
    return redis.Redis.from_pool(_pool(url, max_connections, **options))


def dispatch(job: Job, **kwargs) -> None:
    """Send a background job; call only after the data it refers to is committed."""
    if not isinstance(job, Job):
        raise TypeError(f"dispatch takes a core.jobs.Job, not {job!r}: no task would receive it")
    if _dispatcher is None:
        raise RuntimeError("no job dispatcher configured: start the worker package first")
    _dispatcher(job, kwargs)
