"""Named tickets with questions: organizers ask, customers name each attendee and answer at
booking, the names and answers reach the tickets, their PDF, the door and the attendee list; a
customer renames a ticket and its old QR stops working. Bad input is a 4xx that changes nothing."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid

import pytest
from sqlalchemy import func, select, update

from core.models import Event, Question, Ticket, utcnow
from core.services import questions
from tests.integration.booking_helpers import drain, queue_length
from tests.jobs import run_jobs
from tests.pdf_readback import read_pdf


def questions_url(event) -> str:
    return f"/api/v1/events/{event.id}/questions"


def question_count(db) -> int:
    with db.unit_of_work() as uow:
        return uow.session.scalar(select(func.count()).select_from(Question))


@pytest.fixture()
def asking(client, organizer, make_event, auth_header):
    """A free event with two types; the organizers ask a required choice of every attendee, an
    optional yes/no of the first type's, and an optional text."""
    event = make_event(organizer, ticket_types=[{"name": "Standard", "price": 0, "quota": 10},
                                                {"name": "Balcony", "price": 0, "quota": 10}])  # fmt: skip
    headers = auth_header(organizer)
    first = str(event.ticket_types[0].id)
    asked = [{"label": "Meal", "type": "choice", "options": ["meat", "vegan"], "required": True},
             {"label": "Wheelchair?", "type": "boolean", "ticket_type_ids": [first]},
             {"label": "Company", "type": "text"}]  # fmt: skip
    created = [client.post(questions_url(event), json=body, headers=headers) for body in asked]
    assert [answer.status_code for answer in created] == [201, 201, 201]
    meal, wheelchair, company = (answer.json["id"] for answer in created)
    return event, {"meal": meal, "wheelchair": wheelchair, "company": company}


def booking_body(event, attendees, quantity=2, type_index=0) -> dict:
    return {"event_id": str(event.id), "items": [
        {"ticket_type_id": str(event.ticket_types[type_index].id), "quantity": quantity, "attendees": attendees}]}  # fmt: skip


def test_organizers_manage_questions_and_the_public_sees_them(client, db, organizer, asking, auth_header):
    event, ids = asking
    headers = auth_header(organizer)
    listed = client.get(questions_url(event), headers=headers)
    assert [q["label"] for q in listed.json] == ["Meal", "Wheelchair?", "Company"]
    assert listed.json[0]["options"] == ["meat", "vegan"] and listed.json[0]["required"] is True

    edited = client.patch(f"{questions_url(event)}/{ids['company']}", json={"label": "Employer", "required": True},
                          headers=headers)  # fmt: skip
    assert edited.status_code == 200 and (edited.json["label"], edited.json["required"]) == ("Employer", True)
    assert client.delete(f"{questions_url(event)}/{ids['company']}", headers=headers).status_code == 204

    public = client.get(f"/api/v1/events/{event.id}")
    assert [q["label"] for q in public.json["questions"]] == ["Meal", "Wheelchair?"]
    assert question_count(db) == 2


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"label": "Meal", "type": "choice"}, "options_required"),
        ({"label": "Meal", "type": "choice", "options": ["a", "a"]}, "duplicate_option"),
        ({"label": "Name", "type": "text", "options": ["a"]}, "options_not_allowed"),
        ({"label": "Name", "type": "text", "ticket_type_ids": [str(uuid.uuid4())]}, "unknown_ticket_type"),
        ({"label": "   ", "type": "text"}, "label_required"),
        ({"label": "Name", "type": "date"}, None),
        ({"type": "text"}, None),
    ],
)
def test_bad_questions_are_refused_and_change_nothing(
    client, db, organizer, make_event, auth_header, body, reason
):
    event = make_event(organizer)
    answer = client.post(questions_url(event), json=body, headers=auth_header(organizer))
    assert answer.status_code == 422, answer.json
    if reason:
        assert answer.json["errors"]["reason"] == reason
    assert question_count(db) == 0


def test_only_the_events_organizers_manage_its_questions(client, db, asking, make_user, make_organization,
                                                         auth_header):  # fmt: skip
    event, ids = asking
    for intruder in (make_user(), make_user("organizer", make_organization("Elsewhere"))):
        headers = auth_header(intruder)
        assert (
            client.post(
                questions_url(event), json={"label": "X", "type": "text"}, headers=headers
            ).status_code
            == 403
        )
        assert client.get(questions_url(event), headers=headers).status_code == 403
        patched = client.patch(f"{questions_url(event)}/{ids['meal']}", json={"label": "X"}, headers=headers)
        assert patched.status_code == 403
        assert client.delete(f"{questions_url(event)}/{ids['meal']}", headers=headers).status_code == 403
    assert question_count(db) == 3


