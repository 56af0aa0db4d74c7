"""Settings: defaults that work on one machine, and a production mode that refuses them."""

from __future__ import annotations

import pytest

from core.config import ConfigError, Settings

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
