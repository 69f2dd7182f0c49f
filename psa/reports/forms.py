"""The utilization report's filters, read from the query string (a GET form: no CSRF token, nothing changes)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField

from psa.core.forms import choices
from psa.projects.forms import optional_date
from psa.reports.services import MAX_PERIOD_DAYS, PRESET_LABELS


class UtilizationForm(FlaskForm):
    """Period preset (or custom dates) and the switch that counts submitted weeks too."""

    class Meta:
        csrf = False

    period = SelectField("Period", choices=choices(list(PRESET_LABELS.items())), validate_choice=True,
                         default="this_month")
    date_from = optional_date("From", description="For a custom period, YYYY-MM-DD.")
    date_to = optional_date("To", description="For a custom period, YYYY-MM-DD; the day itself is included.")
    include_submitted = BooleanField("Include submitted hours (not yet approved)")

    def validate(self, extra_validators=None) -> bool:
        """The fields' own checks, then the custom period's: both days given (an empty optional date stops
        its field's validators, so this runs here), the first on or before the last, at most MAX_PERIOD_DAYS."""
        valid = super().validate(extra_validators)
        if self.period.data != "custom" or self.period.errors:
            return valid
        first, last = self.date_from, self.date_to
        if first.data is None and not first.errors:
            first.errors = [*first.errors, "Enter the first day of the custom period (YYYY-MM-DD)."]
        if last.data is None and not last.errors:
            last.errors = [*last.errors, "Enter the last day of the custom period (YYYY-MM-DD)."]
        if first.data and last.data and not last.errors:
            if last.data < first.data:
                last.errors = [*last.errors, "The end of the period comes before its start."]
            elif (last.data - first.data).days + 1 > MAX_PERIOD_DAYS:
                last.errors = [*last.errors, f"A period holds at most {MAX_PERIOD_DAYS} days."]
        return valid and not first.errors and not last.errors
