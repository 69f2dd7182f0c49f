"""The rules of the CRM deal-won hook, as plain functions (no request objects): tested directly, called by
POST /api/v1/hooks/deal-won (psa/api/hooks.py).

- verify_signature: `X-PSA-Signature: sha256=<hex>` is the HMAC-SHA256 of the raw body with the settings' secret,
  compared in constant time.
- parse: the signed body as DealWonIn (422 at its fields otherwise); is_fresh: its `timestamp` (Unix seconds, UTC)
  within CRM_HOOK_MAX_AGE of psa.core.clock.now(), before or after.
- create_from_deal: the deal's account (matched by exact name, case-insensitively, as the accounts' unique name
  rule compares; created through psa.accounts.services.create_account when new) and a project from the newest
  published version of the template mapped to the product (psa.projects.services.create_project, the pages'
  rule), in the caller's transaction. The deal id's row in crm_deals is inserted first: its unique constraint
  decides between two deliveries of one deal, and the later one answers with the project of the first.

The deals' table is read as a table (psa.api.models.DealWon maps it): psa.api imports this package, so importing the
API's models from here would make the two packages import each other.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic import ValidationError as ModelError
from sqlalchemy.exc import IntegrityError

from psa.accounts.models import Account
from psa.accounts.services import create_account
from psa.auth.models import User
from psa.core.audit import record_audit
from psa.core.clock import org_today
from psa.core.db import begin_write
from psa.core.errors import ValidationError
from psa.extensions import db
from psa.project_templates.models import TemplateVersion
from psa.projects.models import Project
from psa.projects.services import create_project

#: The header carrying the signature, and its scheme prefix.
SIGNATURE_HEADER = "X-PSA-Signature"
SIGNATURE_PREFIX = "sha256="

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200,
                                        pattern=r"^[^\x00-\x1f\x7f]+$")]


class DealWonAccount(BaseModel):
    """The customer of the deal."""

    model_config = ConfigDict(extra="ignore")

    name: Text = Field(description="The company's name. An account with this exact name (case ignored) is used; "
                                   "otherwise one is created.")
    segment: Literal["high", "mid", "low"] | None = Field(
        None, description="Service segment of a new account (default mid); an existing account keeps its own.")


class DealWonIn(BaseModel):
    """A won deal, as the CRM sends it. The body is signed: `X-PSA-Signature: sha256=<hex HMAC-SHA256 of the raw
    body with the hook secret>`. Fields not listed are ignored."""

    model_config = ConfigDict(extra="ignore")

    deal_id: Text = Field(description="The CRM's id of the deal. The same id again answers with the project "
                                      "made the first time (200) and creates nothing.")
    timestamp: int = Field(strict=True, ge=0, le=4_102_444_800,
                           description="When the CRM sent this, in Unix seconds (UTC). Refused (401) when more "
                                       "than CRM_HOOK_MAX_AGE (300 s) away from the server's clock.")
    account: DealWonAccount
    product: Text = Field(description="The product or plan sold: mapped to a template under Admin → Settings → "
                                      "CRM hook.")
    project_name: Text | None = Field(None, description="Default: '<account name> – <product>'.")
    kickoff_date: date | None = Field(None, description="YYYY-MM-DD; default: today in the organisation's zone.")
    contract_signed_date: date | None = Field(None, description="YYYY-MM-DD, on or before kickoff.")
    amount: Decimal | None = Field(None, ge=0, description="The fee: a fixed-fee project when above 0, "
                                                            "otherwise time and materials.")


# --- signature, body, freshness ------------------------------------------------------------------------------------


def sign(secret: str, body: bytes) -> str:
    """The header value the CRM sends for `body`: sha256=<hex>."""
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """Whether `header` is sha256=<hex HMAC-SHA256 of body with secret> (constant-time comparison). An empty secret
    verifies nothing."""
    if not secret or not header:
        return False
    value = header.strip()
    if value[:len(SIGNATURE_PREFIX)].lower() != SIGNATURE_PREFIX:
        return False
    given = value[len(SIGNATURE_PREFIX):].strip().lower().encode("utf-8", "replace")
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest().encode()
    return hmac.compare_digest(expected, given)


def parse(body: bytes) -> DealWonIn:
    """The body as a deal; ValidationError with a message per field (dotted path; "body" for the JSON itself)."""
    try:
        return DealWonIn.model_validate_json(body)
    except ModelError as exc:
        fields: dict[str, str] = {}
        for item in exc.errors():
            name = ".".join(str(part) for part in item.get("loc", ())) or "body"
            message = item.get("msg", "Invalid value.")
            if item.get("type") == "json_invalid":
                name, message = "body", "The body is not valid JSON."
            elif item.get("type") == "model_type" and name == "body":
                message = "The body must be a JSON object."
            fields.setdefault(name, message)
        raise ValidationError(fields) from None


def is_fresh(timestamp: int, now: datetime, max_age: int | float) -> bool:
    """Whether the signed timestamp (Unix seconds) is within max_age seconds of now, in either direction."""
    return abs(now.timestamp() - timestamp) <= max_age


# --- the product → template mapping --------------------------------------------------------------------------------


def load_template_map(raw: str | None) -> dict[str, int]:
    """Settings.crm_template_map as {product: template id}; anything unreadable counts as no mapping."""
    try:
        data = json.loads(raw or "{}")
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): v for k, v in data.items() if isinstance(v, int) and not isinstance(v, bool)}


def template_version_for(product: str, template_map: dict[str, int]) -> TemplateVersion:
    """The newest published version of the template mapped to `product` (case and outer spaces ignored)."""
    wanted = product.strip().casefold()
    template_id = next((tid for name, tid in template_map.items() if name.strip().casefold() == wanted), None)
    if template_id is None:
        raise ValidationError({"product": f"No template is mapped to the product '{product}': an admin maps "
                                          "products under Settings → CRM hook."})
    version = db.session.scalars(
        sa.select(TemplateVersion).where(TemplateVersion.template_id == template_id,
                                         TemplateVersion.state == "published")
        .order_by(TemplateVersion.number.desc()).limit(1)).first()
    if version is None:
        raise ValidationError({"product": f"The template mapped to '{product}' has no published version."})
    return version


# --- the deal -------------------------------------------------------------------------------------------------------


class NoManager(Exception):
    """Nobody may manage the new project (no active admin, and the account's owner cannot)."""


@dataclass
class DealOutcome:
    deal_id: str
    account: Account | None
    project: Project | None
    #: True when this call made the project; False for a deal already handled.
    created: bool


def _deals() -> sa.Table:
    return db.metadata.tables["crm_deals"]


def _outcome(row, created: bool) -> DealOutcome:
    return DealOutcome(deal_id=row.deal_id,
                       account=db.session.get(Account, row.account_id) if row.account_id else None,
                       project=db.session.get(Project, row.project_id) if row.project_id else None,
                       created=created)


def _handled(deal_id: str):
    deals = _deals()
    return db.session.execute(sa.select(deals).where(deals.c.deal_id == deal_id)).first()


def find_or_create_account(data: DealWonAccount) -> Account:
    """The account with this name (case ignored), or a new one through the accounts' service (by the hook: no
    acting user)."""
    def find():
        return db.session.scalars(sa.select(Account).where(
            sa.func.lower(Account.name) == data.name.strip().lower())).first()

    account = find()
    if account is not None:
        return account
    try:
        return create_account(None, name=data.name, segment=data.segment or "mid")
    except ValidationError as exc:
        account = find() if set(exc.errors) == {"name"} else None  # another deal made it meanwhile
        if account is None:
            raise ValidationError({f"account.{k}": v for k, v in exc.errors.items()}) from None
        return account


def choose_manager(account: Account) -> User:
    """The project's manager: the account's owner when they may manage projects (active, not a consultant),
    otherwise the longest-standing active admin."""
    if account.owner_id is not None:
        owner = db.session.get(User, account.owner_id)
        if owner is not None and owner.is_active_user and owner.role != "consultant":
            return owner
    admin = db.session.scalars(sa.select(User).where(User.role == "admin", User.is_active_user.is_(True))
                               .order_by(User.id).limit(1)).first()
    if admin is None:
        raise NoManager("No active admin can manage the project made from this deal.")
    return admin


#: The project service's fields, as the deal names them.
_PROJECT_FIELDS = {"name": "project_name", "fee_amount": "amount", "target_go_live_date": "kickoff_date",
                   "manager_id": "manager"}


def create_from_deal(deal: DealWonIn, template_map: dict[str, int]) -> DealOutcome:
    """The deal's account and project, made in the caller's transaction (which commits), audited; or, for a deal
    id already handled (before, or by a delivery racing this one), what it made then (created False).
    ValidationError at the deal's fields (product unmapped, a date refused, …); NoManager."""
    begin_write()  # SQLite: one writer from here, so a second delivery waits and then finds the first one's row
    row = _handled(deal.deal_id)
    if row is not None:
        return _outcome(row, False)
    version = template_version_for(deal.product, template_map)
    deals = _deals()
    try:
        with db.session.begin_nested():
            db.session.execute(sa.insert(deals).values(deal_id=deal.deal_id))
    except IntegrityError:  # another delivery of this deal inserted it first (and has committed: we waited)
        row = _handled(deal.deal_id)
        if row is None:  # pragma: no cover - its transaction rolled back after our insert failed
            raise
        return _outcome(row, False)
    account = find_or_create_account(deal.account)
    manager = choose_manager(account)
    name = deal.project_name or f"{account.name} – {deal.product}"[:200]
    amount = deal.amount if deal.amount else None
    try:
        project = create_project(
            None, account=account, name=name, kickoff_date=deal.kickoff_date or org_today(), manager=manager,
            template_version=version, contract_signed_date=deal.contract_signed_date,
            billing_model="fixed_fee" if amount else "time_and_materials", fee_amount=amount)
    except ValidationError as exc:
        raise ValidationError({_PROJECT_FIELDS.get(k, k): v for k, v in exc.errors.items()}) from None
    db.session.execute(sa.update(deals).where(deals.c.deal_id == deal.deal_id)
                       .values(account_id=account.id, project_id=project.id))
    record_audit(None, "project.created_from_crm_deal", project,
                 after={"deal_id": deal.deal_id, "product": deal.product, "account_id": account.id,
                        "template_version_id": version.id})
    return DealOutcome(deal_id=deal.deal_id, account=account, project=project, created=True)
