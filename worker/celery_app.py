"""The Celery application, configured from the same settings as the API.

Tasks are acknowledged only after they finish (`acks_late`) and a task whose worker dies is
handed to another worker (`reject_on_worker_lost`): every task is written to be safe to run twice.
"""

from __future__ import annotations

from pathlib import Path

from celery import Celery, beat
from celery.signals import task_failure, worker_process_init

from core import allocation_stats, runtime
from core.config import Settings
from core.jobs import Job, Periodic


class PersistentScheduler(beat.PersistentScheduler):
    """Celery's beat scheduler, making the directory of its schedule file first: on a fresh
    clone the Procfile's `var/` does not exist (only the SQLite default made it)."""

    def setup_schedule(self):
        Path(self.schedule_filename).parent.mkdir(parents=True, exist_ok=True)
        super().setup_schedule()


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
        beat_scheduler=f"{__name__}:PersistentScheduler",
    )
    return app


celery_app = make_celery(runtime.settings())


def job_task(job: Job | Periodic, **options):
    """Register the decorated function as the task that runs `job`, under the job's one name."""
    return celery_app.task(name=job.task_name, **options)


def dispatch_job(job: Job, kwargs: dict) -> None:
    """How `core.runtime.dispatch` reaches Celery: by task name, with JSON arguments."""
    celery_app.send_task(job.task_name, kwargs=kwargs)


runtime.set_dispatcher(dispatch_job)


@worker_process_init.connect
def _fresh_connections_after_fork(**_kwargs) -> None:
    # Pooled connections must not be shared with the parent process after a fork.
    runtime.database().dispose()


@task_failure.connect
def _count_failure(sender=None, **_kwargs) -> None:
    allocation_stats.record_task_failure(runtime.redis_client(), getattr(sender, "name", "unknown"))