def book_named(client, event, customer, auth_header, attendees) -> str:
    answer = client.post(
        "/api/v1/bookings", json=booking_body(event, attendees), headers=auth_header(customer)
    )
    assert answer.status_code == 202, answer.json
    drain(event)
    run_jobs("issue_tickets")
    return answer.headers["Location"]


def test_named_tickets_carry_their_answers_to_the_pdf_the_door_and_the_attendee_list(
    client, db, organizer, asking, make_user, auth_header
):
    event, ids = asking
    customer = make_user(name="Alan Turing")
    attendees = [
        {"name": "Grace Hopper", "email": "grace@example.test", "answers": {ids["meal"]: "vegan", ids["wheelchair"]: True}},
        {"name": "Ada Lovelace", "answers": {ids["meal"]: "meat", ids["company"]: " Analytical "}},
    ]  # fmt: skip
    location = book_named(client, event, customer, auth_header, attendees)
    tickets = client.get(f"{location}/tickets", headers=auth_header(customer)).json
    assert [(t["attendee_name"], t["attendee_email"], t["answers"]) for t in tickets] == [
        ("Grace Hopper", "grace@example.test", {ids["meal"]: "vegan", ids["wheelchair"]: True}),
        ("Ada Lovelace", None, {ids["meal"]: "meat", ids["company"]: "Analytical"}),
    ]
    pages = read_pdf(client.get(f"{location}/tickets.pdf", headers=auth_header(customer)).data)
    assert ["Grace Hopper" in page.text for page in pages] == [True, False]
    assert ["Ada Lovelace" in page.text for page in pages] == [False, True]

    admitted = client.post(f"/api/v1/events/{event.id}/checkins", json={"code": tickets[0]["qr_payload"]},
                           headers=auth_header(organizer))  # fmt: skip
    assert admitted.status_code == 200 and admitted.json["attendee_name"] == "Grace Hopper"

    listed = client.get(f"/api/v1/events/{event.id}/attendees", headers=auth_header(organizer)).json
    assert {row["attendee_name"]: row["answers"] for row in listed} == {
        "Grace Hopper": tickets[0]["answers"], "Ada Lovelace": tickets[1]["answers"]}  # fmt: skip
    exported = client.get(f"/api/v1/events/{event.id}/attendees",
                          headers={**auth_header(organizer), "Accept": "text/csv"})  # fmt: skip
    # One column per question, headed by its label; the second header row gives the question's id.
    header, ids_row, *rows = csv.reader(io.StringIO(exported.data.decode()))
    asked = header[-3:]
    assert asked == ["Meal", "Wheelchair?", "Company"]
    assert ids_row[-3:] == [ids["meal"], ids["wheelchair"], ids["company"]] and not any(ids_row[:-3])
    by_name = {row[header.index("attendee_name")]: dict(zip(asked, row[-3:], strict=True)) for row in rows}
    assert by_name == {"Grace Hopper": {"Meal": "vegan", "Wheelchair?": "true", "Company": ""},
                       "Ada Lovelace": {"Meal": "meat", "Wheelchair?": "", "Company": "Analytical"}}  # fmt: skip


def test_the_attendee_list_its_csv_and_its_search_show_the_named_attendees_email(
    client, organizer, make_event, make_user, auth_header
):
    event = make_event(organizer, price=0)
    customer = make_user(name="Alan Turing", email="alan@example.test")
    book_named(
        client, event, customer, auth_header, [{"name": "Grace Hopper", "email": "grace@example.test"}]
    )
    url, headers = f"/api/v1/events/{event.id}/attendees", auth_header(organizer)

    listed = client.get(url, headers=headers).json
    exported = client.get(url, headers={**headers, "Accept": "text/csv"})
    found = client.get(url, query_string={"q": "grace@exa"}, headers=headers).json

    expected = {"Grace Hopper": "grace@example.test", "Alan Turing": "alan@example.test"}
    assert {row["attendee_name"]: row["attendee_email"] for row in listed} == expected
    rows = csv.DictReader(io.StringIO(exported.data.decode()))
    assert {row["attendee_name"]: row["attendee_email"] for row in rows} == expected
    assert [row["attendee_name"] for row in found] == ["Grace Hopper"]


