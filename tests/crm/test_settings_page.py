"""The CRM hook's settings on /admin/settings: the secret is write-only (the page says whether one is set, shows a
generated one once, never echoes it), the mapping is edited as lines "product = template id" and every template id
must exist (messages at the field). psa.admin.crm_settings holds the rules."""

from __future__ import annotations

import json
import re

import pytest
import sqlalchemy as sa

from psa.admin import crm_settings
from psa.admin.models import Settings
from psa.core.errors import ValidationError
from psa.core.models import AuditEvent
from psa.extensions import db
from psa.project_templates.models import TemplateVersion
from tests.admin.helpers import field_errors
from tests.conftest import post_form
from tests.projects.helpers import ONBOARDING, build_template


@pytest.fixture
def template_id(app):
    version_id = build_template(app, ONBOARDING)
    with app.app_context():
        return db.session.get(TemplateVersion, version_id).template_id


def settings_row(app) -> Settings:
    with app.app_context():
        row = db.session.get(Settings, 1)
        db.session.expunge(row)
        return row


def test_the_mapping_lines_and_json_are_read_and_checked(ctx, template_id):
    assert crm_settings.parse_template_map(f"Enterprise = {template_id}\n\n# comment\nPro plan={template_id}") == {
        "Enterprise": template_id, "Pro plan": template_id}
    assert crm_settings.parse_template_map(json.dumps({"Enterprise": template_id})) == {"Enterprise": template_id}
    assert crm_settings.parse_template_map("") == {}
    with pytest.raises(ValidationError) as bad:
        crm_settings.parse_template_map(f"Enterprise = {template_id}\nenterprise = {template_id}\nStarter = x\n"
                                        "no equals sign\n= 3\nGold = 999999")
    message = bad.value.errors["crm_template_map"]
    assert "line 2: 'enterprise' is mapped twice" in message and "line 3: the template must be a template id" in message
    assert "line 4: write 'product = template id'" in message and "line 5: name the product" in message
    assert "'Gold': there is no template with id 999999" in message
    with pytest.raises(ValidationError) as bad_json:
        crm_settings.parse_template_map('{"Enterprise": ')
    assert "not a valid JSON object" in bad_json.value.errors["crm_template_map"]


def test_an_admin_generates_a_secret_sees_it_once_and_maps_products(app, make, login, template_id):
    admin = make.user(role="admin")
    client = login(admin)
    page = client.get("/admin/settings").get_data(as_text=True)
    assert "No secret" in page and 'id="crm-hook"' in page
    response = post_form(client, "/admin/settings/crm", {"generate_secret": "y",
                                                        "crm_template_map": f"Enterprise = {template_id}"},
                         token_from="/admin/settings")
    assert response.status_code == 302  # accepted posts redirect; the next page shows the secret once
    assert "crm" not in response.headers["Location"].split("#")[0].split("/admin/settings")[-1]
    shown_page = client.get("/admin/settings")
    assert shown_page.headers["Cache-Control"] == "no-store"
    shown = re.search(r'data-testid="crm-secret">([^<]+)<', shown_page.get_data(as_text=True)).group(1)
    cookies = [*response.headers.getlist("Set-Cookie"), *shown_page.headers.getlist("Set-Cookie")]
    assert cookies and not any(shown in cookie for cookie in cookies)
    stored = settings_row(app)
    assert stored.crm_hook_secret == shown and len(shown) >= 40
    assert json.loads(stored.crm_template_map) == {"Enterprise": template_id}
    again = client.get("/admin/settings").get_data(as_text=True)
    assert shown not in again and "Secret set" in again and f"Enterprise = {template_id}" in again
    with app.app_context():
        event = db.session.scalars(sa.select(AuditEvent).where(
            AuditEvent.action == "settings.crm_hook_updated")).one()
        assert shown not in json.dumps([event.before, event.after])
        assert event.after["crm_hook_secret"] == "set"


def test_a_typed_secret_is_saved_but_never_shown_and_can_be_removed(app, make, login):
    client = login(make.user(role="admin"))
    secret = "typed-secret-0123456789"
    response = post_form(client, "/admin/settings/crm", {"crm_hook_secret": secret, "crm_template_map": ""},
                         token_from="/admin/settings")
    assert response.status_code == 302
    assert settings_row(app).crm_hook_secret == secret
    assert secret not in client.get("/admin/settings").get_data(as_text=True)
    post_form(client, "/admin/settings/crm", {"remove_secret": "y", "crm_template_map": ""},
              token_from="/admin/settings")
    assert settings_row(app).crm_hook_secret == ""


def test_wrong_input_is_shown_at_its_field_and_nothing_changes(app, make, login, template_id):
    client = login(make.user(role="admin"))
    response = post_form(client, "/admin/settings/crm", {"crm_hook_secret": "short",
                                                        "crm_template_map": "Enterprise = 424242"},
                         token_from="/admin/settings")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert any("printable characters" in m for m in field_errors(page, "crm_hook_secret"))
    assert any("no template with id 424242" in m for m in field_errors(page, "crm_template_map"))
    assert 'value="short"' not in page  # the secret is not echoed
    stored = settings_row(app)
    assert stored.crm_hook_secret == "" and stored.crm_template_map == "{}"


def test_only_admins_edit_the_hook(app, make, login):
    client = login(make.user(role="manager"))
    response = post_form(client, "/admin/settings/crm", {"generate_secret": "y", "crm_template_map": ""})
    assert response.status_code == 403
    assert settings_row(app).crm_hook_secret == ""
