"""The account view: load the account (404 when missing), authorize (accounts.view; money only with
rates.manage), read the figures in one service call, render."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user

from psa.accounts.models import STAKEHOLDER_LABELS, VIEW_LEVEL_LABELS, Account
from psa.core.auth import can, permission_required
from psa.customers import bp
from psa.customers.services import account_overview, hours
from psa.escalations.routes import LEVEL_BADGES
from psa.extensions import db
from psa.projects.models import (
    BILLING_LABELS,
    CRITERION_STATUS_LABELS,
    ESCALATION_REASON_LABELS,
    HEALTH_BADGES,
    HEALTH_LABELS,
    PROJECT_STATUS_LABELS,
)
from psa.projects.routes import CRITERION_STATUS_BADGES


@bp.route("/<int:account_id>")
@permission_required("accounts.view")
def show(account_id: int):
    account = db.get_or_404(Account, account_id)
    overview = account_overview(current_user, account, with_money=can("rates.manage"))
    return render_template(
        "customers/account.html", overview=overview, account=account, hours=hours,
        health_labels=HEALTH_LABELS, health_badges=HEALTH_BADGES, status_labels=PROJECT_STATUS_LABELS,
        billing_labels=BILLING_LABELS, criterion_labels=CRITERION_STATUS_LABELS, criterion_badges=CRITERION_STATUS_BADGES,
        reason_labels=ESCALATION_REASON_LABELS, level_badges=LEVEL_BADGES, stakeholder_labels=STAKEHOLDER_LABELS,
        view_level_labels=VIEW_LEVEL_LABELS)
