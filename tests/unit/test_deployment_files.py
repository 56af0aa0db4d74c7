"""docker-compose.yml and the Procfile describe the same processes (no Docker engine here to run it)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import runpy
import shlex
from pathlib import Path

import pytest
import yaml
from gunicorn.config import Config

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def procfile() -> dict[str, list[str]]:
    entries = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = line.split(":", 1)
            entries[name.strip()] = shlex.split(command)
    return entries


def program(argv: list[str]) -> list[str]:
    """The command without its options: what runs, not how it is tuned."""
    words = []
    for word in argv:
        if word.startswith("-"):
            if word in ("-A",):
                words.append(word)
                continue
            break
        words.append(word)
    return words


def test_compose_has_every_service_boxoffice_needs():
    services = compose()["services"]
    assert {"postgres", "redis", "migrate", "web", "worker", "beat", "mail"} <= set(services)


def test_compose_runs_the_procfile_programs():
    services, processes = compose()["services"], procfile()
    for name in ("web", "worker", "beat"):
        assert program(services[name]["command"]) == program(processes[name]), name


def test_procfile_mail_sink_listens_where_the_app_sends_by_default():
    from core.config import Settings

    mail = " ".join(procfile()["mail"])
    assert f"127.0.0.1:${{SMTP_PORT:-{Settings().smtp_port}}}" in mail


def test_redis_keeps_an_append_only_file():
    command = compose()["services"]["redis"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"


def test_app_services_wait_for_the_migration_and_share_configuration():
    services = compose()["services"]
    assert services["migrate"]["command"] == ["alembic", "upgrade", "head"]
    for name in ("web", "worker", "beat"):
        service = services[name]
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        env = service["environment"]
        assert env["DATABASE_URL"] == services["migrate"]["environment"]["DATABASE_URL"]
        assert env["REDIS_URL"].startswith("redis://redis:")


def test_every_compose_image_is_ours_or_pinned_to_a_version():
    ours = compose()["services"]["migrate"]["image"]
    for name, service in compose()["services"].items():
        image = service["image"]
        assert image == ours or (":" in image and not image.endswith(":latest")), name


APP_SERVICES = ("web", "worker", "beat")
DEMANDED = ("JWT_SECRET_KEY", "TICKET_SIGNING_KEY", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET",
            "POSTGRES_PASSWORD", "PUBLIC_BASE_URL", "SMTP_HOST")  # fmt: skip
_VARIABLE = re.compile(r"\$\{(\w+)(?::([-?])([^}]*))?\}")


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's `${VAR}`, `${VAR:-default}` and `${VAR:?message}`, as `docker compose` reads them."""

    def one(match: re.Match) -> str:
        name, kind, text = match.groups()
        if env.get(name):
            return env[name]
        if kind == "?":
            raise LookupError(f"{name}: {text}")
        return text if kind == "-" else ""

    return _VARIABLE.sub(one, str(value)).replace("$$", "$")


def app_environment(env: dict[str, str]) -> dict[str, str]:
    return {
        name: interpolate(value, env) for name, value in compose()["services"]["web"]["environment"].items()
    }


def dockerfile_cmd() -> list[str]:
    [line] = [line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("CMD ")]
    return json.loads(line[len("CMD ") :])


def gunicorn_settings(**env: str) -> dict:
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        return runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_compose_demands_every_secret_and_names_it():
    secrets = {name: f"{name.lower()}-" + "x" * 40 for name in DEMANDED}
    assert app_environment(secrets)["BOXOFFICE_ENV"] == "production"
    for missing in DEMANDED:
        with pytest.raises(LookupError, match=missing):
            app_environment({name: value for name, value in secrets.items() if name != missing})


def test_compose_with_its_secrets_is_a_production_configuration_that_takes_stripe():
    from core.config import Settings

    secrets = dict.fromkeys(DEMANDED, "x" * 40)
    settings = Settings.from_env(app_environment({**secrets, "TICKET_SIGNING_KEY": "c2VlZA=="}))
    assert settings.is_production and settings.payment_provider == "stripe"


def test_gunicorn_is_started_the_same_way_everywhere():
    web = compose()["services"]["web"]["command"]
    for argv in (procfile()["web"], web, dockerfile_cmd()):
        assert argv[:2] == ["gunicorn", "api:create_app()"], argv
        assert argv[argv.index("--config") + 1] == "gunicorn.conf.py", argv
        assert {"--workers", "--threads", "--keep-alive", "--worker-class"}.isdisjoint(argv), argv
    assert web[web.index("--bind") + 1] == dockerfile_cmd()[dockerfile_cmd().index("--bind") + 1]
    assert "gunicorn.conf.py" in (ROOT / "Dockerfile").read_text()


