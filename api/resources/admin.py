"""Administration: organizations, and users' roles."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from api.auth import current_actor, roles_required
from api.db import request_uow
from api.input import InputSchema
from api.json_body import Blueprint
from api.pagination import paginate_select
from api.resources import examples
from api.resources.accounts import UserOut
from core.services import accounts, back_office
from core.statuses import ACCOUNT_ROLES, Role

blp = Blueprint("admin", __name__, url_prefix="/api/v1", description="Organizations and users (admins)")


class OrganizationIn(InputSchema):
    name = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "The organization's name (1 to 200 characters)."},
    )
    contact_email = fields.Email(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=320),
        metadata={"description": "The organization's contact address; null: none."},
    )


class OrganizationOut(Schema):
    id = fields.UUID(metadata={"description": "The organization's id."})
    name = fields.String(metadata={"description": "The organization's name."})
    contact_email = fields.String(
        allow_none=True, metadata={"description": "The organization's contact address; null: none."}
    )


class UserPatch(InputSchema):
    role = fields.String(
        validate=validate.OneOf(ACCOUNT_ROLES),
        metadata={"description": "The new role: `customer`, `staff`, `organizer` or `admin`."},
    )
    organization_id = fields.UUID(
        allow_none=True,
        metadata={
            "description": "The organization a staff member or organizer works for; null to take it away."
        },
    )
    name = fields.String(
        validate=validate.Length(min=1, max=200),
        metadata={"description": "The account holder's name (1 to 200 characters)."},
    )


class SearchQuery(InputSchema):
    q = fields.String(
        validate=validate.Length(min=1, max=200),
        metadata={"description": "Text to find in the name or email address, case-insensitive."},
    )


class UserQuery(SearchQuery):
    role = fields.String(
        validate=validate.OneOf(ACCOUNT_ROLES),
        metadata={"description": "Only accounts with this role (`customer`, `staff`, `organizer`, `admin`)."},
    )
    organization_id = fields.UUID(metadata={"description": "Only accounts of this organization."})


@blp.route("/organizations")
class Organizations(MethodView):
    @roles_required(Role.ADMIN)
    @blp.arguments(SearchQuery(), location="query")
    @blp.response(200, OrganizationOut(many=True))
    @blp.paginate()
    def get(self, args, pagination_parameters):
        """Every organization, by name; `q` searches the name and contact email."""
        uow = request_uow()
        query = back_office.organizations_query(current_actor(), args.get("q"))
        return paginate_select(uow.session, query, pagination_parameters)

    @roles_required(Role.ADMIN)
    @blp.arguments(OrganizationIn(), example=examples.ORGANIZATION)
    @blp.response(201, OrganizationOut)
    def post(self, data):
        """Create an organization (an organizer company)."""
        return accounts.create_organization(
            request_uow(), current_actor(), data["name"], data["contact_email"]
        )


@blp.route("/users")
class UserList(MethodView):
    @roles_required(Role.ADMIN)
    @blp.arguments(UserQuery(), location="query")
    @blp.response(200, UserOut(many=True))
    @blp.paginate()
    def get(self, args, pagination_parameters):
        """Every user, by email; `q` searches name and email; filter by `role`, `organization_id`."""
        uow = request_uow()
        query = back_office.users_query(
            current_actor(), args.get("q"), args.get("role"), args.get("organization_id")
        )
        return paginate_select(uow.session, query, pagination_parameters)


@blp.route("/users/<uuid:user_id>")
class Users(MethodView):
    @roles_required(Role.ADMIN)
    @blp.arguments(UserPatch(), example=examples.USER_PATCH)
    @blp.response(200, UserOut)
    def patch(self, data, user_id):
        """Set a user's role and organization."""
        return accounts.update_user(request_uow(), current_actor(), user_id, data)
