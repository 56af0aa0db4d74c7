"""The Celery application, configured from the same settings as the API.

Tasks are acknowledged only after they finish (`acks_late`) and a task whose worker dies is
handed to another worker (`reject_on_worker_lost`): every task is written to be safe to run twice.
"""

from __future__ import annotations

from pathlib import Path

from celery import Celery
from celery.signals import beat_init, task_failure, worker_process_init

from core import allocation_stats, runtime
from core.config import Settings


def make_celery(settings: Settings) -> Celery:
    app = Celery("boxoffice", broker=settings.redis_url)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        # An unacknowledged task comes back after this long; tasks here take seconds.
        broker_transport_options={"visibility_timeout": 300},
        timezone="UTC",
        worker_hijack_root_logger=False,
    )
    return app


celery_app = make_celery(runtime.settings())


def dispatch_job(name: str, kwargs: dict) -> None:
    """How `core.runtime.dispatch` reaches Celery: by task name, with JSON arguments."""
    celery_app.send_task(f"boxoffice.{name}", kwargs=kwargs)


runtime.set_dispatcher(dispatch_job)


@worker_process_init.connect
def _fresh_connections_after_fork(**_kwargs) -> None:
    # Pooled connections must not be shared with the parent process after a fork.
    runtime.database().dispose()


@beat_init.connect
def _schedule_directory(sender=None, **_kwargs) -> None:
    # Beat opens its schedule file just after this signal; on a fresh clone `var/` may not exist.
    Path(sender.schedule_filename).parent.mkdir(parents=True, exist_ok=True)


@task_failure.connect
def _count_failure(sender=None, **_kwargs) -> None:
    allocation_stats.record_task_failure(runtime.redis_client(), getattr(sender, "name", "unknown"))
