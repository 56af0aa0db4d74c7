"""The job names `core` sends and the tasks `worker` runs are one set: `core.jobs`."""

from __future__ import annotations

import pytest

from core import runtime
from core.jobs import Job, Periodic


@pytest.fixture()
def celery_app(settings):
    from worker import app

    return app


def test_every_job_has_a_task_and_every_task_a_job(celery_app):
    ours = {name for name in celery_app.tasks if not name.startswith("celery.")}
    assert ours == {job.task_name for job in [*Job, *Periodic]}


def test_beat_starts_exactly_the_periodic_jobs(celery_app):
    scheduled = [entry["task"] for entry in celery_app.conf.beat_schedule.values()]
    assert sorted(scheduled) == sorted(job.task_name for job in Periodic)


def test_dispatch_refuses_a_job_name_spelt_by_hand(settings):
    with pytest.raises(TypeError, match="core.jobs.Job"):
        runtime.dispatch("drain_event", event_id="x")
    with pytest.raises(TypeError, match="core.jobs.Job"):
        runtime.dispatch(Periodic.EXPIRE_HOLDS)


def test_a_dispatched_job_reaches_the_broker_under_its_task_name(settings):
    from tests.jobs import take_jobs

    runtime.dispatch(Job.DRAIN_EVENT, event_id="e1")
    assert [(job.name, job.kwargs) for job in take_jobs()] == [("drain_event", {"event_id": "e1"})]
