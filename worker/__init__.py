"""Background work: the Celery app (`celery -A worker worker`) and its beat schedule.

Importing the package registers every task and its beat entries, so the worker, beat and
anything that sends tasks by name all see the same set.
"""

from worker import tasks
from worker.celery_app import celery_app as app

__all__ = ["app", "tasks"]
