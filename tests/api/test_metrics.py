"""/metrics: what every process recorded in Redis, read cheaply at scrape time (the counts of
holds and waitlist entries are shared and refreshed, not counted in PostgreSQL on every
scrape), and every metric deploy/'s dashboard and alert rules use."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from prometheus_client.parser import text_string_to_metric_families

from core import runtime
from core.jobs import Job, Periodic
from tests.api.test_bookings import body
from tests.conftest import METRICS_AUTH, METRICS_TOKEN
from tests.faults import app_on
from tests.integration.booking_helpers import drain
from tests.integration.payment_helpers import hold, pay_on_local_page
from tests.jobs import run_jobs
from tests.processes import child_env
from worker.celery_app import celery_app

ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def statements(db):
    """The SQL statements the test database receives inside the block."""
    seen = []

    def record(_conn, _cursor, statement, *_args):
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)


def scrape(client) -> str:
    response = client.get("/metrics", headers=METRICS_AUTH)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_scrapes_share_one_count_of_holds_until_a_batch_makes_new_ones(
    client, db, organizer, make_event, make_user, auth_header
):
    event = make_event(organizer, quota=5)
    client.post("/api/v1/bookings", json=body(event), headers=auth_header(make_user()))
    assert "boxoffice_held_bookings 0.0" in scrape(client)
    with statements(db) as sql:
        for _ in range(3):
            text = scrape(client)
    assert sql == []
    assert "boxoffice_queued_requests 1.0" in text
    drain(event)
    with statements(db) as sql:
        assert "boxoffice_held_bookings 1.0" in scrape(client)
    assert len(sql) == 1


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """Every sample of a scrape: (name, sorted labels) → value."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_a_decided_request_shows_its_wait_its_outcome_and_the_waitlist(
    client, organizer, make_event, make_user, auth_header
):
    event = make_event(organizer, quota=1)
    for _ in range(2):
        client.post(
            "/api/v1/bookings", json=body(event, join_waitlist=True), headers=auth_header(make_user())
        )
    drain(event)
    figures = samples(scrape(client))
    assert figures[("boxoffice_booking_decision_seconds_count", ())] == 2
    assert figures[("boxoffice_booking_decision_seconds_bucket", (("le", "+Inf"),))] == 2
    assert (
        figures[("boxoffice_booking_decision_seconds_bucket", (("le", "600.0"),))] == 2
    )  # seconds, not hours
    assert figures[("boxoffice_booking_decisions_total", (("reason", ""), ("status", "held")))] == 1
    assert figures[("boxoffice_booking_decisions_total", (("reason", ""), ("status", "waitlisted")))] == 1
    assert figures[("boxoffice_held_bookings", ())] == 1
    assert figures[("boxoffice_waitlisted_bookings", ())] == 1
    assert figures[("boxoffice_allocation_batch_seconds_count", ())] == 1


def test_payments_and_mails_are_counted_by_result(client, organizer, make_event, make_user, mail_sink):
    event = make_event(organizer, quota=5, price=2500)
    [booking_id] = hold([make_user()], event)
    assert pay_on_local_page(runtime.database(), booking_id) is True
    run_jobs("process_webhook_event", "issue_tickets", "send_booking_emails")
    figures = samples(scrape(client))
    assert figures[("boxoffice_payments_total", (("result", "confirmed"),))] == 1
    assert figures[("boxoffice_mails_total", (("kind", "tickets_issued"), ("result", "sent")))] == 1


def test_beat_sweeps_report_how_long_ago_they_last_succeeded(client):
    text = scrape(client)
    assert 'boxoffice_periodic_task_age_seconds{task="expire_holds"}' not in text
    celery_app.tasks[Periodic.EXPIRE_HOLDS.task_name].apply().get()
    [age] = [value for (name, labels), value in samples(scrape(client)).items()
             if name == "boxoffice_periodic_task_age_seconds" and labels == (("task", "expire_holds"),)]  # fmt: skip
    assert 0 <= age < 60