def test_without_questions_unnamed_tickets_are_the_customers(
    client, organizer, make_event, make_user, auth_header
):
    event = make_event(organizer, price=0)
    customer = make_user(name="Alan Turing")
    location = book_named(client, event, customer, auth_header, [{"name": "Grace Hopper"}])
    tickets = client.get(f"{location}/tickets", headers=auth_header(customer)).json
    assert [(t["attendee_name"], t["answers"]) for t in tickets] == [
        ("Grace Hopper", {}),
        ("Alan Turing", {}),
    ]


BAD_ATTENDEES = {
    "more attendees than tickets": (lambda ids: [{"name": n, "answers": {ids["meal"]: "meat"}} for n in "ABC"],
                                    "too_many_attendees"),
    "an unknown question": (lambda ids: [{"name": n, "answers": {ids["meal"]: "meat", str(uuid.uuid4()): "x"}}
                                         for n in "AB"], "unknown_question"),
    "a question of another type": (lambda ids: [{"name": n, "answers": {ids["meal"]: "meat", ids["wheelchair"]: True}}
                                                for n in "AB"], "unknown_question"),
    "an option not offered": (lambda ids: [{"name": n, "answers": {ids["meal"]: "fish"}} for n in "AB"],
                              "invalid_answer"),
    "text for a yes/no": (lambda ids: [{"name": n, "answers": {ids["meal"]: True}} for n in "AB"], "invalid_answer"),
    "a number for a text": (lambda ids: [{"name": n, "answers": {ids["meal"]: "meat", ids["company"]: 7}}
                                         for n in "AB"], "invalid_answer"),
    "a required answer missing": (lambda ids: [{"name": "A", "answers": {ids["meal"]: "meat"}}, {"name": "B"}],
                                  "answers_required"),
    "an attendee missing": (lambda ids: [{"name": "A", "answers": {ids["meal"]: "meat"}}], "answers_required"),
    "no attendees at all": (lambda ids: [], "answers_required"),
    "a nameless attendee": (lambda ids: [{"answers": {ids["meal"]: "meat"}}, {"name": "B"}], None),
    "a bad email": (lambda ids: [{"name": n, "email": "nope", "answers": {ids["meal"]: "meat"}} for n in "AB"], None),
    "an answer to no question id": (lambda ids: [{"name": n, "answers": {"meal": "meat"}} for n in "AB"], None),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_ATTENDEES))
def test_bad_attendees_are_refused_and_nothing_is_queued(client, asking, make_user, auth_header, case):
    event, ids = asking
    make_attendees, reason = BAD_ATTENDEES[case]
    body = booking_body(
        event, make_attendees(ids), type_index=1 if case == "a question of another type" else 0
    )
    answer = client.post("/api/v1/bookings", json=body, headers=auth_header(make_user()))
    assert answer.status_code == 422, answer.json
    if reason:
        assert answer.json["errors"]["reason"] == reason
    assert queue_length(event) == 0


def ticket_url(ticket) -> str:
    return f"/api/v1/tickets/{ticket['id']}"


def test_renaming_a_ticket_gives_it_a_new_qr_and_refuses_the_old_one(client, db, organizer, asking, make_user,
                                                                       auth_header):  # fmt: skip
    event, ids = asking
    customer = make_user()
    attendees = [{"name": n, "answers": {ids["meal"]: "meat"}} for n in ("Grace Hopper", "Ada Lovelace")]
    location = book_named(client, event, customer, auth_header, attendees)
    old = client.get(f"{location}/tickets", headers=auth_header(customer)).json[0]

    renamed = client.patch(ticket_url(old), json={"attendee_name": "Katherine Johnson", "attendee_email": "kj@example.test",
                                                  "answers": {ids["meal"]: "vegan"}}, headers=auth_header(customer))  # fmt: skip
    assert renamed.status_code == 200, renamed.json
    assert (renamed.json["attendee_name"], renamed.json["attendee_email"]) == (
        "Katherine Johnson",
        "kj@example.test",
    )
    assert renamed.json["answers"] == {ids["meal"]: "vegan"}
    assert renamed.json["code"] != old["code"] and renamed.json["qr_payload"] != old["qr_payload"]

    pages = read_pdf(client.get(f"{location}/tickets.pdf", headers=auth_header(customer)).data)
    assert "Katherine Johnson" in pages[0].text and "Grace Hopper" not in pages[0].text
    assert pages[0].qr_codes == [renamed.json["qr_payload"]]

    door = f"/api/v1/events/{event.id}/checkins"
    for stale in (old["code"], old["qr_payload"]):
        refused = client.post(door, json={"code": stale}, headers=auth_header(organizer))
        assert refused.status_code == 404 and refused.json["errors"]["reason"] == "unknown_ticket"
    admitted = client.post(door, json={"code": renamed.json["qr_payload"]}, headers=auth_header(organizer))
    assert admitted.status_code == 200 and admitted.json["attendee_name"] == "Katherine Johnson"


