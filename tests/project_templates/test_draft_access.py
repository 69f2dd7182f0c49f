"""Drafts are for those who build templates (templates.manage): anyone else asking for a draft version, its
page or its JSON export, gets 404 as for a version that does not exist; published versions stay visible."""

from __future__ import annotations

import re

import pytest

from psa.auth.models import User
from psa.extensions import db
from psa.project_templates import services as s
from tests.conftest import login_as
from tests.project_templates.test_routes import seed


@pytest.fixture
def versions(app, make):
    """Template "Standard onboarding": v1 published, v2 a draft; template "Unreleased": only a draft (v1)."""
    admin = make.user(role="admin")
    standard = seed(app, admin, "Standard onboarding", publish=True)
    with app.app_context():
        draft = s.new_draft(db.session.get(User, admin.id), s.load_version(standard.version).template)
        db.session.commit()
        draft_id = draft.id
    unreleased = seed(app, admin, "Unreleased")
    return {"published": standard.version, "draft": draft_id, "template": standard.template,
            "unreleased": unreleased.version, "unreleased_template": unreleased.template}


@pytest.mark.parametrize("role", ["consultant", "manager"])
def test_a_draft_answers_404_like_a_missing_version(client, make, versions, role):
    login_as(client, make.user(role=role))
    for version_id in (versions["draft"], versions["unreleased"], 999999):
        assert client.get(f"/templates/versions/{version_id}").status_code == 404, version_id
        assert client.get(f"/templates/versions/{version_id}/export.json").status_code == 404, version_id
    assert client.get(f"/templates/{versions['unreleased_template']}").status_code == 404


@pytest.mark.parametrize("role", ["consultant", "manager"])
def test_published_versions_stay_visible_without_naming_the_draft(client, make, versions, role):
    login_as(client, make.user(role=role))
    page = client.get(f"/templates/versions/{versions['published']}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    visible = re.sub(r'="[^"]*"', '=""', html)  # attribute values (a CSRF token may hold "v2") left out
    assert f'/templates/versions/{versions["draft"]}"' not in html and "v2" not in visible
    assert client.get(f"/templates/versions/{versions['published']}/export.json").status_code == 200
    # the template's own link goes to its newest published version, not to the draft
    newest = client.get(f"/templates/{versions['template']}")
    assert newest.status_code == 302 and newest.headers["Location"] == f"/templates/versions/{versions['published']}"
    listing = client.get("/templates/").get_data(as_text=True)
    assert "Standard onboarding" in listing and "Unreleased" not in listing and "Draft" not in listing


@pytest.mark.parametrize("role", ["admin", "leader"])
def test_template_builders_open_drafts(client, make, versions, role):
    login_as(client, make.user(role=role))
    for version_id in (versions["draft"], versions["unreleased"]):
        assert client.get(f"/templates/versions/{version_id}").status_code == 200
        assert client.get(f"/templates/versions/{version_id}/export.json").status_code == 200
    newest = client.get(f"/templates/{versions['template']}")
    assert newest.headers["Location"] == f"/templates/versions/{versions['draft']}"
    assert "Unreleased" in client.get("/templates/").get_data(as_text=True)
