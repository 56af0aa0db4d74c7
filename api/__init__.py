"""The HTTP API: a thin Flask layer that parses requests, calls one `core` service, and answers.

`gunicorn "api:create_app()"` serves it; `flask --app api:create_app create-admin` is its CLI.
"""

from __future__ import annotations

import logging

import click
from flask import Flask
from flask_cors import CORS
from sqlalchemy.exc import IntegrityError
from werkzeug.middleware.proxy_fix import ProxyFix

from api import auth, capability_links, db, docs, errors, json_body, metrics, request_id, rush_path
from api.extensions import Api, init_limiter
from api.resources import (
    accounts,
    admin,
    back_office,
    bookings,
    events,
    health,
    organizer,
    pages,
    payments,
    questions,
    seating,
    tickets,
    vouchers,
    waiting_room,
)
from core import request_ids, runtime, startup
from core.config import Settings
from core.logging_setup import configure_logging
from core.services.accounts import ensure_admin

log = logging.getLogger(__name__)

BLUEPRINTS = (
    accounts.blp,
    admin.blp,
    events.blp,
    organizer.blp,
    vouchers.blp,
    questions.blp,
    seating.blp,
    bookings.blp,
    payments.blp,
    pages.blp,
    tickets.blp,
    back_office.blp,
    waiting_room.blp,
)


def create_app(config: Settings | None = None) -> Flask:
    settings = config or Settings.from_env()
    configure_logging()
    runtime.configure(settings)
    for warning in startup.check(settings, runtime.redis_client()):
        log.warning(warning)
    runtime.set_dispatcher(_job_dispatcher())
    app = Flask(__name__)
    json_body.init_app(app)
    if settings.trusted_proxies:  # the client address rate limits count by is the proxies' word
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies)
    app.config.update(
        **docs.config(),
        MAX_CONTENT_LENGTH=1024 * 1024,
        RATELIMIT_ENABLED=settings.rate_limits_enabled,
        RATELIMIT_STORAGE_URI=settings.redis_url,
        RATELIMIT_STORAGE_OPTIONS=runtime.limiter_storage_options(settings),
        RATELIMIT_KEY_PREFIX="ratelimit",
        **{rush_path.SWITCH: settings.lean_rush_path},
    )
    request_id.init_app(app)
    db.init_app(app)
    errors.init_app(app)
    capability_links.init_app(app)
    auth.init_app(app)
    init_limiter(app)
    api = Api(app, spec_kwargs={"extra_plugins": [docs.DocsPlugin(app)]})
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    app.register_blueprint(health.blp)
    docs.init_app(app)
    metrics.init_app(app)
    # No origin allowed (the default): flask-cors would add no header to any answer, yet still
    # match every request's path against its rules; it is not installed at all.
    if settings.cors_origins:
        CORS(
            app,
            origins=list(settings.cors_origins),
            expose_headers=["Location", "Retry-After", "ETag", request_ids.HEADER],
        )
    app.cli.add_command(create_admin_command)
    if settings.admin_email and settings.admin_password:
        _create_first_admin(settings)
    return app


def _job_dispatcher():
    """Jobs go to the Celery broker; importing the worker's app object is the only link to it."""
    from worker.celery_app import dispatch_job

    return dispatch_job


def _create_first_admin(settings: Settings) -> None:
    try:
        with runtime.database().unit_of_work() as uow:
            _, created = ensure_admin(uow, settings.admin_email, settings.admin_password)
    except IntegrityError:  # another process created it at the same moment
        return
    if created:
        log.info("created the first administrator %s", settings.admin_email)


@click.command("create-admin")
@click.option("--email", required=True)
@click.option("--password", required=True, prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--name", default="Administrator")
def create_admin_command(email: str, password: str, name: str) -> None:
    """Create an administrator account (does nothing if the email is taken)."""
    with runtime.database().unit_of_work() as uow:
        user, created = ensure_admin(uow, email, password, name)
    click.echo(f"{'created' if created else 'exists already'}: {user.email} ({user.role})")
