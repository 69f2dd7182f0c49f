"""Hours typed in forms become whole minutes by one rule (psa.core.forms), used by the project and the template
forms alike: half up to the minute, blank stays blank; and minutes show as hours with two decimals."""

from __future__ import annotations

from decimal import Decimal

import pytest

from psa.core.forms import hours_to_minutes, minutes_to_hours


@pytest.mark.parametrize(("hours", "minutes"), [
    ("0", 0),
    ("1.25", 75),     # 75.0
    ("0.01", 1),      # 0.6 min, up
    ("0.05", 3),      # 3.0
    ("0.13", 8),      # 7.8 min, up
    ("0.12", 7),      # 7.2 min, down
    ("2.5", 150),
    ("0.025", 2),     # 1.5 min: exactly half, up
    ("0.075", 5),     # 4.5 min: up (the project form used to round half to even, giving 4; the template form 5)
    ("99999.99", 5999999),  # 5,999,999.4
])
def test_hours_become_minutes_half_up(hours, minutes):
    assert hours_to_minutes(Decimal(hours)) == minutes


def test_blank_hours_stay_blank():
    assert hours_to_minutes(None) is None
    assert minutes_to_hours(None) is None


@pytest.mark.parametrize(("minutes", "hours"), [(0, "0.00"), (75, "1.25"), (1, "0.02"), (20, "0.33"), (40, "0.67"),
                                                (90, "1.50")])
def test_minutes_show_as_hours_with_two_decimals(minutes, hours):
    assert minutes_to_hours(minutes) == Decimal(hours)
    assert str(minutes_to_hours(minutes)) == hours


def test_both_forms_modules_use_the_one_rule():
    import psa.project_templates.forms as template_forms
    import psa.projects.forms as project_forms
    from psa.core import forms as core_forms

    for module in (project_forms, template_forms):
        assert getattr(module, "hours_to_minutes", core_forms.hours_to_minutes) is core_forms.hours_to_minutes
        assert getattr(module, "ConfirmForm", core_forms.ConfirmForm) is core_forms.ConfirmForm
