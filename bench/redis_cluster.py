"""A real Redis Cluster on this machine, and a RabbitMQ virtual host, for benchmarks and tests.

`running_redis_cluster()` starts three primaries and three replicas (`redis-server
--cluster-enabled yes` on free ports, joined by `redis-cli --cluster create --cluster-replicas
1`), waits until every slot is served, and stops them all at the end. A test can kill the
primary of a key (`kill_primary_of`) and bring the node back afterwards (`restart`): it rejoins
as a replica of the node promoted in its place.

`rabbitmq_vhost()` makes a virtual host of its own on the machine's RabbitMQ (`rabbitmqctl`),
so one run's queues never meet another's, and deletes it at the end.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis
from redis.cluster import ClusterNode, RedisCluster
from redis.crc import key_slot

from bench.servers import free_port, stop_process

# How long a primary may be silent before its replica takes over: short, so a test's failover
# takes seconds (production keeps Redis's default of 15 s or so).
NODE_TIMEOUT_MS = 2000


@dataclass
class LocalRedisCluster:
    directory: Path
    ports: list[int]
    processes: dict[int, subprocess.Popen] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """`REDIS_URL` for Boxoffice: `redis+cluster://` and every node."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in self.ports)

    def node(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, decode_responses=True, socket_timeout=2, socket_connect_timeout=1)

    def client(self) -> RedisCluster:
        """A client of the cluster, through whichever nodes are up."""
        nodes = [ClusterNode("127.0.0.1", port) for port in self.live_ports()]
        return RedisCluster(startup_nodes=nodes, decode_responses=True, socket_timeout=5)

    def start(self, port: int) -> None:
        argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                "--cluster-config-file", f"nodes-{port}.conf", "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
                "--appendonly", "yes", "--appendfilename", f"appendonly-{port}.aof",
                "--appenddirname", f"aof-{port}", "--save", "", "--dir", str(self.directory),
                "--logfile", str(self.directory / f"redis-{port}.log")]  # fmt: skip
        self.processes[port] = subprocess.Popen(argv, stdin=subprocess.DEVNULL, start_new_session=True)
        _wait(lambda: _answers(self.node(port)), f"redis-server on port {port} did not start")

    def primary_port_of(self, key: str) -> int:
        slot = key_slot(key.encode())
        for port in self.live_ports():
            for start, end, *nodes in self.node(port).execute_command("CLUSTER", "SLOTS"):
                if start <= slot <= end:
                    return int(nodes[0][1])
        raise LookupError(f"no node serves slot {slot}")

    def live_ports(self) -> list[int]:
        return [port for port, process in self.processes.items() if process.poll() is None]

    def kill(self, port: int) -> None:
        """SIGKILL a node: nothing it had not yet sent to its replica survives."""
        process = self.processes[port]
        process.send_signal(signal.SIGKILL)
        process.wait()

    def kill_primary_of(self, key: str) -> int:
        port = self.primary_port_of(key)
        self.kill(port)
        return port

    def restart(self, port: int) -> None:
        """Start a killed node again: it rejoins the cluster as a replica."""
        self.start(port)
        self.wait_until_healthy()

    def wait_until_healthy(self, timeout: float = 60) -> None:
        """Every slot served and every live node agreeing the cluster is ok."""
        _wait(lambda: all(_cluster_ok(self.node(port)) for port in self.live_ports()),
              "the Redis Cluster did not become ok", timeout)  # fmt: skip


def _cluster_port() -> int:
    """A free port whose cluster bus port (10000 above it) is free too: at most 55535."""
    while True:
        port = free_port()
        if port <= 55535 and _bindable(port + 10000):
            return port


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _answers(client: redis.Redis) -> bool:
    try:
        return client.ping()
    except redis.RedisError:
        return False


def _cluster_ok(client: redis.Redis) -> bool:
    try:
        return "cluster_state:ok" in client.execute_command("CLUSTER", "INFO")
    except redis.RedisError:
        return False


def _wait(condition, failure: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(failure)
        time.sleep(0.1)


@contextlib.contextmanager
def running_redis_cluster(primaries: int = 3, replicas: int = 1) -> Iterator[LocalRedisCluster]:
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        raise LookupError("redis-server and redis-cli are not installed")
    cluster = LocalRedisCluster(Path(tempfile.mkdtemp(prefix="boxoffice-cluster-")),
                                [_cluster_port() for _ in range(primaries * (1 + replicas))])  # fmt: skip
    try:
        for port in cluster.ports:
            cluster.start(port)
        subprocess.run(["redis-cli", "--cluster", "create", *(f"127.0.0.1:{port}" for port in cluster.ports),
                        "--cluster-replicas", str(replicas), "--cluster-yes"],
                       check=True, capture_output=True, timeout=60)  # fmt: skip
        cluster.wait_until_healthy()
        _wait(lambda: _replicas_in_sync(cluster, primaries * replicas), "the replicas did not catch up")
        yield cluster
    finally:
        for process in cluster.processes.values():
            stop_process(process, 10)
        shutil.rmtree(cluster.directory, ignore_errors=True)


def _replicas_in_sync(cluster: LocalRedisCluster, expected: int) -> bool:
    linked = 0
    for port in cluster.live_ports():
        info = cluster.node(port).info("replication")
        linked += info.get("role") == "slave" and info.get("master_link_status") == "up"
    return linked == expected


@contextlib.contextmanager
def rabbitmq_vhost(host: str = "127.0.0.1", port: int = 5672) -> Iterator[str]:
    """An `amqp://` URL of a new virtual host on the machine's RabbitMQ, deleted at the end."""
    if shutil.which("rabbitmqctl") is None:
        raise LookupError("rabbitmqctl is not installed")
    name = f"boxoffice-{uuid.uuid4().hex[:10]}"
    subprocess.run(["rabbitmqctl", "add_vhost", name], check=True, capture_output=True, timeout=60)
    try:
        subprocess.run(["rabbitmqctl", "set_permissions", "-p", name, "guest", ".*", ".*", ".*"], check=True,
                       capture_output=True, timeout=60)  # fmt: skip
        yield f"amqp://guest:guest@{host}:{port}/{name}"
    finally:
        subprocess.run(["rabbitmqctl", "delete_vhost", name], capture_output=True, timeout=60)
