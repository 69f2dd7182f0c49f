"""API operations: hooks. POST /api/v1/hooks/deal-won, the CRM's "deal won" (SPEC §4), authenticated by its
signature rather than a token; the rules are psa.crm.services."""

from __future__ import annotations

from datetime import date

from flask import current_app, request
from pydantic import BaseModel, Field

from psa.admin.services import get_settings
from psa.api import bp, spec
from psa.api.core import ApiError, public_api, responses
from psa.api.meta import SELF_VALIDATED
from psa.core import clock
from psa.crm import services as crm
from psa.extensions import db

#: The largest body the hook reads (a deal is well under 2 KB); larger ones get 413 before anything is parsed.
MAX_BODY_BYTES = 64 * 1024


class DealWonOut(BaseModel):
    """The project made for a deal (the same body whenever the deal is sent again)."""

    deal_id: str
    project_id: int
    project_name: str
    account_id: int
    account_name: str
    template_version_id: int | None = Field(description="The template version the project was made from.")
    kickoff_date: date


SELF_VALIDATED[("/api/v1/hooks/deal-won", "post")] = (crm.DealWonIn, [{
    "name": crm.SIGNATURE_HEADER, "in": "header", "required": True, "schema": {"type": "string"},
    "description": "sha256=<hex>: the HMAC-SHA256 of the raw request body with the hook secret "
                   "(Admin → Settings → CRM hook)."}])


def _unavailable() -> ApiError:
    return ApiError(503, "The CRM hook is off: an admin sets its secret under Settings → CRM hook.")


@bp.post("/hooks/deal-won")
@public_api
@spec.validate(resp=responses({200: DealWonOut, 201: DealWonOut}, 409, 413, 503), tags=["hooks"])
def deal_won():
    """Turn a won CRM deal into a project.

    No token: the body is signed. `X-PSA-Signature: sha256=<hex>` must be the HMAC-SHA256 of the raw body with the
    hook secret, and the body's `timestamp` (Unix seconds, UTC) within 300 seconds (CRM_HOOK_MAX_AGE) of the
    server's clock, earlier or later; otherwise 401 and nothing is created. Without a secret configured the hook
    is off: 503. The body (DealWonIn) is read only once the signature holds: 422 at its fields when it is not
    valid JSON or misses a field, or when no template is mapped to its `product`.

    The account is the one with the deal's account name (case ignored), or a new one. The project is made from the
    newest published version of the template mapped to the product, as the project form makes it; its manager is
    the account's owner when they may manage projects, otherwise the longest-standing active admin. Account,
    project and deal are saved in one transaction and audited.

    The deal id is unique: the first delivery answers 201, every later one (or one racing it) 200 with the same
    body and creates nothing. 409 when the project made for the deal has since been deleted."""
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise ApiError(413, f"The body is larger than {MAX_BODY_BYTES // 1024} KB.")
    request.max_content_length = MAX_BODY_BYTES  # a body without Content-Length is cut off here too (413)
    body = request.get_data(cache=True)
    secret = get_settings().crm_hook_secret
    if not secret:
        raise _unavailable()
    if not crm.verify_signature(secret, body, request.headers.get(crm.SIGNATURE_HEADER)):
        raise ApiError(401, f"The {crm.SIGNATURE_HEADER} header is missing or does not match the body: send "
                            "sha256=<hex HMAC-SHA256 of the body with the hook secret>.")
    deal = crm.parse(body)
    if not crm.is_fresh(deal.timestamp, clock.now(), current_app.config["CRM_HOOK_MAX_AGE"]):
        raise ApiError(401, "The timestamp is too far from the server's clock (more than "
                            f"{current_app.config['CRM_HOOK_MAX_AGE']} seconds): sign and send the deal again.",
                       {"timestamp": "Send the current time in Unix seconds."})
    try:
        outcome = crm.create_from_deal(deal, crm.load_template_map(get_settings().crm_template_map))
    except crm.NoManager as exc:
        raise ApiError(503, str(exc)) from None
    if outcome.project is None or outcome.account is None:
        raise ApiError(409, "This deal was turned into a project that has since been deleted; nothing was created.")
    project, account = outcome.project, outcome.account
    answer = DealWonOut(deal_id=outcome.deal_id, project_id=project.id, project_name=project.name,
                        account_id=account.id, account_name=account.name,
                        template_version_id=project.template_version_id, kickoff_date=project.kickoff_date)
    db.session.commit()
    return answer.model_dump(mode="json"), 201 if outcome.created else 200
