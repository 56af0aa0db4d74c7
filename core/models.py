"""The schema: SQLAlchemy 2 typed models for every table of docs/architecture.md, "Data model".

Inventory lives in counters (`held`, `sold`) on the ticket type and the event, guarded by CHECK
constraints so the database itself refuses an oversell whatever the code does.
"""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy import event as orm_events
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from uuid6 import uuid7

from core.statuses import (
    BookingStatus,
    EventStatus,
    PaymentStatus,
    QuestionType,
    RefundStatus,
    Role,
    TicketStatus,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_id() -> uuid.UUID:
    """Time-ordered ids (UUIDv7): sortable by creation, friendly to B-tree indexes."""
    return uuid7()


class UTCDateTime(TypeDecorator):
    """Stores UTC; always hands back an aware datetime (SQLite forgets the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _one_of(column: str, values: type[StrEnum]) -> str:
    """The CHECK that keeps a column inside its enum (members in their declared order)."""
    quoted = ", ".join(f"'{member.value}'" for member in values)
    return f"{column} IN ({quoted})"


def _trigram_index(name: str, column: str) -> Index:
    """A GIN trigram index on PostgreSQL, which serves `ILIKE '%text%'`; elsewhere (SQLite) a plain
    index, as migration 0006 builds it there too, so the models and the migrations agree."""
    return Index(name, column, postgresql_using="gin", postgresql_ops={column: "gin_trgm_ops"})


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _in_utc(_target, value, _old, _initiator):
    return value.astimezone(dt.UTC) if isinstance(value, dt.datetime) and value.tzinfo else value


@orm_events.listens_for(Base, "mapper_configured", propagate=True)
def _keep_times_in_utc(mapper, class_) -> None:
    """A time is UTC in memory too, as soon as it is set: an object answered right after it is
    written (an event's create answer) says what every later read of it will say."""
    for column in mapper.columns:
        if isinstance(column.type, UTCDateTime):
            orm_events.listen(
                getattr(class_, mapper.get_property_by_column(column).key), "set", _in_utc, retval=True
            )


class Organization(Base):
    __tablename__ = "organization"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    contact_email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


_NOT_A_GUEST = text(f"role <> '{Role.GUEST.value}'")


class User(Base):
    __tablename__ = "user"
    __table_args__ = (
        CheckConstraint(_one_of("role", Role), name="role"),
        # One account per address; a comp's guests (`Role.GUEST`) are not accounts, and one may
        # carry the address of an account or of another guest (migration 0010).
        Index(
            "uq_user_account_email",
            "email",
            unique=True,
            postgresql_where=_NOT_A_GUEST,
            sqlite_where=_NOT_A_GUEST,
        ),
        # The back office's searches (`ILIKE '%...%'`): trigram indexes on PostgreSQL (migration 0006).
        _trigram_index("ix_user_name_trgm", "name"),
        _trigram_index("ix_user_email_trgm", "email"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    # Stored as `core.email_addresses.normalize_email` spells it, so the unique index makes an
    # address one account however it is written.
    email: Mapped[str] = mapped_column(String(320))
    password_hash: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20), default=Role.CUSTOMER)
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organization.id", ondelete="RESTRICT"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set once the owner has used a verification link sent to `email`.
    email_verified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    organization: Mapped[Organization | None] = relationship()


class Event(Base):
    __tablename__ = "event"
    __table_args__ = (
        CheckConstraint(_one_of("status", EventStatus), name="status"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("hold_seconds > 0", name="hold_seconds_positive"),
        CheckConstraint("max_per_booking >= 1", name="max_per_booking_positive"),
        CheckConstraint("max_per_user >= 1", name="max_per_user_positive"),
        CheckConstraint(
            "held >= 0 AND sold >= 0 AND (capacity IS NULL OR held + sold <= capacity)",
            name="capacity_not_exceeded",
        ),
        Index("ix_event_status_starts_at", "status", "starts_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="RESTRICT"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str | None] = mapped_column(String(60), index=True)
    venue: Mapped[str] = mapped_column(String(200), default="")
    address: Mapped[str] = mapped_column(String(500), default="")
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    sales_start: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    sales_end: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # From then until `sales_start`, requests wait in a room shuffled at the opening
    # (`core.services.waiting_room`); null: no waiting room.
    waiting_room_opens_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20), default=EventStatus.DRAFT)
    hold_seconds: Mapped[int] = mapped_column(Integer, default=600)
    max_per_booking: Mapped[int] = mapped_column(Integer, default=10)
    max_per_user: Mapped[int] = mapped_column(Integer, default=10)
    waitlist_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    refund_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    capacity: Mapped[int | None] = mapped_column(Integer)
    held: Mapped[int] = mapped_column(Integer, default=0)
    sold: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    organization: Mapped[Organization] = relationship()
    ticket_types: Mapped[list[TicketType]] = relationship(
        back_populates="event", order_by="TicketType.position", cascade="all, delete-orphan"
    )
    questions: Mapped[list[Question]] = relationship(
        order_by="Question.position", cascade="all, delete-orphan"
    )


class TicketType(Base):
    __tablename__ = "ticket_type"
    __table_args__ = (
        CheckConstraint("held >= 0 AND sold >= 0 AND held + sold <= quota", name="quota_not_exceeded"),
        CheckConstraint("price >= 0", name="price_not_negative"),
        CheckConstraint("quota >= 0", name="quota_not_negative"),
        CheckConstraint("(surge_price IS NULL) = (surge_threshold IS NULL)", name="surge_complete"),
        CheckConstraint(
            "surge_price IS NULL OR (surge_price >= 0 AND surge_threshold >= 0)",
            name="surge_not_negative",
        ),
        CheckConstraint("min_per_booking >= 1", name="min_per_booking_positive"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    price: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    quota: Mapped[int] = mapped_column(Integer)
    held: Mapped[int] = mapped_column(Integer, default=0)
    sold: Mapped[int] = mapped_column(Integer, default=0)
    surge_price: Mapped[int | None] = mapped_column(Integer)
    surge_threshold: Mapped[int | None] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=0)
    # Sold only to a request carrying a voucher that unlocks it; never shown to the public.
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    # The type's own sales window, inside the event's (either end open).
    sales_start: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    sales_end: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    min_per_booking: Mapped[int] = mapped_column(Integer, default=1)
    # Sold as seats of the event's seating plan (`core.seating`): the quota is the number of its
    # seats in the plan that are not blocked, kept so by the plan and the blocking service.
    seated: Mapped[bool] = mapped_column(Boolean, default=False)

    event: Mapped[Event] = relationship(back_populates="ticket_types")


class Voucher(Base):
    """A code an event's organizers hand out: a discount, and perhaps access to hidden types.

    `redeemed` counts the bookings carrying the code that are held or confirmed; it moves with
    the tickets, under the event's inventory lock (`core.inventory`), and the CHECK refuses a
    101st redemption of a code good for 100 whatever the code does.
    """

    __tablename__ = "voucher"
    __table_args__ = (
        UniqueConstraint("event_id", "code", name="uq_voucher_event_id_code"),
        CheckConstraint("(discount_percent IS NULL) <> (discount_amount IS NULL)", name="one_discount"),
        CheckConstraint("discount_percent BETWEEN 0 AND 100", name="percent_in_range"),
        CheckConstraint("discount_amount >= 0", name="amount_not_negative"),
        CheckConstraint("max_redemptions >= 1", name="max_redemptions_positive"),
        CheckConstraint(
            "redeemed >= 0 AND (max_redemptions IS NULL OR redeemed <= max_redemptions)",
            name="redemptions_not_exceeded",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("event.id", ondelete="RESTRICT"), index=True)
    # Stored upper-cased: codes are matched regardless of case.
    code: Mapped[str] = mapped_column(String(64))
    discount_percent: Mapped[int | None] = mapped_column(Integer)
    # In the event's currency, off each ticket's price.
    discount_amount: Mapped[int | None] = mapped_column(Integer)
    max_redemptions: Mapped[int | None] = mapped_column(Integer)
    redeemed: Mapped[int] = mapped_column(Integer, default=0)
    valid_from: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    valid_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The ticket types the code applies to (and unlocks, if hidden); empty: every type.
    ticket_type_ids: Mapped[list] = mapped_column(JSON, default=list)
    unlocks_hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    # A voucher that was used is disabled rather than deleted: its bookings still point at it.
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Question(Base):
    """A question asked of each attendee of an event (of some of its ticket types, or all)."""

    __tablename__ = "question"
    __table_args__ = (CheckConstraint(_one_of("type", QuestionType), name="type"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(20))
    # The allowed answers of a `choice` question; empty for the other types.
    options: Mapped[list] = mapped_column(JSON, default=list)
    # Answered at booking (`core.services.attendees`): a booking without the answer is refused.
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    # The ticket types whose attendees are asked; empty: every type.
    ticket_type_ids: Mapped[list] = mapped_column(JSON, default=list)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Booking(Base):
    __tablename__ = "booking"
    __table_args__ = (
        CheckConstraint(_one_of("status", BookingStatus), name="status"),
        CheckConstraint("total >= 0", name="total_not_negative"),
        Index("ix_booking_event_status_seq", "event_id", "status", "queue_seq"),
        Index("ix_booking_status_hold_expires_at", "status", "hold_expires_at"),
        Index("ix_booking_user_event", "user_id", "event_id"),
        # The back office lists and exports an event's bookings in this order.
        Index("ix_booking_event_requested_at", "event_id", "requested_at", "id"),
        # A voucher's redemptions: most bookings carry no code, and have no entry (migration 0015).
        Index(
            "ix_booking_voucher_id",
            "voucher_id",
            postgresql_where=text("voucher_id IS NOT NULL"),
            sqlite_where=text("voucher_id IS NOT NULL"),
        ),
    )

    # Made by the API when it accepts the request: the idempotency key of the allocation step.
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="RESTRICT"))
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("event.id", ondelete="RESTRICT"))
    status: Mapped[str] = mapped_column(String(20))
    # The order in which the API accepted the request for this event: first come, first served.
    queue_seq: Mapped[int] = mapped_column(BigInteger)
    join_waitlist: Mapped[bool] = mapped_column(Boolean, default=False)
    # Asked for accessible seats: best available gives accessible and companion seats only to these.
    accessible: Mapped[bool] = mapped_column(Boolean, default=False)
    # Money is 64-bit: a booking's total is bounded by the event's rules
    # (`core.services.events.MAX_BOOKING_TOTAL`), far beyond what 32 bits hold.
    total: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    hold_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(String(40))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    # The code the request carried: one redemption while the booking is held or confirmed.
    voucher_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("voucher.id", ondelete="RESTRICT"))
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    user: Mapped[User] = relationship()
    event: Mapped[Event] = relationship()
    lines: Mapped[list[BookingLine]] = relationship(
        back_populates="booking", cascade="all, delete-orphan", lazy="selectin"
    )


class SeatingPlan(Base):
    """An event's seating plan: where the stage is (the focal point best available measures
    from) and a version that moves with every change of a seat's state, so the seat-map cache
    in Redis is only ever replaced by a newer picture (`core.seating.seat_map`)."""

    __tablename__ = "seating_plan"

    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), primary_key=True)
    focal_x: Mapped[float] = mapped_column(Float)
    focal_y: Mapped[float] = mapped_column(Float)
    version: Mapped[int] = mapped_column(BigInteger, default=1)
    # New with every plan laid out: what a process may cache of the plan's fixed part is keyed by it.
    layout_id: Mapped[uuid.UUID] = mapped_column(Uuid, default=new_id)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Seat(Base):
    """One seat of an event's plan. `position` is its order in the plan (rows in order, seats
    along each row), which is the order best available walks a row in."""

    __tablename__ = "seat"
    __table_args__ = (
        UniqueConstraint("event_id", "section", "row", "label", name="uq_seat_event_id_section_row_label"),
        Index("ix_seat_event_id_position", "event_id", "position"),
        # What an assignment's composite foreign key refers to (`SeatAssignment`).
        UniqueConstraint("id", "event_id", name="uq_seat_id_event_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    ticket_type_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ticket_type.id", ondelete="RESTRICT"), index=True
    )
    section: Mapped[str] = mapped_column(String(60))
    row: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(20))
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)
    accessible: Mapped[bool] = mapped_column(Boolean, default=False)
    # Beside an accessible seat, for the person who comes with its user.
    companion: Mapped[bool] = mapped_column(Boolean, default=False)
    # Taken out of sale by the organizers (a camera position, house seats): never allocated.
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer)


