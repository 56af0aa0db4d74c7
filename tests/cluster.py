"""A real Redis Cluster (three primaries, three replicas) and a RabbitMQ virtual host, each
started once per run for the tests that need them (`bench.redis_cluster`), `on_cluster`: the
API and the runtime of this process on the cluster for one test, and `events_over_shards`: events
whose queues are not all on one shard.

A test that kills a node brings it back (`LocalRedisCluster.restart`) before the next one runs.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest

from bench.redis_cluster import LocalRedisCluster, rabbitmq_vhost, running_redis_cluster
from core.redis_cluster import event_key
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


def events_over_shards(cluster: LocalRedisCluster, make_event: Callable, count: int) -> list:
    """`count` events made by `make_event()` whose queues are not all on one primary. An event's
    id is random, so its queue's shard is too: three events all land on one shard one time in
    nine, and a test of a sale spread over the shards would then test none of the spreading."""
    events = [make_event() for _ in range(count)]
    while len({cluster.primary_port_of(event_key("bq", event.id, "queue")) for event in events}) < 2:
        events[-1] = make_event()
    return events
