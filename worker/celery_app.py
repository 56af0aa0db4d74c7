"""The Celery application, configured from the same settings as the API.

Tasks are acknowledged only after they finish (`acks_late`) and a task whose worker dies is
handed to another worker (`reject_on_worker_lost`): every task is written to be safe to run twice.

The broker is `CELERY_BROKER_URL`: a single Redis (REDIS_URL's, by default) or RabbitMQ
(`amqp://`), which is what several machines should use (a Redis Cluster cannot be a broker:
the settings refuse it). On RabbitMQ the queue is a quorum queue (replicated, durable; a
retry's countdown uses RabbitMQ's native delayed delivery), a send waits for the broker's
confirmation, and heartbeats find a dead connection in well under a minute: docs/scaling.md,
"The broker".

Its signals carry the request id (`core.request_ids`) from whatever sends a task into the task's
message headers, and bind it while the task runs, so a task's log lines (and the tasks it sends
in turn) name the HTTP request that caused it; a task beat started is named by its own task id.
They also log as JSON (`core.logging_setup`) instead of Celery's own format, count failed tasks,
note when each of beat's sweeps last succeeded (for /metrics) and, with `DRAIN_TRACE` set, stamp
each task's sending, receipt, start and end (`core.drain_trace`). A worker or beat started on a published
secret says so loudly, as the web does. Each worker process, once set up, keeps its start-up
objects out of the cycle collector's walks (`core.cycle_collector.set_aside_start_up`).
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from celery import Celery, beat
from celery.signals import (
    beat_init,
    before_task_publish,
    setup_logging,
    task_failure,
    task_postrun,
    task_prerun,
    task_received,
    worker_init,
    worker_process_init,
)

from core import cycle_collector, drain_trace, metrics, request_ids, runtime, startup
from core import periodic as periodic_runs
from core.config import ConfigError, Settings
from core.jobs import Job, Periodic
from core.logging_setup import configure_logging

# The message header that carries the request id; a task reads it as `task.request.request_id`.
REQUEST_ID_HEADER = "request_id"
log = logging.getLogger(__name__)
PERIODIC_TASKS = {periodic.task_name: periodic.value for periodic in Periodic}


class PersistentScheduler(beat.PersistentScheduler):
    """Celery's beat scheduler, making the directory of its schedule file first: on a fresh
    clone the Procfile's `var/` does not exist (only the SQLite default made it)."""

    def setup_schedule(self):
        Path(self.schedule_filename).parent.mkdir(parents=True, exist_ok=True)
        super().setup_schedule()


AMQP_SCHEMES = ("amqp://", "amqps://", "pyamqp://")


def broker_options(broker_url: str) -> dict:
    """The settings that differ between the two brokers."""
    if broker_url.startswith(AMQP_SCHEMES):
        return {
            "task_default_queue_type": "quorum",
            # A send returns once RabbitMQ has the message: a job dispatched after a commit is
            # not lost in a broker's buffer.
            "broker_transport_options": {"confirm_publish": True},
            "broker_heartbeat": 30,
        }
    # An unacknowledged task comes back after this long; tasks here take seconds.
    return {"broker_transport_options": {"visibility_timeout": 300}}


def make_celery(settings: Settings) -> Celery:
    app = Celery("boxoffice", broker=settings.broker_url)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        **broker_options(settings.broker_url),
        timezone="UTC",
        worker_hijack_root_logger=False,
        beat_scheduler=f"{__name__}:PersistentScheduler",
        # Flower and `celery events` see a task from the moment it is sent (the worker's `-E`
        # sends the rest of its life).
        task_send_sent_event=True,
    )
    return app


def _settings() -> Settings:
    """The process's settings. The API (or a test) configured the process before importing this;
    a worker or beat process starts here and reads them from the environment. A refused setting
    stops a worker or beat with its message in one line (Celery would print the import's traceback)."""
    try:
        if not runtime.is_configured():
            runtime.configure(Settings.from_env())
        return runtime.settings()
    except ConfigError as error:
        raise SystemExit(f"Error: {error}") from None


celery_app = make_celery(_settings())


def job_task(job: Job | Periodic, **options):
    """Register the decorated function as the task that runs `job`, under the job's one name."""
    return celery_app.task(name=job.task_name, **options)


def periodic_task(periodic: Periodic, every: float):
    """Register the decorated sweep as the task beat sends every `every` seconds; with several
    beats it still runs once per period (`core.periodic`), and a skipped copy returns None."""

    def register(sweep):
        @functools.wraps(sweep)
        def once_per_period():
            return periodic_runs.once_per_period(periodic.value, every, sweep)

        celery_app.conf.beat_schedule[periodic.value.replace("_", "-")] = {
            "task": periodic.task_name,
            "schedule": every,
        }
        return job_task(periodic)(once_per_period)

    return register


def dispatch_job(job: Job, kwargs: dict) -> None:
    """How `core.runtime.dispatch` reaches Celery: by task name, with JSON arguments."""
    celery_app.send_task(job.task_name, kwargs=kwargs)


runtime.set_dispatcher(dispatch_job)


@worker_process_init.connect
def _fresh_connections_after_fork(**_kwargs) -> None:
    # Pooled connections must not be shared with the parent process after a fork.
    runtime.database().dispose()


@worker_init.connect  # the main process: with the solo pool the one that drains; forked, the children inherit it
@worker_process_init.connect  # each child, once its own set-up is done
def _set_aside_start_up(**_kwargs) -> None:
    cycle_collector.set_aside_start_up()


@worker_init.connect
@beat_init.connect
def _warn_of_known_defaults(**_kwargs) -> None:
    # The web checks more at start-up (`core.startup.check`); a published secret matters here too.
    for warning in startup.known_default_warnings(runtime.settings()):
        log.warning(warning)


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


@before_task_publish.connect
def _trace_sent(headers=None, **_kwargs) -> None:
    drain_trace.stamp_sent(headers)


@task_received.connect
def _trace_received(request=None, **_kwargs) -> None:
    drain_trace.task_received(request.id)


@task_prerun.connect
def _trace_started(task_id=None, task=None, **_kwargs) -> None:
    task.request.trace_started = drain_trace.task_started(task_id)


@task_postrun.connect
def _trace_finished(sender=None, task_id=None, task=None, **_kwargs) -> None:
    sent_at = getattr(task.request, drain_trace.SENT_HEADER, None)
    drain_trace.task_finished(getattr(task.request, "trace_started", None), sender.name, task_id, sent_at)


@task_failure.connect
def _count_failure(sender=None, **_kwargs) -> None:
    metrics.record_task_failure(runtime.redis_client(), getattr(sender, "name", "unknown"))
