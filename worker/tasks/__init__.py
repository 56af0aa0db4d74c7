"""Celery tasks, one module per business area; each is a thin wrapper around a `core` service."""

from worker.tasks import allocation, notifications, payments, tickets

__all__ = ["allocation", "notifications", "payments", "tickets"]