class SeatAssignment(Base):
    """A seat given to a booking (and, once tickets are issued, to one of its tickets).

    The assignment is live until `released_at` is set (the hold expired, the booking or the
    ticket was cancelled, the ticket moved). The partial unique index on `seat_id` over live
    rows is the constraint that makes a second live assignment of a seat impossible, whatever
    the code does; released rows stay as the seat's history.

    The drainer writes some 3.4 of these rows a decision in a rush, and each foreign key and
    index is work per row (docs/seating.md, "What an assignment row costs"): so the seat and its
    event are one composite key, `(seat_id, event_id)` → `seat(id, event_id)`, which also makes
    sure an assignment's event is its seat's; the row is known by what it says, the booking, the
    seat and when, a primary key that serves the look-ups by booking too (no id of its own); and
    `ticket_id` is indexed only where it is set (every row is written without one).
    """

    __tablename__ = "seat_assignment"
    __table_args__ = (
        PrimaryKeyConstraint("booking_id", "seat_id", "assigned_at", name="pk_seat_assignment"),
        Index(
            "uq_seat_assignment_live_seat",
            "seat_id",
            unique=True,
            postgresql_where=text("released_at IS NULL"),
            sqlite_where=text("released_at IS NULL"),
        ),
        ForeignKeyConstraint(
            ["seat_id", "event_id"],
            ["seat.id", "seat.event_id"],
            name="fk_seat_assignment_seat_id_event_id_seat",
            ondelete="CASCADE",
        ),
        # The event's assignments, and the lookups of the key's cascade from a deleted seat.
        Index("ix_seat_assignment_event_id_seat_id", "event_id", "seat_id"),
        Index(
            "ix_seat_assignment_ticket_id",
            "ticket_id",
            postgresql_where=text("ticket_id IS NOT NULL"),
            sqlite_where=text("ticket_id IS NOT NULL"),
        ),
    )

    booking_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("booking.id", ondelete="CASCADE"))
    seat_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    assigned_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    ticket_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("ticket.id", ondelete="SET NULL"))
    released_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class DeadLetter(Base):
    """A queued request the allocation could not decide: writing its booking failed (its account
    was deleted, a value out of range). The drainer sets it aside with the error, so the rest of
    the queue is decided; organizers and operators see it, nobody is served from it."""

    __tablename__ = "dead_letter"

    # The booking id the API gave the request: a replayed batch recognises it.
    booking_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("event.id", ondelete="RESTRICT"), index=True)
    # No foreign key: a vanished account is one reason a request ends here.
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    queue_seq: Mapped[int] = mapped_column(BigInteger)
    request: Mapped[dict] = mapped_column(JSON)
    error: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class WaitingRoom(Base):
    """An event's waiting room: the secret seed that orders it, and the record of its shuffle.

    The seed is drawn when the room is set up and kept here, where it survives anything that
    happens to Redis; only its SHA-256 (`seed_commitment`) is public until `shuffled_at`.
    """

    __tablename__ = "waiting_room"

    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), primary_key=True)
    seed: Mapped[str] = mapped_column(String(64))  # 32 random bytes, hex
    seed_commitment: Mapped[str] = mapped_column(String(64))  # sha256(bytes.fromhex(seed)), hex
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set once every entrant has its queue number: the seed is public from then on.
    shuffled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    entrants: Mapped[int | None] = mapped_column(Integer)
    first_queue_seq: Mapped[int | None] = mapped_column(BigInteger)


