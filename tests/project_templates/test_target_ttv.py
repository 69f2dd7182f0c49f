"""The template's target time to value: set on the builder's details form (1 to 3650 days, or empty), kept on
the template (what the TTV snapshot compares with), audited in words, shown on the builder and the list."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from psa.activity.text import describe_events
from psa.core.models import AuditEvent
from psa.extensions import db
from psa.project_templates.models import Template, TemplateVersion
from tests.conftest import login_as
from tests.project_templates.test_routes import field_errors, post, seed


@pytest.fixture
def admin(make):
    return make.user(role="admin", name="Ada Admin")


@pytest.fixture
def as_admin(client, admin):
    login_as(client, admin)
    return client


def _details(version_id: int, target: str) -> dict:
    return {"details-name": "Standard onboarding", "details-description": "", "details-target_ttv_days": target,
            "details-notes": ""}


def _sentences(app, template_id: int) -> list[str]:
    with app.test_request_context():
        events = db.session.scalars(sa.select(AuditEvent).options(selectinload(AuditEvent.actor))
                                    .where(AuditEvent.action == "template.target_changed",
                                           AuditEvent.object_id == template_id).order_by(AuditEvent.id)).all()
        return [str(line) for line in describe_events(events)]


def _targets(app, ids) -> tuple:
    with app.app_context():
        return (db.session.get(Template, ids.template).target_ttv_days,
                db.session.get(TemplateVersion, ids.version).target_ttv_days)


def test_the_details_form_sets_changes_and_clears_the_templates_target_each_audited(app, as_admin, admin):
    ids = seed(app, admin)
    page = as_admin.get(f"/templates/versions/{ids.version}").get_data(as_text=True)
    assert "Target time to value (days)" in page
    assert _targets(app, ids) == (45, 45)  # as created (tests/project_templates/test_services.build)
    for target, expected in (("45", 45), ("30", 30), ("30", 30), ("", None), ("3650", 3650)):
        response = post(as_admin, f"/templates/versions/{ids.version}/details", _details(ids.version, target))
        assert response.status_code == 302, response.get_data(as_text=True)
        assert _targets(app, ids) == (expected, expected)
    sentences = _sentences(app, ids.template)  # saving the same target again records nothing
    assert sentences == [
        "Ada Admin changed the target time to value of Standard onboarding from 45 to 30 days",
        "Ada Admin removed the target time to value of Standard onboarding (was 30 days)",
        "Ada Admin set the target time to value of Standard onboarding to 3650 days",
    ]


def test_a_target_out_of_range_is_refused_at_the_field_and_changes_nothing(app, as_admin, admin):
    ids = seed(app, admin)
    before = _targets(app, ids)
    for value in ("0", "3651", "-1"):
        response = post(as_admin, f"/templates/versions/{ids.version}/details", _details(ids.version, value))
        assert response.status_code == 400
        assert field_errors(response.get_data(as_text=True), "details-target_ttv_days") == [
            "Enter a number of days from 1 to 3650, or leave it empty."]
    assert _targets(app, ids) == before
    assert _sentences(app, ids.template) == []


def test_the_published_builder_and_the_list_show_the_templates_target(app, as_admin, admin):
    ids = seed(app, admin, publish=True)
    with app.app_context():
        db.session.get(Template, ids.template).target_ttv_days = 21
        db.session.commit()
    assert "21 calendar days" in as_admin.get(f"/templates/versions/{ids.version}").get_data(as_text=True)
    assert "21 days" in as_admin.get("/templates/").get_data(as_text=True)
