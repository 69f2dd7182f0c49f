"""The dashboard at / and the in-app notifications."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user

from psa.accounts.models import Account
from psa.admin.forms import ConfirmForm
from psa.core.auth import permission_required
from psa.core.models import Notification
from psa.core.notifications import mark_all_read
from psa.core.pagination import paginate
from psa.dashboard import bp
from psa.extensions import db


@bp.route("/")
@permission_required("app.use")
def index():
    account_count = db.session.scalar(sa.select(sa.func.count(Account.id)))
    recent = db.session.scalars(
        sa.select(Notification).where(Notification.user_id == current_user.id)
        .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(5)
    ).all()
    return render_template("dashboard/index.html", account_count=account_count, notifications=recent)


@bp.route("/notifications")
@permission_required("app.use")
def notifications():
    stmt = (sa.select(Notification).where(Notification.user_id == current_user.id)
            .order_by(Notification.created_at.desc(), Notification.id.desc()))
    return render_template("dashboard/notifications.html", page=paginate(stmt), confirm=ConfirmForm())


@bp.route("/notifications/read", methods=["POST"])
@permission_required("app.use")
def notifications_read():
    if not ConfirmForm().validate_on_submit():
        abort(400)
    count = mark_all_read(current_user)
    db.session.commit()
    flash(f"{count} notification{'s' if count != 1 else ''} marked read.", "info")
    return redirect(url_for("dashboard.notifications"))
