"""The settings of the CRM deal-won hook (POST /api/v1/hooks/deal-won, psa.crm): its secret, which is write-only
(the page says whether one is set and shows a generated one once; the audit trail never holds it), and the mapping
from the deal's product or plan to a template, stored as JSON {"<product>": <template id>} and edited as lines
"product = template id" (a JSON object is accepted too). Every template id must exist."""

from __future__ import annotations

import hashlib
import json
import re
import secrets

import sqlalchemy as sa

from psa.admin.models import Settings
from psa.core.audit import record_audit
from psa.core.errors import ValidationError
from psa.extensions import db
from psa.project_templates.models import Template

SECRET_MIN, SECRET_MAX = 16, 200
MAP_FIELD = "crm_template_map"
SECRET_FIELD = "crm_hook_secret"


def new_secret() -> str:
    """A fresh random secret (43 URL-safe characters, 256 bits)."""
    return secrets.token_urlsafe(32)


def secret_marker(secret: str) -> str:
    """What the session keeps to show a just-generated secret once: a short hash, never the secret."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


def stored_map(settings: Settings) -> dict[str, int]:
    try:
        data = json.loads(settings.crm_template_map or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def template_map_text(settings: Settings) -> str:
    """The mapping as the form shows it: one "product = template id" line per product, by product."""
    return "\n".join(f"{product} = {template_id}"
                     for product, template_id in sorted(stored_map(settings).items(), key=lambda i: i[0].casefold()))


def parse_template_map(text: str) -> dict[str, int]:
    """Lines "product = template id" (or a JSON object) as {product: template id}; ValidationError at
    crm_template_map naming every line that is wrong."""
    text = (text or "").strip()
    problems: list[str] = []
    pairs: list[tuple[str, object, str]] = []  # product, template id as given, where (for messages)
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            raise ValidationError({MAP_FIELD: "This is not a valid JSON object: use lines 'product = template id' "
                                              "or {\"product\": template id}."}) from None
        pairs = [(str(k).strip(), v, f"'{k}'") for k, v in data.items()]
    else:
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            product, equals, template_id = line.rpartition("=")
            if not equals:
                problems.append(f"line {number}: write 'product = template id'")
                continue
            pairs.append((product.strip(), template_id.strip(), f"line {number}"))
    mapping: dict[str, int] = {}
    seen: dict[str, str] = {}
    for product, raw_id, where in pairs:
        if not product:
            problems.append(f"{where}: name the product before '='")
            continue
        if len(product) > 200 or re.search(r"[\x00-\x1f\x7f]", product):
            problems.append(f"{where}: a product name has at most 200 characters and no control characters")
            continue
        if isinstance(raw_id, bool) or not re.fullmatch(r"[0-9]{1,9}", str(raw_id)):
            problems.append(f"{where}: the template must be a template id (a number), not '{raw_id}'")
            continue
        key = product.casefold()
        if key in seen:
            problems.append(f"{where}: '{product}' is mapped twice")
            continue
        seen[key] = where
        mapping[product] = int(str(raw_id))
    if mapping:
        known = set(db.session.scalars(sa.select(Template.id).where(Template.id.in_(set(mapping.values())))))
        for product, template_id in mapping.items():
            if template_id not in known:
                problems.append(f"'{product}': there is no template with id {template_id}")
    if problems:
        raise ValidationError({MAP_FIELD: "Fix: " + "; ".join(problems) + "."})
    return mapping


def update_crm_hook(actor, settings: Settings, *, secret: str | None = None, generate: bool = False,
                    remove: bool = False, template_map: str = "") -> str | None:
    """Save the mapping and, as asked, a typed secret, a generated one or none (the hook off). Returns the
    generated secret (to show once), else None. Audited without the secret."""
    errors: dict[str, str] = {}
    secret = (secret or "").strip()
    if sum((bool(secret), generate, remove)) > 1:
        errors[SECRET_FIELD] = "Type a secret, generate one or remove it: one of the three."
    elif secret and not (SECRET_MIN <= len(secret) <= SECRET_MAX and re.fullmatch(r"[\x21-\x7e]+", secret)):
        errors[SECRET_FIELD] = (f"Use {SECRET_MIN} to {SECRET_MAX} printable characters without spaces, or "
                                "generate one.")
    try:
        mapping = parse_template_map(template_map)
    except ValidationError as exc:
        errors.update(exc.errors)
    if errors:
        raise ValidationError(errors)
    generated = new_secret() if generate else None
    before = {"crm_hook_secret": "set" if settings.crm_hook_secret else "not set",
              "crm_template_map": stored_map(settings)}
    if generated or secret:
        settings.crm_hook_secret = generated or secret
    elif remove:
        settings.crm_hook_secret = ""
    settings.crm_template_map = json.dumps(mapping, sort_keys=True)
    after = {"crm_hook_secret": ("replaced" if before["crm_hook_secret"] == "set" else "set")
             if generated or secret else ("not set" if remove else before["crm_hook_secret"]),
             "crm_template_map": mapping}
    db.session.flush()
    if before != after:
        record_audit(actor, "settings.crm_hook_updated", settings, before, after)
    return generated
