"""docker-compose.yml and the Procfile describe the same processes (no Docker engine here to run it)."""

from __future__ import annotations

import shlex
from pathlib import Path

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
        assert env["SMTP_HOST"] == "mail"


def test_every_compose_image_is_built_or_pinned_to_a_major_version():
    for name, service in compose()["services"].items():
        assert "build" in service or ":" in service["image"], name
