"""The jobs our code sent to the broker, read back from the test Redis and run in this process.

Tests see exactly what was dispatched after each commit (the real Celery messages on the real
broker) and run the real tasks eagerly with `Task.apply`, retries included: an eager retry runs
again at once, without its back-off.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from core import runtime

QUEUE = "celery"


@dataclass(frozen=True)
class Job:
    name: str
    kwargs: dict


def take_jobs() -> list[Job]:
    """Everything waiting on the broker, oldest first, removed from it."""
    redis = runtime.redis_client()
    jobs = []
    while (raw := redis.rpop(QUEUE)) is not None:
        message = json.loads(raw)
        _args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        jobs.append(Job(message["headers"]["task"].removeprefix("boxoffice."), kwargs))
    return jobs


def run_job(job: Job):
    from worker.celery_app import celery_app

    return celery_app.tasks[f"boxoffice.{job.name}"].apply(kwargs=job.kwargs).get()


def run_jobs(*names: str, rounds: int = 20) -> list[Job]:
    """Run the waiting jobs called `names`, and those they send in turn, until none is left.

    Returns every job taken from the broker; those with other names are not run.
    """
    seen: list[Job] = []
    for _ in range(rounds):
        jobs = take_jobs()
        if not jobs:
            return seen
        seen.extend(jobs)
        for job in jobs:
            if job.name in names:
                run_job(job)
    raise AssertionError(f"jobs keep sending jobs: {seen[-5:]}")


def names(jobs: list[Job]) -> list[str]:
    return [job.name for job in jobs]
