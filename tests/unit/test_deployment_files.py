"""docker-compose.yml and the Procfile describe the same processes (no Docker engine here to run it)."""

from __future__ import annotations

import json
import os
import re
import runpy
import shlex
from pathlib import Path

import pytest
import yaml

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
        assert interpolate(env["SMTP_HOST"], {}) == "mail"  # the mail catcher unless told otherwise


def test_every_compose_image_is_ours_or_pinned_to_a_version():
    ours = compose()["services"]["migrate"]["image"]
    for name, service in compose()["services"].items():
        image = service["image"]
        assert image == ours or (":" in image and not image.endswith(":latest")), name


APP_SERVICES = ("web", "worker", "beat")
DEMANDED = ("JWT_SECRET_KEY", "TICKET_SIGNING_KEY", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET")
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
