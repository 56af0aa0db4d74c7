"""Settings: defaults that work on one machine, and a production mode that refuses them."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from core.config import (
    INSTALLATION_SECRET_FILE,
    KNOWN_DEFAULT_SECRETS,
    MIN_SECRET_LENGTH,
    VAR_DIR,
    ConfigError,
    Settings,
    installation_secret,
)

SECURE = {
    "BOXOFFICE_ENV": "production",
    "JWT_SECRET_KEY": "k" * 40,
    "DATABASE_URL": "postgresql://app@db/boxoffice",
    "TICKET_SIGNING_KEY": "c2VlZA==",
    "STRIPE_SECRET_KEY": "sk_live_x",
    "STRIPE_WEBHOOK_SECRET": "whsec_x",
    "PUBLIC_BASE_URL": "https://tickets.example",
    "SMTP_HOST": "smtp.example",
}


def test_defaults_work_on_one_machine():
    settings = Settings.from_env({})
    assert settings.database_url.startswith("sqlite:///")
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.payment_provider == "local"


def test_stripe_is_chosen_when_a_key_is_configured():
    assert Settings.from_env({"STRIPE_SECRET_KEY": "sk_test_x"}).payment_provider == "stripe"


def test_postgres_urls_are_normalized():
    url = Settings.from_env({"DATABASE_URL": "postgres://u@h/db"}).database_url
    assert url == "postgresql+psycopg2://u@h/db"


def test_a_secure_production_configuration_is_accepted():
    assert Settings.from_env(SECURE).is_production


@pytest.mark.parametrize(
    ("missing", "variable"),
    [
        ("JWT_SECRET_KEY", "JWT_SECRET_KEY"),
        ("DATABASE_URL", "DATABASE_URL"),
        ("TICKET_SIGNING_KEY", "TICKET_SIGNING_KEY"),
        ("PUBLIC_BASE_URL", "PUBLIC_BASE_URL"),
        ("SMTP_HOST", "SMTP_HOST"),
    ],
)
def test_production_refuses_insecure_defaults_and_names_the_variable(missing, variable):
    env = {k: v for k, v in SECURE.items() if k != missing}
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env(env)


def test_production_refuses_the_local_test_checkout():
    # The local checkout confirms whatever its page is told: in production it would give tickets away.
    without_stripe = {k: v for k, v in SECURE.items() if not k.startswith("STRIPE_")}
    for env in (without_stripe, {**SECURE, "PAYMENT_PROVIDER": "local"}):
        with pytest.raises(ConfigError, match="PAYMENT_PROVIDER"):
            Settings.from_env(env)


def test_links_follow_the_port_the_app_is_served_on():
    assert Settings.from_env({"PORT": "8123"}).public_base_url == "http://127.0.0.1:8123"
    assert Settings.from_env({}).public_base_url == "http://127.0.0.1:8000"
    explicit = {"PORT": "8123", "PUBLIC_BASE_URL": "https://tickets.example/"}
    assert Settings.from_env(explicit).public_base_url == "https://tickets.example"


def test_production_refuses_a_short_jwt_secret():
    with pytest.raises(ConfigError, match="JWT_SECRET_KEY"):
        Settings.from_env({**SECURE, "JWT_SECRET_KEY": "short"})


@pytest.mark.parametrize(
    ("env", "variable"),
    [({"SMTP_PORT": "twenty-five"}, "SMTP_PORT"), ({"PAYMENT_PROVIDER": "paypal"}, "PAYMENT_PROVIDER"),
     ({"PAYMENT_PROVIDER": "stripe"}, "STRIPE_SECRET_KEY"), ({"RATE_LIMITS_ENABLED": "perhaps"}, "RATE_LIMITS_ENABLED"),
     ({"TRUSTED_PROXIES": "-1"}, "TRUSTED_PROXIES"), ({"TRUSTED_PROXIES": "one"}, "TRUSTED_PROXIES"),
     ({"FRONTEND_URL": "tickets.example/booking"}, "FRONTEND_URL")],
)  # fmt: skip
def test_unusable_settings_name_their_variable(env, variable):
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env(env)


def test_redis_timeouts_are_seconds_above_zero():
    settings = Settings.from_env({"REDIS_SOCKET_TIMEOUT": "2.5"})
    assert (settings.redis_socket_timeout, settings.redis_connect_timeout) == (2.5, 0.5)
    for bad in ("soon", "0", "-1"):
        with pytest.raises(ConfigError, match="REDIS_CONNECT_TIMEOUT"):
            Settings.from_env({"REDIS_CONNECT_TIMEOUT": bad})


# --- the development secret: the installation's own, never a published one ----------------------


def test_development_makes_a_secret_of_its_own_and_keeps_it(tmp_path):
    first = Settings.from_env({}, var_dir=tmp_path / "one").jwt_secret_key
    assert first not in KNOWN_DEFAULT_SECRETS and len(first) >= MIN_SECRET_LENGTH
    assert Settings.from_env({}, var_dir=tmp_path / "one").jwt_secret_key == first  # the next start
    assert Settings.from_env({}, var_dir=tmp_path / "two").jwt_secret_key != first  # another installation
    kept = tmp_path / "one" / INSTALLATION_SECRET_FILE
    assert kept.read_text().strip() == first
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert [path.name for path in (tmp_path / "one").iterdir()] == [INSTALLATION_SECRET_FILE]


def test_processes_starting_together_agree_on_the_secret(tmp_path):
    with ThreadPoolExecutor(8) as pool:
        secrets = set(pool.map(lambda _: installation_secret(tmp_path), range(32)))
    assert len(secrets) == 1


def test_a_secret_that_is_set_is_used_and_nothing_is_written(tmp_path):
    settings = Settings.from_env({"JWT_SECRET_KEY": "s" * 40}, var_dir=tmp_path)
    assert settings.jwt_secret_key == "s" * 40 and not (tmp_path / INSTALLATION_SECRET_FILE).exists()


def test_production_writes_no_secret_of_its_own(tmp_path):
    with pytest.raises(ConfigError, match="JWT_SECRET_KEY"):
        Settings.from_env({**SECURE, "JWT_SECRET_KEY": ""}, var_dir=tmp_path)
    assert not (tmp_path / INSTALLATION_SECRET_FILE).exists()


@pytest.mark.parametrize("secret", sorted(KNOWN_DEFAULT_SECRETS))
def test_production_refuses_a_published_secret(secret):
    with pytest.raises(ConfigError, match="JWT_SECRET_KEY"):
        Settings.from_env({**SECURE, "JWT_SECRET_KEY": secret})


def test_the_installation_secret_is_kept_out_of_git():
    ignored = (Path(__file__).resolve().parents[2] / ".gitignore").read_text().splitlines()
    assert VAR_DIR.name + "/" in ignored


CLUSTER = "redis+cluster://10.0.0.1:7000,10.0.0.2:7000"


def test_a_redis_cluster_needs_a_broker_of_its_own():
    with pytest.raises(
        ConfigError, match="A Redis Cluster cannot be the Celery broker: set CELERY_BROKER_URL"
    ):
        Settings.from_env({"REDIS_URL": CLUSTER})
    with pytest.raises(ConfigError, match="cannot be the Celery broker"):
        Settings.from_env({"REDIS_URL": "redis://r:6379/0", "CELERY_BROKER_URL": CLUSTER})
    settings = Settings.from_env({"REDIS_URL": CLUSTER, "CELERY_BROKER_URL": "amqp://guest:guest@mq:5672/bo"})
    assert settings.broker_url == "amqp://guest:guest@mq:5672/bo"


def test_one_redis_is_its_own_broker_and_waits_for_no_replica_unless_told():
    single = Settings.from_env({"REDIS_URL": "redis://r:6379/0"})
    assert single.broker_url == "redis://r:6379/0" and single.booking_replicas == 0
    assert Settings.from_env({"REDIS_WAIT_REPLICAS": "1"}).booking_replicas == 1


def test_a_cluster_waits_for_one_replica_by_default():
    env = {"REDIS_URL": CLUSTER, "CELERY_BROKER_URL": "amqp://mq//"}
    assert Settings.from_env(env).booking_replicas == 1
    assert Settings.from_env({**env, "REDIS_WAIT_REPLICAS": "0"}).booking_replicas == 0
    assert Settings.from_env({**env, "REDIS_WAIT_TIMEOUT": "0.05"}).redis_wait_timeout == 0.05
    with pytest.raises(ConfigError, match="REDIS_WAIT_REPLICAS must be 0 or more"):
        Settings.from_env({**env, "REDIS_WAIT_REPLICAS": "-1"})
