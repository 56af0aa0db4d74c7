"""Checks made before serving: settings whose flaw shows only against a rule or the outside world.

`Settings.validate` judges the settings alone; these need more. The first administrator's password
must pass the password rule (today it failed deep inside the first request to the database, as a
traceback). Redis holds the allocation queues and their sequence numbers, so a Redis that keeps
nothing on disk loses accepted requests when it restarts: that is a warning on a laptop and a
refusal in production. A server whose `CONFIG` command is disabled (many managed services) cannot
be asked; then the operator is told to make sure, and start-up goes on. A secret whose value is
published (`core.config.KNOWN_DEFAULT_SECRETS`) is warned about loudly in every environment
(production refuses it outright): whoever knows it can forge sessions and booking links.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from core.config import KNOWN_DEFAULT_SECRETS, ConfigError, Settings
from core.errors import Invalid
from core.redis_cluster import primaries
from core.services.accounts import check_password_policy


def check(settings: Settings, client: redis.Redis | redis.RedisCluster) -> list[str]:
    """Raise ConfigError (naming the variable) for what must stop start-up; return warnings."""
    if settings.admin_email and settings.admin_password:
        try:
            check_password_policy(settings.admin_password)
        except Invalid as error:
            raise ConfigError(f"ADMIN_PASSWORD is refused: {error.message}") from None
    warnings = known_default_warnings(settings)
    problem = redis_persistence_problem(client)
    if problem is None:
        return warnings
    if settings.is_production and problem.persistence_off:
        raise ConfigError(f"{problem.message} Production needs it on for the Redis of REDIS_URL.")
    return [*warnings, problem.message]


def known_default_warnings(settings: Settings) -> list[str]:
    """A warning for each secret set to a value published in Boxoffice's code or docs."""
    if settings.jwt_secret_key not in KNOWN_DEFAULT_SECRETS:
        return []
    return [
        "INSECURE: JWT_SECRET_KEY is a published default: anyone can sign in as any account and "
        "forge booking and checkout links. Unset it (development then makes a random secret of "
        "its own in var/) or set it to a random secret (openssl rand -hex 32)."
    ]


@dataclass(frozen=True)
class PersistenceProblem:
    message: str
    persistence_off: bool  # known to be off, rather than not knowable from here


def redis_persistence_problem(client: redis.Redis | redis.RedisCluster) -> PersistenceProblem | None:
    """None when Redis (each primary of a cluster) keeps an append-only file or RDB snapshots,
    else what is wrong."""
    try:
        for node in primaries(client):
            if not _persists(node):
                return PersistenceProblem(
                    "Redis keeps nothing on disk (appendonly no, no save schedule): a restart loses every "
                    "queued request and resets the queue numbers. Turn on appendonly yes (appendfsync everysec).",
                    persistence_off=True,
                )
    except redis.ResponseError:
        return PersistenceProblem(
            "Cannot read Redis's persistence settings (CONFIG is disabled): make sure the Redis of "
            "REDIS_URL keeps an append-only file, or accepted requests are lost when it restarts.",
            persistence_off=False,
        )
    except redis.RedisError as error:
        return PersistenceProblem(
            f"Cannot check Redis's persistence now ({error}); /readyz shows when Redis answers.",
            persistence_off=False,
        )
    return None


def _persists(node: redis.Redis) -> bool:
    return node.config_get("appendonly").get("appendonly", "") == "yes" or bool(
        node.config_get("save").get("save", "").strip()
    )
