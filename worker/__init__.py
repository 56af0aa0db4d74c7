"""Background work: the Celery app (`celery -A worker worker`) and its beat schedule."""

from worker.celery_app import celery_app as app

__all__ = ["app"]
