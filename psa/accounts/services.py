"""The rules of customer accounts."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from psa.accounts.models import SEGMENTS, Account
from psa.auth.models import User
from psa.core.audit import record_audit, snapshot
from psa.core.db import contains_pattern, unique_or_field_error
from psa.core.errors import ValidationError
from psa.core.money import MAX_AMOUNT, to_money
from psa.extensions import db

ACCOUNT_FIELDS = ("name", "segment", "owner_id", "arr")
#: The name is unique: a name another request took meanwhile is a message at the field, never a 500.
NAME_TAKEN = {"uq_accounts_name": ("name", "An account with this name already exists.")}


def account_list_query(search: str | None = None, segment: str | None = None):
    """The accounts list as one select: filtered by a name search and segment, owner loaded with it."""
    stmt = sa.select(Account).options(sa.orm.selectinload(Account.owner)).order_by(sa.func.lower(Account.name))
    if search:
        stmt = stmt.where(sa.func.lower(Account.name).like(contains_pattern(search), escape="\\"))
    if segment in SEGMENTS:
        stmt = stmt.where(Account.segment == segment)
    return stmt


def _check(name: str, segment: str, owner: User | None, arr, account: Account | None) -> Decimal:
    """Refuse what is wrong, at its field; return the ARR as stored (two decimals, never rounded)."""
    errors = {}
    name = (name or "").strip()
    if not name:  # the form's rule too (name_field: required, at most 200 characters)
        errors["name"] = "This field is required."
    elif len(name) > 200:
        errors["name"] = "Use at most 200 characters."
    clash = db.session.scalar(
        sa.select(Account).where(sa.func.lower(Account.name) == name.lower())
    ) if "name" not in errors else None
    if clash is not None and clash is not account:
        errors["name"] = "An account with this name already exists."
    if segment not in SEGMENTS:
        errors["segment"] = f"Choose one of {', '.join(SEGMENTS)}."
    if owner is not None and not owner.is_active:
        errors["owner_id"] = "The owner must be an active user."
    try:
        amount = to_money(arr, "arr", high=MAX_AMOUNT)
    except ValidationError as exc:
        errors.update(exc.errors)
    if errors:
        raise ValidationError(errors)
    return amount


def create_account(actor, *, name: str, segment: str = "mid", owner: User | None = None,
                   arr: Decimal = Decimal("0")) -> Account:
    amount = _check(name, segment, owner, arr, None)
    account = Account(name=name.strip(), segment=segment, owner_id=owner.id if owner else None, arr=amount)
    with unique_or_field_error(NAME_TAKEN):
        db.session.add(account)
    record_audit(actor, "account.created", account, after=snapshot(account, ACCOUNT_FIELDS))
    return account


def update_account(actor, account: Account, *, name: str, segment: str, owner: User | None,
                   arr: Decimal) -> Account:
    amount = _check(name, segment, owner, arr, account)
    before = snapshot(account, ACCOUNT_FIELDS)
    with unique_or_field_error(NAME_TAKEN):
        account.name = name.strip()
        account.segment = segment
        account.owner_id = owner.id if owner else None
        account.arr = amount  # as stored, so an unchanged amount is not audited as a change
    after = snapshot(account, ACCOUNT_FIELDS)
    if before != after:
        record_audit(actor, "account.updated", account, before, after)
    return account