def test_gunicorn_keeps_idle_connections_longer_than_upstreams_do():
    # Load balancers commonly close idle connections after 60 s: gunicorn must not close first.
    assert gunicorn_settings()["keepalive"] > 60


def test_gunicorn_takes_its_size_from_the_environment():
    default = gunicorn_settings(WEB_CONCURRENCY="", WEB_CONNECTIONS="")
    # gevent: thousands of waiting clients (long polls, status streams) per process.
    assert (default["workers"], default["worker_connections"], default["worker_class"]) == (2, 5000, "gevent")
    sized = gunicorn_settings(WEB_CONCURRENCY="3", WEB_CONNECTIONS="7")
    assert (sized["workers"], sized["worker_connections"]) == (3, 7)
    assert (
        interpolate(compose()["services"]["web"]["environment"]["WEB_CONCURRENCY"], {"WEB_CONCURRENCY": "9"})
        == "9"
    )
    assert (
        interpolate(compose()["services"]["web"]["environment"]["WEB_CONNECTIONS"], {"WEB_CONNECTIONS": "9"})
        == "9"
    )


class _Answer:
    """What gunicorn hands its logger: the answer's status once the app has answered, its headers."""

    def __init__(self, headers: list[tuple[str, str]], status_code: int | None = None):
        self.headers = headers
        if status_code is not None:
            self.status_code = status_code


def test_each_request_is_logged_once_by_gunicorn_as_a_json_line_naming_its_request_id(caplog):
    settings = gunicorn_settings()
    assert settings["logger_class"] is settings["RequestLog"] and "accesslog" not in settings
    request_log = settings["RequestLog"](Config())
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/api/v1/bookings", "REMOTE_ADDR": "203.0.113.9"}
    caplog.set_level(logging.INFO, logger="api.requests")
    request_log.access(_Answer([("Location", "/x"), ("X-Request-ID", "req-0001-abc")], 202), None, environ,
                       dt.timedelta(milliseconds=12.34))  # fmt: skip
    request_log.access(_Answer([]), None, environ, dt.timedelta(seconds=1))  # the app failed before answering
    caplog.set_level(logging.WARNING, logger="api.requests")
    request_log.access(_Answer([], 200), None, environ, dt.timedelta(0))  # not written below INFO
    fields = ("name", "method", "path", "status", "request_id", "duration_ms", "remote_addr")
    assert [tuple(getattr(record, field) for field in fields) for record in caplog.records] == [
        ("api.requests", "POST", "/api/v1/bookings", 202, "req-0001-abc", 12.3, "203.0.113.9"),
        ("api.requests", "POST", "/api/v1/bookings", None, None, 1000.0, "203.0.113.9"),
    ]
    assert caplog.records[0].getMessage() == "POST /api/v1/bookings 202"


def test_celery_workers_send_task_events_and_honour_their_concurrency():
    worker = compose()["services"]["worker"]["command"]
    for argv in (procfile()["worker"], worker):
        assert "-E" in argv, argv
    assert interpolate(worker[worker.index("--concurrency") + 1], {"WORKER_CONCURRENCY": "9"}) == "9"


def test_compose_builds_one_image_for_every_app_service():
    services = compose()["services"]
    builders = [name for name, service in services.items() if "build" in service]
    assert builders == ["migrate"]
    image = services["migrate"]["image"]
    for name in APP_SERVICES:
        assert services[name]["image"] == image and services[name]["pull_policy"] == "never", name


def test_every_app_service_has_a_health_check():
    services = compose()["services"]
    for name in APP_SERVICES:
        assert services[name]["healthcheck"]["test"], name
    assert "inspect ping" in " ".join(services["worker"]["healthcheck"]["test"])
    schedule = services["beat"]["command"][services["beat"]["command"].index("--schedule") + 1]
    assert schedule in " ".join(services["beat"]["healthcheck"]["test"])


def test_web_keeps_metrics_of_all_its_processes():
    assert compose()["services"]["web"]["environment"]["PROMETHEUS_MULTIPROC_DIR"].startswith("/")
    assert callable(gunicorn_settings()["child_exit"])


def test_the_build_context_leaves_out_what_the_image_does_not_need():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".venv", ".git", "var", "**/__pycache__"} <= ignored
    copied = [
        word
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.startswith("COPY ")
        for word in line.split()[1:-1]
    ]
    assert copied and all((ROOT / path).exists() and path not in ignored for path in copied)


CLUSTER_APPS = ("web-a", "web-b", "worker-a", "worker-b", "beat-a", "beat-b")


