"""Pages for people: a booking reached by its signed link, in plain server-rendered HTML.

The link is the credential (see `core.booking_links`), so a page needs no bearer token and no
cookie; the cancel form carries the link's token in its body, which a forged cross-site form
cannot know. Every answer carries the private headers of `api.capability_links` (the token is
in the address: not passed on, not kept). The same routes give an operator's own front end
(`FRONTEND_URL`) the booking as JSON, its tickets and its cancellation.
"""

from __future__ import annotations

import functools

from flask import Response, redirect, render_template
from flask.views import MethodView
from marshmallow import fields, validate

from api.capability_links import capability_link
from api.db import request_uow
from api.input import InputSchema
from api.json_body import Blueprint
from api.resources import examples
from api.resources.bookings import BookingOut
from core import links
from core.booking_links import BookingLink, LinkAction
from core.errors import DomainError
from core.services import booking_pages
from core.statuses import BookingStatus

blp = Blueprint(
    "pages",
    __name__,
    url_prefix="/api/v1/pages",
    description="Pages a person opens from a booking's signed link",
)


class CancelIn(InputSchema):
    token = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={
            "description": "The token of the booking's signed link (the last part of the page's address)."
        },
    )


def _html(body: str, status: int = 200) -> Response:
    return Response(body, status=status, mimetype="text/html")


def _refused(error: DomainError, booking_id, token: str) -> Response:
    """A refusal on a page is a page a person can read, with the same status as the API's."""
    back = links.BOOKING_PAGE.path(booking_id=booking_id, token=token)
    return _html(render_template("pages/refused.html", error=error, back=back), error.status_code)


class BookingPageQuery(InputSchema):
    cancel = fields.Boolean(
        load_default=False,
        metadata={
            "description": "True: the page asks to confirm a cancellation (its cancel button leads here)."
        },
    )


def _html_errors(view):
    @functools.wraps(view)
    def render(self, *args, booking_id, token):
        try:
            return view(self, *args, booking_id=booking_id, token=token)
        except DomainError as error:
            return _refused(error, booking_id, token)

    return render


@blp.route("/bookings/<uuid:booking_id>/<string:token>")
@capability_link
class BookingPage(MethodView):
    @blp.arguments(BookingPageQuery(), location="query")
    @blp.response(200, content_type="text/html")
    @_html_errors
    def get(self, args, booking_id, token):
        """The booking's page: its status, queue or waitlist place, hold expiry, and what can be
        done now (pay, download the tickets, cancel: asked once more, `?cancel=true`, before it
        is done). The address is the signed link sent in the booking's emails and used as the
        checkout's return address; any other token is a `404`."""
        page = booking_pages.read_booking_page(request_uow(), booking_id, token)
        return _html(
            render_template(
                "pages/booking.html",
                page=page,
                actions=LinkAction,
                statuses=BookingStatus,
                self_path=links.BOOKING_PAGE.path(booking_id=booking_id, token=token),
                tickets_path=links.BOOKING_PAGE_TICKETS.path(booking_id=booking_id, token=token),
                cancel_path=links.BOOKING_PAGE_CANCEL.path(booking_id=booking_id),
                confirming_cancel=args["cancel"],
            )
        )


@blp.route("/bookings/<uuid:booking_id>/<string:token>/booking")
@capability_link
class BookingPageData(MethodView):
    @blp.response(200, BookingOut)
    def get(self, booking_id, token):
        """The booking as `GET /bookings/{booking_id}` answers it, authorised by the signed link
        instead of a token: what an operator's own booking page (`FRONTEND_URL`) shows."""
        return booking_pages.read_booking_page(request_uow(), booking_id, token).booking


@blp.route("/bookings/<uuid:booking_id>/<string:token>/tickets.pdf")
@capability_link
class BookingPageTickets(MethodView):
    @blp.response(200, content_type="application/pdf")
    @_html_errors
    def get(self, booking_id, token):
        """The confirmed booking's tickets as a PDF, authorised by the signed link (`409` before then)."""
        pdf, filename = booking_pages.booking_tickets_pdf(request_uow(), booking_id, token)
        return Response(
            pdf,
            mimetype="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )


@blp.route("/bookings/<uuid:booking_id>/cancel")
@capability_link
class BookingPageCancel(MethodView):
    @blp.arguments(CancelIn(), location="form", example=examples.PAGE_CANCEL)
    @blp.response(
        303, description="Cancelled: back to the booking's page (or the operator's, with `FRONTEND_URL`)."
    )
    @blp.alt_response(409, description="Not cancellable now (undecided, final, or past the refund period).")
    def post(self, form, booking_id):
        """Cancel the booking as its customer would, from the page's form (the token in the body)."""
        token = form["token"]
        uow = request_uow()
        try:
            booking_pages.cancel_booking_by_link(uow, booking_id, token)
            uow.commit()
        except DomainError as error:
            return _refused(error, booking_id, token)
        return redirect(BookingLink(booking_id, token).url, code=303)