def test_a_failed_task_is_counted_by_its_name(client):
    with pytest.raises(ValueError):
        celery_app.tasks[Job.SEND_ACCOUNT_EMAIL.task_name].apply(
            args=("no_such_kind", "fan@example.test")
        ).get()
    figures = samples(scrape(client))
    assert figures[("boxoffice_task_failures_total", (("task", Job.SEND_ACCOUNT_EMAIL.task_name),))] == 1


SCRAPE_CONFIG = ROOT / "deploy" / "prometheus.yml"


def operations_files() -> dict[str, str]:
    """The alert rules and the dashboard: the files that name metrics."""
    return {
        path.name: path.read_text() for path in sorted((ROOT / "deploy").iterdir()) if path != SCRAPE_CONFIG
    }


def test_every_metric_the_dashboard_and_the_alert_rules_name_is_on_metrics(client):
    families = list(text_string_to_metric_families(scrape(client)))
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    served = {family.name + suffix for family in families for suffix in suffixes[family.type]}
    files = operations_files()
    assert {"boxoffice.rules.yml", "grafana-dashboard.json"} <= set(files)
    for name, text in files.items():
        named = set(re.findall(r"\bboxoffice_[a-z0-9_]+", text))
        assert named, name
        assert named <= served, (name, named - served)


def promtool() -> str:
    """`promtool`, where `make test` put it (.venv/bin, see .ci/ensure-promtool) or on the PATH."""
    found = shutil.which("promtool", path=child_env()["PATH"])
    if found is None:
        pytest.skip(
            "promtool is not installed (from Debian's prometheus package: `make test` fetches it as root)"
        )
    return found


def test_alert_rules_pass_promtool():
    rules = sorted(str(path) for path in (ROOT / "deploy").glob("*.rules.yml"))
    result = subprocess.run([promtool(), "check", "rules", *rules], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_scrape_config_passes_promtool_and_sends_the_metrics_token(tmp_path):
    """Checked where its token file exists, as promtool checks that too."""
    for path in (ROOT / "deploy").glob("*.yml"):
        (tmp_path / path.name).write_text(path.read_text())
    config = yaml.safe_load(SCRAPE_CONFIG.read_text())
    [job] = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics" and job["authorization"]["type"] == "Bearer"
    (tmp_path / job["authorization"]["credentials_file"]).write_text(METRICS_TOKEN + "\n")
    result = subprocess.run([promtool(), "check", "config", str(tmp_path / SCRAPE_CONFIG.name)],
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_metrics_are_served_only_to_the_bearer_of_the_token(client):
    assert client.get("/metrics", headers=METRICS_AUTH).status_code == 200
    for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": METRICS_AUTH["Authorization"][7:]},
                    {"Authorization": "Basic " + METRICS_AUTH["Authorization"][7:]}):  # fmt: skip
        refused = client.get("/metrics", headers=headers)
        assert (refused.status_code, refused.json["errors"]["reason"]) == (401, "metrics_token_required"), (
            headers
        )
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
        assert "boxoffice_" not in refused.get_data(as_text=True)


def test_without_a_token_metrics_are_not_served(settings, app):
    with app_on(settings, app, metrics_token="") as client:
        assert client.get("/metrics").status_code == 404
        assert client.get("/metrics", headers=METRICS_AUTH).status_code == 404


def test_the_dashboard_is_grafana_json_with_a_query_in_every_panel():
    dashboard = json.loads(operations_files()["grafana-dashboard.json"])
    assert dashboard["panels"]
    for panel in dashboard["panels"]:
        assert panel["targets"] and all(target["expr"] for target in panel["targets"]), panel["title"]


def test_promtool_finds_nothing_wrong_with_a_scrape(client, organizer, make_event, make_user, auth_header):
    checker = promtool()
    event = make_event(organizer, quota=5)
    client.post("/api/v1/bookings", json=body(event), headers=auth_header(make_user()))
    drain(event)
    result = subprocess.run(
        [checker, "check", "metrics"], input=scrape(client), capture_output=True, text=True
    )
    assert result.returncode == 0 and not result.stdout + result.stderr, result.stdout + result.stderr
