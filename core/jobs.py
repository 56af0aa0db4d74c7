"""The names of the background jobs: the one contract between `core`, which sends them, and
`worker`, which runs them.

`runtime.dispatch` accepts only a `Job`, and each worker task is registered under its job's
`task_name`, so a misspelt job is an error where it is written, not a message nobody consumes.
`Periodic` names the sweeps only beat starts; nothing in `core` sends them. A test checks that
every name here has a task and every task a name here.
"""

from __future__ import annotations

from enum import StrEnum

# Our tasks share the broker with Celery's own (`celery.*`); the prefix keeps them apart.
TASK_PREFIX = "boxoffice."


class _TaskName(StrEnum):
    @property
    def task_name(self) -> str:
        """The name the worker registers and the broker message carries."""
        return TASK_PREFIX + self.value


class Job(_TaskName):
    """Work `core` sends after a commit (`runtime.dispatch`)."""

    DRAIN_EVENT = "drain_event"
    PREPARE_CHECKOUTS = "prepare_checkouts"
    EXPIRE_CHECKOUTS = "expire_checkouts"
    PROCESS_WEBHOOK_EVENT = "process_webhook_event"
    ISSUE_REFUNDS = "issue_refunds"
    SETTLE_CANCELLED_EVENT = "settle_cancelled_event"
    ISSUE_TICKETS = "issue_tickets"
    SEND_BOOKING_EMAILS = "send_booking_emails"
    SEND_ACCOUNT_EMAIL = "send_account_email"


class Periodic(_TaskName):
    """Sweeps beat starts on a schedule; they repair what a lost job or a crash left undone."""

    SWEEP_ALLOCATION_QUEUES = "sweep_allocation_queues"
    SWEEP_WAITING_ROOMS = "sweep_waiting_rooms"
    EXPIRE_HOLDS = "expire_holds"
    SWEEP_PAYMENTS = "sweep_payments"
    SWEEP_TICKETS = "sweep_tickets"