class BookingLine(Base):
    __tablename__ = "booking_line"
    __table_args__ = (
        CheckConstraint("quantity >= 1", name="quantity_positive"),
        CheckConstraint("unit_price >= 0", name="unit_price_not_negative"),
    )

    booking_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("booking.id", ondelete="CASCADE"), primary_key=True
    )
    ticket_type_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ticket_type.id", ondelete="RESTRICT"), primary_key=True, index=True
    )
    quantity: Mapped[int] = mapped_column(Integer)
    # Fixed when the hold is made (surge pricing may move the list price afterwards).
    unit_price: Mapped[int] = mapped_column(BigInteger)
    # Who the line's tickets are for, as the customer named them: `[{name, email, answers}]`, in
    # ticket order (`core.services.attendees`); none, or fewer than `quantity`: the customer's name.
    attendees: Mapped[list | None] = mapped_column(JSON)

    booking: Mapped[Booking] = relationship(back_populates="lines")
    ticket_type: Mapped[TicketType] = relationship()


class Payment(Base):
    __tablename__ = "payment"
    __table_args__ = (CheckConstraint(_one_of("status", PaymentStatus), name="status"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    booking_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("booking.id", ondelete="RESTRICT"), index=True)
    provider: Mapped[str] = mapped_column(String(20))
    checkout_session_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    checkout_url: Mapped[str | None] = mapped_column(Text)
    checkout_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20), default=PaymentStatus.PENDING)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Refund(Base):
    __tablename__ = "refund"
    __table_args__ = (
        CheckConstraint(_one_of("status", RefundStatus), name="status"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    payment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payment.id", ondelete="RESTRICT"), index=True)
    booking_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("booking.id", ondelete="RESTRICT"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default=RefundStatus.PENDING)
    provider_refund_id: Mapped[str | None] = mapped_column(String(255))
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Ticket(Base):
    __tablename__ = "ticket"
    __table_args__ = (
        CheckConstraint(_one_of("status", TicketStatus), name="status"),
        # The back office lists and exports an event's tickets in this order (a door list).
        Index("ix_ticket_event_attendee_name", "event_id", "attendee_name", "id"),
        _trigram_index("ix_ticket_attendee_name_trgm", "attendee_name"),
        _trigram_index("ix_ticket_attendee_email_trgm", "attendee_email"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    booking_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("booking.id", ondelete="RESTRICT"), index=True)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("event.id", ondelete="RESTRICT"), index=True)
    ticket_type_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ticket_type.id", ondelete="RESTRICT"))
    code: Mapped[str] = mapped_column(String(40), unique=True)
    qr_payload: Mapped[str] = mapped_column(Text)
    attendee_name: Mapped[str] = mapped_column(String(200))
    attendee_email: Mapped[str | None] = mapped_column(String(320))
    # The attendee's answers to the event's questions, by question id.
    answers: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default=TicketStatus.VALID)
    checked_in_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    checked_in_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id", ondelete="RESTRICT"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookEvent(Base):
    __tablename__ = "webhook_event"

    # The provider's own event id: a replayed delivery hits this primary key and is ignored.
    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    type: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict] = mapped_column(JSON)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """One change made through the API by an organizer, staff member or admin. Written in the
    transaction of the change it records (`core.services.audit`); nothing edits or deletes it."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_organization_id_at", "organization_id", "at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Empty for platform-wide changes (a customer's account, say), which only admins read.
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organization.id", ondelete="RESTRICT")
    )
    actor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="RESTRICT"))
    # The address at the time: the log says who acted even if the account changes later.
    actor_email: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(40))
    target_type: Mapped[str] = mapped_column(String(40))
    target_id: Mapped[str] = mapped_column(String(64))
    changes: Mapped[dict] = mapped_column(JSON, default=dict)
