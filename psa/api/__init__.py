"""The JSON API at /api/v1/ (SPEC §4): bearer tokens acting with their user's permissions, request and response
bodies described by pydantic models from which spectree validates requests and builds the OpenAPI 3.1 document
(/api/v1/openapi.json, rendered at /api/v1/docs), errors as {"error": {"code", "message", "fields"}}.

Every write calls the same service functions as the pages (projects.services, timesheets.services, …): the API is
a third door to the rules, never a third copy of them."""

from __future__ import annotations

from flask import Blueprint
from spectree import SpecTree

bp = Blueprint("api", __name__, url_prefix="/api/v1")

#: The operations' schemas and the document. `before` turns a request that fails its model into our 422 body.
spec = SpecTree("flask", title="PSA API", version="1.0.0", mode="strict", annotations=False,
                validation_error_status=422, naming_strategy=lambda model: model.__name__,
                nested_naming_strategy=lambda parent, child: child, path="api/v1/spectree", description=(
                    "The JSON API of PSA. Authenticate with `Authorization: Bearer <token>` (create a token under "
                    "Account → API tokens, or `psa create-token --email`). Lists are paginated with `limit` and "
                    "the `next_cursor` of the previous page; writes accept an `Idempotency-Key` header."))

# the operations register themselves on bp and spec: authentication, errors, pagination and idempotency (core), the
# document (meta), then each resource; hooks is the CRM deal-won hook (signed with HMAC, not a token)
from psa.api import core, meta  # noqa: E402,F401,I001
from psa.api import accounts, escalations, hooks, projects, reports, time  # noqa: E402,F401
