"""API operations: customer accounts and their contacts (issue 16).

Reads need accounts.view, writes accounts.manage, as the admin pages. Every write is the pages' service call:
psa.accounts.services.create_account / update_account for accounts, psa.portal.services.create_contact /
update_contact / set_contact_active for contacts (inviting a contact stays a page action)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import sqlalchemy as sa
from flask import request
from pydantic import BaseModel, ConfigDict, Field

from psa.accounts import services as account_services
from psa.accounts.models import Account, Contact
from psa.api import bp, spec
from psa.api.core import (
    ListQuery,
    WriteHeaders,
    api_user,
    idempotent,
    paginate,
    permission,
    responses,
)
from psa.api.fields import Id, get_or_404, money, refused, text
from psa.auth.models import User
from psa.extensions import db
from psa.portal import services as contact_services

Segment = Literal["high", "mid", "low"]
StakeholderRole = Literal["executive_sponsor", "project_lead", "daily_user"]
ViewLevel = Literal["overview", "full", "my_tasks"]



# --- accounts -------------------------------------------------------------------------------------------------------


class AccountOut(BaseModel):
    id: int
    name: str
    segment: Segment
    owner_id: int | None
    owner_name: str | None
    arr: str = Field(description="Annual recurring revenue, a decimal string with two places.")
    allowed_email_domains: str
    created_at: datetime


class AccountList(BaseModel):
    items: list[AccountOut]
    next_cursor: str | None


class AccountQuery(ListQuery):
    q: text(200) | None = Field(None, description="Part of the account's name.")
    segment: Segment | None = None


class AccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: text(200)
    segment: Segment = "mid"
    owner_id: Id | None = None
    arr: text(30) = Field("0", description="A decimal string, at most two places.")


class AccountPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: text(200) | None = None
    segment: Segment | None = None
    owner_id: Id | None = None
    arr: text(30) | None = None


def _account_out(account: Account, owner_name: str | None) -> AccountOut:
    return AccountOut(id=account.id, name=account.name, segment=account.segment, owner_id=account.owner_id,
                      owner_name=owner_name, arr=money(account.arr), allowed_email_domains=account.allowed_email_domains,
                      created_at=account.created_at)


def _owner_name(account: Account) -> str | None:
    return db.session.scalar(sa.select(User.name).where(User.id == account.owner_id)) if account.owner_id else None


def _owner(owner_id: int | None) -> User | None:
    if owner_id is None:
        return None
    owner = db.session.get(User, owner_id)
    if owner is None:
        raise refused({"owner_id": "There is no user with this id."})
    return owner


@bp.get("/accounts")
@permission("accounts.view")
@spec.validate(query=AccountQuery, resp=responses({200: AccountList}), tags=["accounts"])
def accounts_list():
    """List customer accounts.

    Filtered by a part of the name (`q`) and the segment, paged by id."""
    query: AccountQuery = request.context.query
    # the page's filter (psa.accounts.services.account_list_query), the owner's name joined in: one statement
    where = account_services.account_list_query((query.q or "").strip(), query.segment).whereclause
    stmt = sa.select(Account, User.name).outerjoin(User, User.id == Account.owner_id)
    if where is not None:
        stmt = stmt.where(where)
    rows, cursor = paginate(stmt, Account.id, query)
    return AccountList(items=[_account_out(account, owner) for account, owner in rows],
                       next_cursor=cursor).model_dump(mode="json")


@bp.get("/accounts/<int:account_id>")
@permission("accounts.view")
@spec.validate(resp=responses({200: AccountOut}), tags=["accounts"])
def account_show(account_id: int):
    """One customer account."""
    account = get_or_404(Account, account_id, "account")
    return _account_out(account, _owner_name(account)).model_dump(mode="json")


@bp.post("/accounts")
@permission("accounts.manage")
@idempotent
@spec.validate(json=AccountIn, headers=WriteHeaders, resp=responses({201: AccountOut}, 409), tags=["accounts"])
def account_create():
    """Create a customer account.

    The name is unique (case-insensitive); the ARR a decimal string."""
    body: AccountIn = request.context.json
    account = account_services.create_account(api_user(), name=body.name, segment=body.segment,
                                              owner=_owner(body.owner_id), arr=body.arr)
    db.session.commit()
    return _account_out(account, _owner_name(account)).model_dump(mode="json"), 201


@bp.patch("/accounts/<int:account_id>")
@permission("accounts.manage")
@idempotent
@spec.validate(json=AccountPatch, headers=WriteHeaders, resp=responses({200: AccountOut}, 409), tags=["accounts"])
def account_update(account_id: int):
    """Change a customer account.

    Only the fields sent change (owner_id null: no owner)."""
    body: AccountPatch = request.context.json
    account = get_or_404(Account, account_id, "account")
    sent = body.model_fields_set
    owner = _owner(body.owner_id) if "owner_id" in sent else (
        db.session.get(User, account.owner_id) if account.owner_id else None)
    account_services.update_account(
        api_user(), account, name=body.name if body.name is not None else account.name,
        segment=body.segment or account.segment, owner=owner,
        arr=body.arr if body.arr is not None else account.arr)
    db.session.commit()
    return _account_out(account, _owner_name(account)).model_dump(mode="json")


# --- contacts -------------------------------------------------------------------------------------------------------


class ContactOut(BaseModel):
    id: int
    account_id: int
    name: str
    email: str
    title: str
    stakeholder_role: StakeholderRole
    view_level: ViewLevel
    is_active: bool
    invited_at: datetime | None
    last_login_at: datetime | None
    created_at: datetime


class ContactList(BaseModel):
    items: list[ContactOut]
    next_cursor: str | None


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: text(200)
    email: text(320)
    title: text(200) = ""
    stakeholder_role: StakeholderRole = "daily_user"
    view_level: ViewLevel = "full"


class ContactPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: text(200) | None = None
    email: text(320) | None = None
    title: text(200) | None = None
    stakeholder_role: StakeholderRole | None = None
    view_level: ViewLevel | None = None
    is_active: bool | None = Field(None, description="false deactivates the contact: their portal sign-ins end.")


def _contact_out(contact: Contact) -> ContactOut:
    return ContactOut(id=contact.id, account_id=contact.account_id, name=contact.name, email=contact.email,
                      title=contact.title, stakeholder_role=contact.stakeholder_role, view_level=contact.view_level,
                      is_active=contact.is_active_contact, invited_at=contact.invited_at,
                      last_login_at=contact.last_login_at, created_at=contact.created_at)


@bp.get("/accounts/<int:account_id>/contacts")
@permission("accounts.view")
@spec.validate(query=ListQuery, resp=responses({200: ContactList}), tags=["contacts"])
def contacts_list(account_id: int):
    """List an account's contacts (the customer's people in the portal)."""
    account = get_or_404(Account, account_id, "account")
    rows, cursor = paginate(sa.select(Contact).where(Contact.account_id == account.id), Contact.id,
                            request.context.query)
    return ContactList(items=[_contact_out(row[0]) for row in rows], next_cursor=cursor).model_dump(mode="json")


@bp.get("/contacts/<int:contact_id>")
@permission("accounts.view")
@spec.validate(resp=responses({200: ContactOut}), tags=["contacts"])
def contact_show(contact_id: int):
    """One contact."""
    return _contact_out(get_or_404(Contact, contact_id, "contact")).model_dump(mode="json")


@bp.post("/accounts/<int:account_id>/contacts")
@permission("accounts.manage")
@idempotent
@spec.validate(json=ContactIn, headers=WriteHeaders, resp=responses({201: ContactOut}, 409), tags=["contacts"])
def contact_create(account_id: int):
    """Add a contact to an account.

    The e-mail is unique among contacts and must be of the account's allowed domains. Inviting the contact to
    the portal is done on the account's page."""
    account = get_or_404(Account, account_id, "account")
    body: ContactIn = request.context.json
    contact = contact_services.create_contact(api_user(), account, name=body.name, email=body.email,
                                              title=body.title, stakeholder_role=body.stakeholder_role,
                                              view_level=body.view_level)
    db.session.commit()
    return _contact_out(contact).model_dump(mode="json"), 201


@bp.patch("/contacts/<int:contact_id>")
@permission("accounts.manage")
@idempotent
@spec.validate(json=ContactPatch, headers=WriteHeaders, resp=responses({200: ContactOut}, 409), tags=["contacts"])
def contact_update(contact_id: int):
    """Change a contact, or deactivate or reactivate them.

    Only the fields sent change."""
    contact = get_or_404(Contact, contact_id, "contact")
    body: ContactPatch = request.context.json
    sent = body.model_fields_set - {"is_active"}
    if sent:
        contact_services.update_contact(
            api_user(), contact, **{name: getattr(body, name) if getattr(body, name) is not None
                                    else getattr(contact, name)
                                    for name in ("name", "email", "title", "stakeholder_role", "view_level")})
    if body.is_active is not None:
        contact_services.set_contact_active(api_user(), contact, body.is_active)
    db.session.commit()
    return _contact_out(contact).model_dump(mode="json")