def test_bad_ticket_edits_are_refused_and_change_nothing(
    client, db, organizer, asking, make_user, auth_header
):
    event, ids = asking
    customer = make_user()
    attendees = [{"name": n, "answers": {ids["meal"]: "meat"}} for n in ("Grace Hopper", "Ada Lovelace")]
    location = book_named(client, event, customer, auth_header, attendees)
    ticket, used = client.get(f"{location}/tickets", headers=auth_header(customer)).json
    client.post(
        f"/api/v1/events/{event.id}/checkins", json={"code": used["code"]}, headers=auth_header(organizer)
    )
    headers = auth_header(customer)
    cases = [
        (ticket, {"answers": {ids["meal"]: "fish"}}, headers, 422, "invalid_answer"),
        (ticket, {"answers": {}}, headers, 422, "answers_required"),
        (ticket, {"answers": {str(uuid.uuid4()): "x"}}, headers, 422, "unknown_question"),
        (ticket, {"answers": {ids["wheelchair"]: "yes", ids["meal"]: "meat"}}, headers, 422, "invalid_answer"),
        (ticket, {"attendee_name": ""}, headers, 422, None),
        (ticket, {}, headers, 422, "nothing_to_change"),
        (ticket, {"attendee_email": "nope"}, headers, 422, None),
        (ticket, {"attendee_name": "X"}, auth_header(make_user()), 404, None),
        (ticket, {"attendee_name": "X"}, auth_header(organizer), 404, None),
        ({"id": str(uuid.uuid4())}, {"attendee_name": "X"}, headers, 404, None),
        (used, {"attendee_name": "X"}, headers, 409, "already_checked_in"),
    ]  # fmt: skip
    for target, body, who, status, reason in cases:
        answer = client.patch(ticket_url(target), json=body, headers=who)
        assert answer.status_code == status, (body, answer.json)
        if reason:
            assert answer.json["errors"]["reason"] == reason

    with db.unit_of_work() as uow:
        uow.session.execute(update(Ticket).where(Ticket.id == uuid.UUID(used["id"]))
                            .values(status="cancelled", checked_in_at=None))  # fmt: skip
        uow.commit()
    cancelled = client.patch(ticket_url(used), json={"attendee_name": "X"}, headers=headers)
    assert cancelled.status_code == 409 and cancelled.json["errors"]["reason"] == "ticket_cancelled"
    with db.unit_of_work() as uow:
        uow.session.execute(
            update(Event).where(Event.id == event.id).values(starts_at=utcnow() - dt.timedelta(minutes=1))
        )
        uow.commit()
    started = client.patch(ticket_url(ticket), json={"attendee_name": "X"}, headers=headers)
    assert started.status_code == 409 and started.json["errors"]["reason"] == "event_started"

    with db.unit_of_work() as uow:
        kept = uow.session.get(Ticket, uuid.UUID(ticket["id"]))
        assert (kept.attendee_name, kept.code, kept.answers) == (
            "Grace Hopper",
            ticket["code"],
            {ids["meal"]: "meat"},
        )


def test_an_event_asks_a_bounded_number_of_questions(client, organizer, make_event, auth_header, monkeypatch):
    monkeypatch.setattr(questions, "MAX_QUESTIONS", 1)
    url, headers = f"/api/v1/events/{make_event(organizer).id}/questions", auth_header(organizer)
    assert client.post(url, json={"label": "Meal?", "type": "text"}, headers=headers).status_code == 201
    refused = client.post(url, json={"label": "Seat?", "type": "text"}, headers=headers)
    assert (refused.status_code, refused.json["errors"]["reason"]) == (422, "too_many_questions")
    assert [question["label"] for question in client.get(url, headers=headers).json] == ["Meal?"]
