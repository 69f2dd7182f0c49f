"""Portal pages render from allow-listed views only: each view's fields are exactly its allow-list, and
render_portal refuses an ORM object anywhere in the context."""

from __future__ import annotations

import dataclasses

import pytest

from psa.extensions import db
from psa.portal import views


def test_each_view_carries_exactly_its_allow_list():
    assert set(views.ALLOWED_FIELDS) == {views.PortalContact, views.PortalProject, views.PortalMilestone,
                                         views.PortalTask, views.PortalComment, views.PortalDocument,
                                         views.PortalCriterion, views.PortalHours}
    for view, allowed in views.ALLOWED_FIELDS.items():
        assert tuple(f.name for f in dataclasses.fields(view)) == allowed, view.__name__
        assert view.__dataclass_params__.frozen, view.__name__


def test_no_view_field_names_money_or_internal_columns():
    forbidden = {"fee_amount", "bill_rate", "cost_rate", "health", "health_reason", "budget_minutes", "note",
                 "blocked_reason", "visibility", "stored_name", "assignee_id", "manager_id", "fee_share_percent",
                 "email", "password_hash"}
    for allowed in views.ALLOWED_FIELDS.values():
        assert not forbidden & set(allowed)


def test_render_portal_refuses_an_orm_object(app, make):
    from psa.accounts.models import Contact

    contact = make.contact()
    with app.test_request_context():
        row = db.session.get(Contact, contact.id)
        with pytest.raises(TypeError, match="ORM object"):
            views.check_context({"tasks": [row]}, "context")
        with pytest.raises(TypeError, match="ORM object"):
            views.render_portal("portal/home.html", portal_contact=row)
        views.check_context([views.contact_view(row)])  # a view passes


def test_portal_templates_are_only_rendered_through_render_portal():
    from pathlib import Path

    source = "".join(p.read_text() for p in Path("psa/portal").glob("*.py") if p.name in ("pages.py", "work.py"))
    assert "render_template(" not in source
