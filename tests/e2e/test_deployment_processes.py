"""The Procfile's processes as an operator starts them: gunicorn with its one config file (one-line
configuration errors, metrics added up over its workers, keep-alive), and beat on a fresh clone."""

from __future__ import annotations

import http.client
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import METRICS_AUTH
from tests.processes import ROOT, answers, child_env, free_port, procfile_command, running

pytestmark = pytest.mark.e2e


def test_a_weak_admin_password_stops_the_web_in_one_line(stack_env):
    env = stack_env(PORT=str(free_port()), ADMIN_EMAIL="root@example.test", ADMIN_PASSWORD="short")
    ended = subprocess.run(["bash", "-c", f"exec {procfile_command('web')}"], env=env, cwd=ROOT,
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    assert ended.returncode != 0
    assert "Error: ADMIN_PASSWORD is refused: Password must be at least 8 characters." in ended.stderr
    assert "Traceback" not in ended.stderr + ended.stdout


@pytest.mark.parametrize("process", ["worker", "beat"])
def test_a_redis_cluster_as_broker_stops_a_worker_or_beat_in_one_line(stack_env, process):
    env = stack_env(REDIS_URL="redis+cluster://127.0.0.1:7000,127.0.0.1:7001")
    ended = subprocess.run(["bash", "-c", f"exec {procfile_command(process)}"], env=env, cwd=ROOT,
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    assert ended.returncode != 0
    assert ended.stderr.strip().splitlines() == [
        "Error: A Redis Cluster cannot be the Celery broker: set CELERY_BROKER_URL to an amqp:// RabbitMQ "
        "(or to a single redis:// Redis)"
    ]


def test_beat_starts_on_a_fresh_clone_without_var(stack_env, tmp_path):
    """The Procfile's beat, as written, in a checkout where `var/` does not exist yet."""
    schedule = tmp_path / "var"
    env = stack_env(PYTHONPATH=str(ROOT))
    with running(
        procfile_command("beat"), env, lambda: any(schedule.glob("celerybeat-schedule*")), cwd=tmp_path
    ):
        assert any(schedule.glob("celerybeat-schedule*"))


def requests_total(text: str, endpoint: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "boxoffice_http_requests_total" and sample.labels.get("endpoint") == endpoint
    )


def test_metrics_add_up_every_worker_and_start_from_zero(stack_env, tmp_path):
    """Compose's way: an explicit directory, holding files of an earlier run that must not count."""
    directory = tmp_path / "metrics"
    directory.mkdir()
    stale = directory / "counter_999999.db"
    stale.write_bytes(b"from an earlier run")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = stack_env(PORT=str(port), WEB_CONCURRENCY="2", PROMETHEUS_MULTIPROC_DIR=str(directory))
    with running(procfile_command("web"), env, answers(f"{base}/healthz")):
        assert not stale.exists()
        sent = 0

        def served_by() -> set[str]:
            return {path.stem.rsplit("_", 1)[1] for path in directory.glob("counter_*.db")}

        # New connections, many at once, until both workers have answered some of them.
        with ThreadPoolExecutor(8) as pool:
            while len(served_by()) < 2 and sent < 2000:
                statuses = list(pool.map(lambda _: requests.get(f"{base}/readyz", timeout=10).status_code,
                                         range(40)))  # fmt: skip
                assert set(statuses) == {200}
                sent += len(statuses)
        assert len(served_by()) == 2
        scrapes = [requests.get(f"{base}/metrics", headers=METRICS_AUTH, timeout=10) for _ in range(4)]
    assert [requests_total(scrape.text, "/readyz") for scrape in scrapes] == [sent] * 4
    assert {scrape.headers["Content-Type"] for scrape in scrapes} == {CONTENT_TYPE_LATEST}
    assert scrapes[0].headers["Content-Type"].count("charset") == 1


def test_metrics_of_the_procfile_web_pass_promtool(web):
    promtool = shutil.which("promtool", path=child_env()["PATH"])
    if promtool is None:
        pytest.skip(
            "promtool not found: `make test` takes it from Debian's prometheus package where apt-get can"
        )
    requests.get(f"{web}/healthz", timeout=10)
    text = requests.get(f"{web}/metrics", headers=METRICS_AUTH, timeout=10).text
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout + checked.stderr == ""


def test_an_idle_keep_alive_connection_outlives_a_pause(web):
    """gunicorn's old 2 s keep-alive closed connections that clients and proxies were about to reuse."""
    host, port = web.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.request("GET", "/healthz")
    assert connection.getresponse().read() is not None
    socket_before = connection.sock
    time.sleep(3)  # longer than the old keep-alive; any pause shorter than the new one would do
    connection.request("GET", "/healthz")
    answer = connection.getresponse()
    assert answer.status == 200 and connection.sock is socket_before
    connection.close()


def test_the_procfile_web_adds_up_its_workers_without_being_told_where(web):
    """make run's way: no directory given, so gunicorn makes a private one for its workers."""
    for _ in range(20):
        requests.get(f"{web}/readyz", timeout=10)
    assert [
        requests_total(requests.get(f"{web}/metrics", headers=METRICS_AUTH, timeout=10).text, "/readyz")
        for _ in range(3)
    ] == [20] * 3
