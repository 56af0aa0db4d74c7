"""Settings read from the environment (12-factor), each with a default that works on one machine.

Production (`BOXOFFICE_ENV=production`) refuses the defaults that are only safe on a laptop and
names the variable to set. Outside production, a missing `JWT_SECRET_KEY` is this installation's
own random secret, made on first start and kept in `var/` (git-ignored): never a value written
in the code or the docs, which anyone could use to sign tokens and links (docs/security.md).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from core.redis_cluster import is_cluster_url

# The secret earlier versions used when JWT_SECRET_KEY was unset, published in their code: still
# the default of a `Settings()` made by hand (benchmarks), and warned about wherever it is in use.
DEV_JWT_SECRET = "dev-only-insecure-jwt-secret-change-me-please"
KNOWN_DEFAULT_SECRETS = frozenset({DEV_JWT_SECRET})
MIN_SECRET_LENGTH = 32
VAR_DIR = Path(__file__).resolve().parent.parent / "var"
DEFAULT_SQLITE_PATH = VAR_DIR / "boxoffice.sqlite3"
INSTALLATION_SECRET_FILE = "jwt-secret"


class ConfigError(RuntimeError):
    """A setting is missing or unusable; the message names the environment variable."""


def _str(env, name: str, default: str) -> str:
    value = env.get(name, "").strip()
    return value or default


def _int(env, name: str, default: int | None) -> int | None:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None


def _seconds(env, name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not value > 0:
        raise ConfigError(f"{name} must be more than 0 seconds, got {raw!r}")
    return value


def _bool(env, name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def installation_secret(var_dir: Path) -> str:
    """This installation's development secret: read from `var_dir`, or made at random by the first
    process to start. Processes that start together (web, worker, beat) agree: the file appears
    whole or not at all (written aside, then linked into place, which fails if another was first).
    """
    path = var_dir / INSTALLATION_SECRET_FILE
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        draft = var_dir / f".{INSTALLATION_SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as draft_file:
            draft_file.write(secrets.token_hex(32) + "\n")
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


def _list(env, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    return tuple(part.strip() for part in raw.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    database_url: str = f"sqlite:///{DEFAULT_SQLITE_PATH}"
    redis_url: str = "redis://127.0.0.1:6379/0"
    # A hung Redis answers a request with a 503 after this long instead of holding its thread.
    redis_socket_timeout: float = 1.0
    redis_connect_timeout: float = 0.5
    # The Celery broker; empty: REDIS_URL, when that is one Redis (a cluster cannot be a broker).
    celery_broker_url: str = ""
    # How many replicas must have a booking before the API answers 202 (Redis's WAIT), and how
    # long to wait for them; None: 1 on a Redis Cluster, 0 on one Redis (docs/scaling.md, "Failover").
    redis_wait_replicas: int | None = None
    redis_wait_timeout: float = 0.1
    # Redis connections of one process (web or worker) at most; more callers wait for one.
    redis_max_connections: int = 200
    jwt_secret_key: str = DEV_JWT_SECRET
    access_token_seconds: int = 15 * 60
    refresh_token_seconds: int = 30 * 24 * 3600
    public_base_url: str = "http://127.0.0.1:8000"
    # The operator's own booking page; empty: Boxoffice's built-in one (see core/booking_links.py).
    frontend_url: str = ""
    cors_origins: tuple[str, ...] = ()
    admin_email: str = ""
    admin_password: str = ""
    login_rate_limit: str = "10 per minute"
    register_rate_limit: str = "20 per hour"
    booking_rate_limit: str = "30 per minute"
    # Wrong voucher codes (api/voucher_guesses.py): per client address, and per event from any.
    voucher_guess_limit: str = "10 per 15 minutes"
    voucher_guess_event_limit: str = "100 per 15 minutes"
    # Failed sign-ins per account (the email tried), whatever the address; a success does not
    # reset the count.
    login_failure_limit: str = "10 per 15 minutes"
    # How many proxies in front of the API append to X-Forwarded-For: the client address is the
    # one the nearest of them saw. 0 believes no such header (a client could name any address).
    trusted_proxies: int = 0
    # Each account endpoint (reset, verification, password change) per address and per account.
    account_rate_limit: str = "5 per 15 minutes"
    password_reset_seconds: int = 3600
    email_verification_seconds: int = 7 * 24 * 3600
    require_verified_email: bool = False
    rate_limits_enabled: bool = True
    payment_provider: str = "local"
    stripe_secret_key: str = ""
    stripe_webhook_secret: str = ""
    stripe_api_base: str = ""
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_security: str = "none"
    smtp_timeout: int = 10
    mail_sender: str = "Boxoffice <tickets@boxoffice.localhost>"
    ticket_signing_key: str = ""
    # The bearer token Prometheus sends for /metrics; empty: /metrics is not served at all.
    metrics_token: str = ""
    allocation_batch_size: int = 1000
    hold_expiry_interval: int = 5
    # Entrants given their queue numbers per Redis step when a waiting room is shuffled: bounds
    # how long one step blocks Redis (`core.services.waiting_room`).
    waiting_room_chunk: int = 1000
    # Seconds between the comments that keep an idle status stream open (`GET .../events`);
    # a client that went away is noticed at the next one.
    live_status_keepalive: float = 15.0
    # A directory: every process of the booking path writes its timestamps there
    # (`core.drain_trace`, for `bench/decision_stages.py`); empty: no trace, and no cost.
    drain_trace: str = ""
    # The booking and status endpoints' short path (`api.rush_path`); false serves their fully
    # decorated views alone, which answer the same, a little slower (docs/architecture.md).
    lean_rush_path: bool = True
    extra: dict = field(default_factory=dict)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def broker_url(self) -> str:
        return self.celery_broker_url or self.redis_url

    @property
    def booking_replicas(self) -> int:
        """Replicas a booking must reach before its 202 (`redis_wait_replicas`, or its default)."""
        if self.redis_wait_replicas is not None:
            return self.redis_wait_replicas
        return 1 if is_cluster_url(self.redis_url) else 0

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, env=None, var_dir: Path = VAR_DIR) -> Settings:
        env = os.environ if env is None else env
        stripe_key = _str(env, "STRIPE_SECRET_KEY", "")
        environment = _str(env, "BOXOFFICE_ENV", "development")
        # Production names its own secret (validate() refuses it missing); elsewhere the installation's.
        jwt_secret_key = _str(env, "JWT_SECRET_KEY", "") or (
            "" if environment == "production" else installation_secret(var_dir)
        )
        port = _int(env, "PORT", 8000)
        settings = cls(
            env=environment,
            database_url=_normalize_database_url(_str(env, "DATABASE_URL", cls.database_url)),
            redis_url=_str(env, "REDIS_URL", cls.redis_url),
            redis_socket_timeout=_seconds(env, "REDIS_SOCKET_TIMEOUT", cls.redis_socket_timeout),
            redis_connect_timeout=_seconds(env, "REDIS_CONNECT_TIMEOUT", cls.redis_connect_timeout),
            celery_broker_url=_str(env, "CELERY_BROKER_URL", ""),
            redis_wait_replicas=_int(env, "REDIS_WAIT_REPLICAS", None),
            redis_wait_timeout=_seconds(env, "REDIS_WAIT_TIMEOUT", cls.redis_wait_timeout),
            jwt_secret_key=jwt_secret_key,
            redis_max_connections=_int(env, "REDIS_MAX_CONNECTIONS", cls.redis_max_connections),
            access_token_seconds=_int(env, "JWT_ACCESS_TOKEN_SECONDS", cls.access_token_seconds),
            refresh_token_seconds=_int(env, "JWT_REFRESH_TOKEN_SECONDS", cls.refresh_token_seconds),
            # Links follow the port the app is served on unless the operator says otherwise.
            public_base_url=_str(env, "PUBLIC_BASE_URL", f"http://127.0.0.1:{port}").rstrip("/"),
            frontend_url=_str(env, "FRONTEND_URL", ""),
            cors_origins=_list(env, "CORS_ORIGINS", ()),
            admin_email=_str(env, "ADMIN_EMAIL", ""),
            admin_password=_str(env, "ADMIN_PASSWORD", ""),
            login_rate_limit=_str(env, "LOGIN_RATE_LIMIT", cls.login_rate_limit),
            register_rate_limit=_str(env, "REGISTER_RATE_LIMIT", cls.register_rate_limit),
            booking_rate_limit=_str(env, "BOOKING_RATE_LIMIT", cls.booking_rate_limit),
            voucher_guess_limit=_str(env, "VOUCHER_GUESS_LIMIT", cls.voucher_guess_limit),
            voucher_guess_event_limit=_str(env, "VOUCHER_GUESS_EVENT_LIMIT", cls.voucher_guess_event_limit),
            login_failure_limit=_str(env, "LOGIN_FAILURE_LIMIT", cls.login_failure_limit),
            trusted_proxies=_int(env, "TRUSTED_PROXIES", cls.trusted_proxies),
            rate_limits_enabled=_bool(env, "RATE_LIMITS_ENABLED", True),
            account_rate_limit=_str(env, "ACCOUNT_RATE_LIMIT", cls.account_rate_limit),
            password_reset_seconds=_int(env, "PASSWORD_RESET_SECONDS", cls.password_reset_seconds),
            email_verification_seconds=_int(
                env, "EMAIL_VERIFICATION_SECONDS", cls.email_verification_seconds
            ),
            require_verified_email=_bool(env, "REQUIRE_VERIFIED_EMAIL", False),
            payment_provider=_str(env, "PAYMENT_PROVIDER", "stripe" if stripe_key else "local"),
            stripe_secret_key=stripe_key,
            stripe_webhook_secret=_str(env, "STRIPE_WEBHOOK_SECRET", ""),
            stripe_api_base=_str(env, "STRIPE_API_BASE", ""),
            smtp_host=_str(env, "SMTP_HOST", cls.smtp_host),
            smtp_port=_int(env, "SMTP_PORT", cls.smtp_port),
            smtp_username=_str(env, "SMTP_USERNAME", ""),
            smtp_password=_str(env, "SMTP_PASSWORD", ""),
            smtp_security=_str(env, "SMTP_SECURITY", "none"),
            smtp_timeout=_int(env, "SMTP_TIMEOUT", cls.smtp_timeout),
            mail_sender=_str(env, "MAIL_SENDER", cls.mail_sender),
            ticket_signing_key=_str(env, "TICKET_SIGNING_KEY", ""),
            metrics_token=_str(env, "METRICS_TOKEN", ""),
            allocation_batch_size=_int(env, "ALLOCATION_BATCH_SIZE", cls.allocation_batch_size),
            hold_expiry_interval=_int(env, "HOLD_EXPIRY_INTERVAL", cls.hold_expiry_interval),
            waiting_room_chunk=_int(env, "WAITING_ROOM_CHUNK", cls.waiting_room_chunk),
            live_status_keepalive=_seconds(env, "LIVE_STATUS_KEEPALIVE", cls.live_status_keepalive),
            drain_trace=_str(env, "DRAIN_TRACE", ""),
            lean_rush_path=_bool(env, "LEAN_RUSH_PATH", cls.lean_rush_path),
        )
        settings.validate()
        if settings.is_production:
            _require_explicit(env)
        return settings

    def validate(self) -> None:
        if self.payment_provider not in {"local", "stripe"}:
            raise ConfigError("PAYMENT_PROVIDER must be 'local' or 'stripe'")
        if self.payment_provider == "stripe" and not self.stripe_secret_key:
            raise ConfigError("PAYMENT_PROVIDER=stripe needs STRIPE_SECRET_KEY")
        if self.smtp_security not in {"none", "starttls", "ssl"}:
            raise ConfigError("SMTP_SECURITY must be one of none, starttls, ssl")
        if self.frontend_url and urlsplit(self.frontend_url).scheme not in {"http", "https"}:
            raise ConfigError(
                "FRONTEND_URL must be an http(s) address, like https://tickets.example.com/booking"
            )
        if self.allocation_batch_size < 1:
            raise ConfigError("ALLOCATION_BATCH_SIZE must be at least 1")
        if self.redis_max_connections < 1:
            raise ConfigError("REDIS_MAX_CONNECTIONS must be at least 1")
        if self.waiting_room_chunk < 1:
            raise ConfigError("WAITING_ROOM_CHUNK must be at least 1")
        if self.trusted_proxies < 0:
            raise ConfigError("TRUSTED_PROXIES must be 0 or more")
        if self.redis_wait_replicas is not None and self.redis_wait_replicas < 0:
            raise ConfigError("REDIS_WAIT_REPLICAS must be 0 or more")
        if is_cluster_url(self.broker_url):
            raise ConfigError(
                "A Redis Cluster cannot be the Celery broker: set CELERY_BROKER_URL to an amqp:// RabbitMQ "
                "(or to a single redis:// Redis)"
            )
        if self.metrics_token and len(self.metrics_token) < MIN_SECRET_LENGTH:
            raise ConfigError(
                f"METRICS_TOKEN must be a random secret of at least {MIN_SECRET_LENGTH} characters "
                "(openssl rand -hex 32), or unset to serve no metrics"
            )
        if not self.is_production:
            return
        if self.jwt_secret_key in KNOWN_DEFAULT_SECRETS or len(self.jwt_secret_key) < MIN_SECRET_LENGTH:
            raise ConfigError(
                "JWT_SECRET_KEY must be set to a random secret of at least 32 characters in production"
            )
        if self.is_sqlite:
            raise ConfigError("DATABASE_URL must point at PostgreSQL in production")
        if not self.ticket_signing_key:
            raise ConfigError("TICKET_SIGNING_KEY must be set in production (base64 Ed25519 seed)")
        if self.payment_provider == "local":
            raise ConfigError(
                "PAYMENT_PROVIDER=local is a test checkout that takes no money and is refused in "
                "production: set PAYMENT_PROVIDER=stripe with STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET"
            )
        if self.payment_provider == "stripe" and not self.stripe_webhook_secret:
            raise ConfigError("STRIPE_WEBHOOK_SECRET must be set when PAYMENT_PROVIDER=stripe")


# Settings whose development default would be wrong in production, not insecure: a link to
# localhost in every mail, tickets handed to a catcher that delivers nothing.
_EXPLICIT_IN_PRODUCTION = {
    "PUBLIC_BASE_URL": "the address customers reach the API at, which mails and checkouts link to",
    "SMTP_HOST": "the mail server that delivers tickets and account mails",
}


def _require_explicit(env) -> None:
    for name, what in _EXPLICIT_IN_PRODUCTION.items():
        if not env.get(name, "").strip():
            raise ConfigError(f"{name} must be set in production: {what}")


def _normalize_database_url(url: str) -> str:
    """Accept the `postgres://` spelling that hosting platforms hand out."""
    if url.startswith("postgres://"):
        return "postgresql+psycopg2://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        return "postgresql+psycopg2://" + url[len("postgresql://") :]
    return url
