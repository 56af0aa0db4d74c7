"""Administration: only admins create organizations and give users roles."""

from __future__ import annotations

import uuid

import pytest

from core.errors import Invalid
from core.models import User
from core.services import accounts


def test_admin_creates_an_organization_and_makes_an_organizer(client, make_user, auth_header):
    admin = make_user("admin")
    customer = make_user()
    organization = client.post(
        "/api/v1/organizations", json={"name": "Acme Concerts"}, headers=auth_header(admin)
    )
    assert organization.status_code == 201
    patched = client.patch(
        f"/api/v1/users/{customer.id}",
        json={"role": "organizer", "organization_id": organization.json["id"]},
        headers=auth_header(admin),
    )
    assert patched.status_code == 200
    assert patched.json["role"] == "organizer"
    assert patched.json["organization_id"] == organization.json["id"]


def test_non_admins_cannot_administer(client, make_user, auth_header, organizer):
    for user in (make_user(), organizer, make_user("staff", organizer.organization_id)):
        assert (
            client.post("/api/v1/organizations", json={"name": "X"}, headers=auth_header(user)).status_code
            == 403
        )
        response = client.patch(f"/api/v1/users/{user.id}", json={"role": "admin"}, headers=auth_header(user))
        assert response.status_code == 403


def test_organizer_role_needs_an_organization(client, make_user, auth_header):
    admin, customer = make_user("admin"), make_user()
    response = client.patch(
        f"/api/v1/users/{customer.id}", json={"role": "organizer"}, headers=auth_header(admin)
    )
    assert response.status_code == 422
    assert response.json["errors"]["reason"] == "organization_required"


def test_unknown_user_role_or_organization_is_refused(client, make_user, auth_header):
    admin, customer = make_user("admin"), make_user()
    headers = auth_header(admin)
    assert (
        client.patch(f"/api/v1/users/{uuid.uuid4()}", json={"role": "staff"}, headers=headers).status_code
        == 404
    )
    assert (
        client.patch(f"/api/v1/users/{customer.id}", json={"role": "king"}, headers=headers).status_code
        == 422
    )
    response = client.patch(
        f"/api/v1/users/{customer.id}",
        json={"role": "staff", "organization_id": str(uuid.uuid4())},
        headers=headers,
    )
    assert (response.status_code, response.json["errors"]["reason"]) == (422, "unknown_organization")
    assert client.get("/api/v1/auth/me", headers=auth_header(customer)).json["role"] == "customer"


def test_the_service_refuses_an_unknown_role_by_name(db, make_user):
    """The schema refuses it first over HTTP; the service does not rely on that."""
    admin, customer = make_user("admin"), make_user()
    with db.unit_of_work() as uow, pytest.raises(Invalid) as refused:
        accounts.update_user(uow, uow.session.get(User, admin.id), customer.id, {"role": "king"})
    assert refused.value.name == "unknown_role"


def test_an_administrator_cannot_demote_themselves(client, make_user, auth_header):
    admin = make_user("admin")
    response = client.patch(
        f"/api/v1/users/{admin.id}", json={"role": "customer"}, headers=auth_header(admin)
    )
    assert (response.status_code, response.json["errors"]["reason"]) == (422, "self_demotion")
    assert client.get("/api/v1/auth/me", headers=auth_header(admin)).json["role"] == "admin"


def test_role_change_applies_to_existing_tokens_at_once(client, make_user, auth_header, organizer):
    """Roles are read from the database, not trusted from the token."""
    admin = make_user("admin")
    other = make_user("admin")
    token = auth_header(other)
    client.patch(f"/api/v1/users/{other.id}", json={"role": "customer"}, headers=auth_header(admin))
    assert client.post("/api/v1/organizations", json={"name": "X"}, headers=token).status_code == 403
