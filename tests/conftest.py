"""Shared fixtures: a fresh PostgreSQL database built by the migrations, a Redis database of
our own, a clean state for every test, and factories for users, organizations and events.

Set TEST_DATABASE_ADMIN_URL / TEST_REDIS_URL to point the suite at other servers.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import uuid

import pytest
import redis
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from flask_jwt_extended import create_access_token

from core import runtime
from core.config import Settings
from core.db import Database
from core.models import Base, Event, Organization, TicketType, User, utcnow
from core.services.accounts import hash_password

pytest_plugins = (
    "tests.smtp_sink",
    "tests.stripe_stub",
    "tests.payment_fixtures",
    "tests.faults",
    "tests.cluster",
    "tests.pooler",
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ADMIN_URL = os.environ.get(
    "TEST_DATABASE_ADMIN_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
# What Prometheus would send for /metrics (`METRICS_TOKEN`).
METRICS_TOKEN = "test-metrics-token-of-the-suite-0123456789"
METRICS_AUTH = {"Authorization": f"Bearer {METRICS_TOKEN}"}
# Set before any test module imports the worker package, whose Celery app reads it at import,
# and inherited by the worker processes the end-to-end tests start.
os.environ["REDIS_URL"] = REDIS_URL
PASSWORD = "correct horse battery"
_PASSWORD_HASH = hash_password(PASSWORD)  # hashing is slow on purpose: do it once


def migrate(database_url: str) -> None:
    config = Config(os.path.join(ROOT, "alembic.ini"))
    config.attributes["database_url"] = database_url
    config.attributes["skip_logging"] = True
    command.upgrade(config, "head")


@pytest.fixture(scope="session")
def database_url():
    """A database of our own for this run, created empty and built by `alembic upgrade head`."""
    name = f"boxoffice_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    migrate(url)
    yield url
    runtime.database().dispose()
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def settings(database_url):
    settings = Settings(
        env="test",
        database_url=database_url,
        redis_url=REDIS_URL,
        rate_limits_enabled=False,
        public_base_url="http://boxoffice.test",
        metrics_token=METRICS_TOKEN,
        jwt_secret_key=secrets.token_hex(32),  # never a published default (core.startup warns of those)
    )
    runtime.configure(settings)
    import worker  # noqa: F401 - registers the job dispatcher (Celery, on the test Redis database)

    return settings


@pytest.fixture(scope="session")
def db(settings) -> Database:
    return runtime.database()


@pytest.fixture(scope="session")
def redis_client(settings) -> redis.Redis:
    return runtime.redis_client()


@pytest.fixture(autouse=True)
def clean_state(request):
    """Every test starts from empty tables and an empty Redis database."""
    if "settings" not in request.fixturenames:
        yield
        return
    db = request.getfixturevalue("db")
    request.getfixturevalue("redis_client").flushdb()
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    with db.engine.begin() as connection:
        connection.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield


@pytest.fixture(scope="session")
def app(settings):
    from api import create_app

    return create_app(settings)


@pytest.fixture()
def client(app):
    return app.test_client()


# --- factories --------------------------------------------------------------------------------


@pytest.fixture()
def make_organization(db):
    def make(name: str = "Acme Concerts") -> Organization:
        with db.unit_of_work() as uow:
            organization = Organization(name=name, contact_email="hello@acme.test")
            uow.session.add(organization)
            uow.commit()
            return organization

    return make


@pytest.fixture()
def make_user(db):
    def make(role: str = "customer", organization: Organization | uuid.UUID | None = None,
             email: str | None = None, name: str = "Ada Lovelace") -> User:  # fmt: skip
        with db.unit_of_work() as uow:
            user = User(
                email=email or f"{role}-{uuid.uuid4().hex[:8]}@example.test",
                password_hash=_PASSWORD_HASH,
                name=name,
                role=role,
                organization_id=getattr(organization, "id", organization),
            )
            uow.session.add(user)
            uow.commit()
            return user

    return make


@pytest.fixture()
def customers(request, make_user) -> list[User]:
    """Customers to book with: as many as the test module's `CUSTOMERS` says (8 unless it says)."""
    count = getattr(request.module, "CUSTOMERS", 8)
    return [make_user(email=f"customer{i}@example.test", name=f"Customer {i}") for i in range(count)]


@pytest.fixture()
def auth_header(app):
    """Authorization header for a user, minted directly (the login flow has its own tests)."""

    def header(user: User) -> dict:
        with app.app_context():
            token = create_access_token(
                identity=str(user.id), additional_claims={"role": user.role, "sid": uuid.uuid4().hex}
            )
        return {"Authorization": f"Bearer {token}"}

    return header


@pytest.fixture()
def organizer(make_organization, make_user):
    return make_user("organizer", make_organization())


@pytest.fixture()
def make_event(db):
    """An event of the organizer's organization; published unless told otherwise."""

    def make(organizer: User, *, status: str = "published", quota: int = 100, price: int = 2500,
             currency: str = "EUR", ticket_types: list[dict] | None = None, **fields) -> Event:  # fmt: skip
        starts_at = fields.pop("starts_at", utcnow() + dt.timedelta(days=30))
        values = {
            "title": "Night at the Opera",
            "venue": "Grand Hall",
            "address": "1 Opera Square",
            "timezone": "Europe/Paris",
            "ends_at": starts_at + dt.timedelta(hours=3),
            **fields,
        }
        with db.unit_of_work() as uow:
            event = Event(organization_id=organizer.organization_id, starts_at=starts_at, status=status,
                          published_at=utcnow() if status == "published" else None, **values)  # fmt: skip
            for position, data in enumerate(
                ticket_types or [{"name": "Standard", "price": price, "quota": quota}]
            ):
                event.ticket_types.append(TicketType(position=position, currency=currency, **data))
            uow.session.add(event)
            uow.commit()
            return event

    return make