def test_the_cluster_profile_runs_three_primaries_three_replicas_rabbitmq_and_two_of_each_process():
    services = compose()["services"]
    nodes = [
        name
        for name, service in services.items()
        if "--cluster-enabled yes" in " ".join(service.get("command", []))
    ]
    assert len(nodes) == 6
    for name in nodes:
        command = " ".join(services[name]["command"])
        assert "--appendonly yes" in command and services[name]["profiles"] == ["cluster"]
    create = " ".join(services["redis-cluster"]["command"])
    assert all(f"{name}:6379" in create for name in nodes) and "--cluster-replicas 1" in create
    assert services["rabbitmq"]["profiles"] == ["cluster"]
    processes = procfile()
    for name in CLUSTER_APPS:
        service = services[name]
        assert service["profiles"] == ["cluster"], name
        assert program(service["command"]) == program(processes[name.split("-")[0]]), name
        assert service["depends_on"]["redis-cluster"]["condition"] == "service_completed_successfully"
        assert service["depends_on"]["rabbitmq"]["condition"] == "service_healthy"
        assert service["healthcheck"]["test"], name
        env = service["environment"]
        assert env["REDIS_URL"] == "redis+cluster://" + ",".join(f"{node}:6379" for node in nodes)
        assert (
            env["CELERY_BROKER_URL"].startswith("amqp://") and "@rabbitmq:5672/" in env["CELERY_BROKER_URL"]
        )
    assert {services[name]["ports"][0] for name in ("web-a", "web-b")} == {"8001:8000", "8002:8000"}
    assert "profiles" not in services["web"]  # `docker compose up` alone is the one-Redis stack


def test_the_cluster_profile_is_a_valid_production_configuration_waiting_for_a_replica():
    from core.config import Settings

    secrets = {**dict.fromkeys(DEMANDED, "x" * 40), "TICKET_SIGNING_KEY": "c2VlZA=="}
    env = {
        name: interpolate(value, secrets)
        for name, value in compose()["services"]["worker-a"]["environment"].items()
    }
    settings = Settings.from_env(env)
    assert settings.broker_url == env["CELERY_BROKER_URL"] and settings.booking_replicas == 1


def test_the_database_password_comes_from_the_environment_everywhere():
    secrets = {**dict.fromkeys(DEMANDED, "x" * 40), "POSTGRES_PASSWORD": "pw-from-env"}
    services = compose()["services"]
    assert interpolate(services["postgres"]["environment"]["POSTGRES_PASSWORD"], secrets) == "pw-from-env"
    for url in (app_environment(secrets)["DATABASE_URL"],
                interpolate(services["migrate"]["environment"]["DATABASE_URL"], secrets)):  # fmt: skip
        assert url.startswith("postgresql+psycopg2://boxoffice:pw-from-env@postgres:"), url


def _makefile_compose_hint() -> list[str]:
    [hint] = re.findall(r"docker compose [^)]*", (ROOT / "Makefile").read_text())
    return shlex.split(hint)


def test_the_makefiles_compose_hint_starts_redis_without_asking_for_any_secret():
    argv = _makefile_compose_hint()
    services_file = ROOT / argv[argv.index("-f") + 1]
    text = services_file.read_text()
    # Compose reads the whole file, whichever service it starts: no variable may be demanded.
    assert not _VARIABLE.search(text)
    services = yaml.safe_load(text)["services"]
    assert argv[-1] == "redis" and argv[-1] in services
    assert services["redis"]["image"] == compose()["services"]["redis"]["image"]
    assert all(port.startswith("127.0.0.1:") for service in services.values() for port in service["ports"])


def _lock() -> dict[str, list[str]]:
    """requirements.lock: each pinned distribution (normalized name) and its hashes."""
    pins: dict[str, list[str]] = {}
    name = None
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        pinned = re.match(r"^([A-Za-z0-9._-]+)==\S+", line)
        if pinned:
            name = re.sub(r"[-_.]+", "-", pinned.group(1)).lower()
            pins[name] = []
        elif name and line.strip().startswith("--hash=sha256:"):
            pins[name].append(line.strip().removesuffix("\\").strip())
    return pins


def test_the_lock_pins_every_runtime_requirement_with_hashes():
    import configparser

    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    required = [
        re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9._-]+", line.strip()).group()).lower()
        for line in setup["options"]["install_requires"].strip().splitlines()
    ]
    pins = _lock()
    assert set(required) <= set(pins), set(required) - set(pins)
    assert all(pins.values()), [name for name, hashes in pins.items() if not hashes]
    # No index of the machine that made it: the image installs from the public index.
    assert not re.search(
        r"^--(extra-index-url|index-url|find-links)", (ROOT / "requirements.lock").read_text(), re.M
    )


def test_the_image_installs_the_lock_with_hashes_and_nothing_else():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install --require-hashes -r requirements.lock" in dockerfile
    assert "pip install --no-deps ." in dockerfile
