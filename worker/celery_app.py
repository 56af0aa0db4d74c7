"""The Celery application, configured from the same settings as the API.

Tasks are acknowledged only after they finish (`acks_late`) and a task whose worker dies is
handed to another worker (`reject_on_worker_lost`): every task is written to be safe to run twice.

Its signals carry the request id (`core.request_ids`) from whatever sends a task into the task's
message headers, and bind it while the task runs, so a task's log lines (and the tasks it sends
in turn) name the HTTP request that caused it; a task beat started is named by its own task id.
They also log as JSON (`core.logging_setup`) instead of Celery's own format, count failed tasks,
and note when each of beat's sweeps last succeeded (for /metrics).
"""

from __future__ import annotations

from pathlib import Path

from celery import Celery, beat
from celery.signals import (
    before_task_publish,
    setup_logging,
    task_failure,
    task_postrun,
    task_prerun,
    worker_process_init,
)

from core import metrics, request_ids, runtime
from core.config import Settings
from core.jobs import Job, Periodic
from core.logging_setup import configure_logging

# The message header that carries the request id; a task reads it as `task.request.request_id`.
REQUEST_ID_HEADER = "request_id"
PERIODIC_TASKS = {periodic.task_name: periodic.value for periodic in Periodic}


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
        # Flower and `celery events` see a task from the moment it is sent (the worker's `-E`
        # sends the rest of its life).
        task_send_sent_event=True,
    )
    return app


def _process_settings() -> Settings:
    """The API (or a test) configured the process before importing this; a worker or beat process
    starts here, and reads its settings from the environment."""
    if not runtime.is_configured():
        runtime.configure(Settings.from_env())
    return runtime.settings()


celery_app = make_celery(_process_settings())


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


@setup_logging.connect
def _json_logs(loglevel=None, **_kwargs) -> None:
    # Connected, this replaces Celery's own logging set-up (worker and beat alike).
    configure_logging(loglevel or "INFO")


@before_task_publish.connect
def _send_request_id(headers=None, **_kwargs) -> None:
    current = request_ids.current()
    if current and headers is not None:
        headers.setdefault(REQUEST_ID_HEADER, current)


@task_prerun.connect
def _bind_request_id(task_id=None, task=None, **_kwargs) -> None:
    # The token goes back in postrun: a task run eagerly leaves its caller's id as it found it.
    task.request.request_id_token = request_ids.bind(
        getattr(task.request, REQUEST_ID_HEADER, None) or task_id
    )


@task_postrun.connect
def _unbind_request_id(sender=None, task=None, state=None, **_kwargs) -> None:
    token = getattr(task.request, "request_id_token", None)
    if token is not None:
        request_ids.unbind(token)
    name = getattr(sender, "name", None)
    if state == "SUCCESS" and name in PERIODIC_TASKS:
        metrics.record_periodic_success(runtime.redis_client(), PERIODIC_TASKS[name])


@task_failure.connect
def _count_failure(sender=None, **_kwargs) -> None:
    metrics.record_task_failure(runtime.redis_client(), getattr(sender, "name", "unknown"))
