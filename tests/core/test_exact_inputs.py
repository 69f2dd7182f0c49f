"""Weekly capacity and a milestone's fee share go through the one exact-number rule (psa.core.money): more
decimals than stored is a message at the field, never a silent rounding; a JSON import's float keeps its text."""

from __future__ import annotations

from decimal import Decimal

import pytest

from psa.auth.services import create_user
from psa.core.errors import ValidationError
from psa.project_templates.services import (
    add_milestone,
    create_template,
    export_version,
    import_template,
    load_version,
)


def test_capacity_with_three_decimals_is_refused_not_rounded(ctx):
    with pytest.raises(ValidationError) as refused:
        create_user(None, email="cap@example.com", name="Cap", role="consultant",
                    weekly_capacity_hours=Decimal("37.505"))
    assert refused.value.errors == {"weekly_capacity_hours": "Use at most 2 decimals, like 1.25."}
    with pytest.raises(ValidationError) as too_many:
        create_user(None, email="cap@example.com", name="Cap", role="consultant", weekly_capacity_hours=169)
    assert too_many.value.errors == {"weekly_capacity_hours": "Enter the hours a week, 0 to 168."}
    user = create_user(None, email="cap@example.com", name="Cap", role="consultant",
                       weekly_capacity_hours=Decimal("37.5"))
    assert user.weekly_capacity_hours == Decimal("37.50")


def test_fee_share_with_three_decimals_is_refused_and_a_json_float_keeps_its_text(ctx):
    version = create_template(None, name="Exact shares")
    with pytest.raises(ValidationError) as refused:
        add_milestone(None, version, name="Kickoff", offset_days=0, fee_share_percent="33.333")
    assert refused.value.errors == {"fee_share_percent": "Use at most 2 decimals, like 1.25."}
    with pytest.raises(ValidationError) as over:
        add_milestone(None, version, name="Kickoff", offset_days=0, fee_share_percent="100.01")
    assert over.value.errors == {"fee_share_percent": "Enter a percentage from 0 to 100."}
    add_milestone(None, version, name="Kickoff", offset_days=0, fee_share_percent="33.33")
    data = export_version(load_version(version.id))
    data["template"]["name"] = "Exact shares (imported)"
    data["milestones"][0]["fee_share_percent"] = 33.33  # as json.loads gives it
    imported = import_template(None, data)
    assert [m.fee_share_percent for m in load_version(imported.id).milestones] == [Decimal("33.33")]
