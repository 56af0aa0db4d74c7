"""What running on a Redis Cluster changes: its URL, its client, and the errors of a failover.

`REDIS_URL=redis+cluster://HOST:PORT[,HOST:PORT...]` (the scheme the `limits` library reads
too) names some nodes of a cluster; the client learns the rest and the slot map from them. A
plain `redis://` URL is one Redis, as before. `core.runtime.redis_client()` builds whichever the
URL names and every Redis use goes through it (docs/scaling.md, "Redis Cluster").

Keys that one command or script touches together share a hash tag, so they live in one slot:
every key of an event is `<prefix>:{<event_id>}:<what>` (`event_key`).
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import redis
from redis import exceptions
from redis.cluster import ClusterNode, RedisCluster

CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")

# A cluster in the middle of a failover: a node gone, its slots not yet served by its replica,
# or moving. The command did not run (or its connection broke): an outage, answered 503.
FAILOVER_ERRORS = (
    exceptions.ClusterError,  # ClusterDownError, MasterDownError, and retries run out
    exceptions.TryAgainError,
    exceptions.SlotNotCoveredError,
    exceptions.RedisClusterUnreachableError,
)
OUTAGE_ERRORS = (redis.ConnectionError, redis.TimeoutError, *FAILOVER_ERRORS)


def is_cluster_url(url: str) -> bool:
    return urlsplit(url).scheme in CLUSTER_SCHEMES


def event_key(prefix: str, event_id, what: str) -> str:
    """`prefix:{event_id}:what`: the event's hash tag keeps all its keys in one slot."""
    return f"{prefix}:{{{event_id}}}:{what}"


def node_urls(url: str) -> list[str]:
    """A `redis://` URL for each node a cluster URL names (the URL itself for one Redis): a
    classic pub/sub subscription is made to one node, as a cluster passes every PUBLISH to all."""
    if not is_cluster_url(url):
        return [url]
    parts = urlsplit(url)
    credentials, _, locations = parts.netloc.rpartition("@")
    scheme = "rediss" if parts.scheme == "rediss+cluster" else "redis"
    prefix = f"{credentials}@" if credentials else ""
    return [f"{scheme}://{prefix}{location}" for location in locations.split(",")]


def cluster_client(url: str, **options) -> RedisCluster:
    """A cluster client from a `redis+cluster://[user:password@]host:port,host:port` URL."""
    parts = urlsplit(url)
    nodes = []
    for location in parts.netloc.rsplit("@", 1)[-1].split(","):
        host, _, port = location.rpartition(":")
        nodes.append(ClusterNode(host or "127.0.0.1", int(port or 6379)))
    auth = {}
    if "@" in parts.netloc:
        username, _, password = parts.netloc.rsplit("@", 1)[0].partition(":")
        auth = {"username": unquote(username) or None, "password": unquote(password) or None}
    return RedisCluster(startup_nodes=nodes, ssl=parts.scheme == "rediss+cluster", **auth, **options)


def read_keys(client, keys: list[str]) -> list:
    """The values of keys of different slots, in one round trip on one Redis: one `MGET`, which
    costs the client less than a pipeline of the same reads. A cluster refuses an `MGET` across
    slots; there it is one per node (redis-py's `mget_nonatomic`), as a pipeline would send."""
    if isinstance(client, RedisCluster):
        return client.mget_nonatomic(keys)
    return client.mget(keys)


def primaries(client) -> list:
    """The nodes a command for every key must reach: the one Redis, or each cluster primary."""
    if isinstance(client, RedisCluster):
        return [node.redis_connection for node in client.get_primaries()]
    return [client]
