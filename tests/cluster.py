"""A real Redis Cluster (three primaries, three replicas) and a RabbitMQ virtual host, each
started once per run for the tests that need them (`bench.redis_cluster`), and `on_cluster`: the
API and the runtime of this process on the cluster for one test.

A test that kills a node brings it back (`LocalRedisCluster.restart`) before the next one runs.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from bench.redis_cluster import LocalRedisCluster, rabbitmq_vhost, running_redis_cluster
from tests.faults import app_on


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[LocalRedisCluster]:
    try:
        with running_redis_cluster() as cluster:
            yield cluster
    except LookupError as reason:
        pytest.skip(str(reason))


@pytest.fixture(scope="session")
def rabbitmq_url() -> Iterator[str]:
    """A virtual host of this run on the machine's RabbitMQ, deleted at the end."""
    try:
        with rabbitmq_vhost() as url:
            yield url
    except (LookupError, subprocess.CalledProcessError) as reason:
        pytest.skip(f"no RabbitMQ to make a virtual host on: {reason}")


@pytest.fixture()
def cluster(redis_cluster) -> LocalRedisCluster:
    """The run's cluster, emptied (and every node back) for this test."""
    for port in redis_cluster.ports:
        if port not in redis_cluster.live_ports():
            redis_cluster.restart(port)
    redis_cluster.client().flushdb(target_nodes="primaries")
    return redis_cluster


@pytest.fixture()
def on_cluster(settings, app, cluster):
    """`on_cluster(**settings)`: a test client of an API on the cluster; this process's runtime
    (services called directly) uses the cluster too until the test ends. Jobs still go to the
    suite's broker, where nothing runs them."""
    with ExitStack() as apps:
        yield lambda **overrides: apps.enter_context(
            app_on(settings, app, redis_url=cluster.url, celery_broker_url=settings.redis_url, **overrides)
        )
