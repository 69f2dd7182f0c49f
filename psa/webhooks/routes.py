"""Webhook admin pages (issue 16), for admins ("admin.settings"): the endpoints with their last delivery, an
endpoint's form (URL, description, events), its secret shown once (at creation and after a rotation), delete,
its delivery log (newest first, paginated) with Retry on a failed delivery, and Send test."""

from __future__ import annotations

import sqlalchemy as sa
from flask import (
    abort,
    current_app,
    flash,
    has_request_context,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from psa.core.auth import permission_required
from psa.core.errors import ValidationError, apply_errors
from psa.core.forms import ConfirmForm
from psa.core.pagination import paginate
from psa.extensions import db
from psa.webhooks import bp
from psa.webhooks import services as webhooks
from psa.webhooks.forms import EndpointForm
from psa.webhooks.models import WEBHOOK_EVENTS, WebhookDelivery, WebhookEndpoint

PERMISSION = "admin.settings"


@bp.url_defaults
def _same_endpoint(endpoint: str, values: dict) -> None:
    """Links built on an endpoint's page keep its id (the shared pager passes only the query string)."""
    view_args = request.view_args if has_request_context() else None
    if (view_args and "endpoint_id" in view_args and "endpoint_id" not in values
            and current_app.url_map.is_endpoint_expecting(endpoint, "endpoint_id")):
        values["endpoint_id"] = view_args["endpoint_id"]


def _secret_page(endpoint: WebhookEndpoint, secret: str, created: bool):
    """The one page showing a secret; never cached, never stored in the session."""
    response = make_response(render_template("webhooks/secret.html", hook=endpoint, secret=secret,
                                             created=created))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/")
@permission_required(PERMISSION)
def index():
    endpoints = db.session.scalars(sa.select(WebhookEndpoint).order_by(WebhookEndpoint.id)).all()
    return render_template("webhooks/index.html", endpoints=endpoints,
                           last=webhooks.last_deliveries([endpoint.id for endpoint in endpoints]),
                           event_labels=WEBHOOK_EVENTS)


@bp.route("/new", methods=["GET", "POST"])
@permission_required(PERMISSION)
def new():
    form = EndpointForm()
    if request.method == "GET":
        form.active.data = True
    if form.validate_on_submit():
        try:
            endpoint = webhooks.create_endpoint(current_user, url=form.url.data, description=form.description.data,
                                                events=form.events.data, active=form.active.data)
        except ValidationError as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            secret = endpoint.secret
            db.session.commit()
            return _secret_page(endpoint, secret, created=True)
    return render_template("webhooks/form.html", form=form, hook=None), 400 if form.errors else 200


@bp.route("/<int:endpoint_id>", methods=["GET", "POST"])
@permission_required(PERMISSION)
def edit(endpoint_id: int):
    endpoint = db.get_or_404(WebhookEndpoint, endpoint_id)
    form = EndpointForm(obj=endpoint)
    if request.method == "GET":
        form.events.data = endpoint.event_list
    if form.validate_on_submit():
        try:
            webhooks.update_endpoint(current_user, endpoint, url=form.url.data, description=form.description.data,
                                     events=form.events.data, active=form.active.data)
        except ValidationError as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            db.session.commit()
            flash("Endpoint saved.", "success")
            return redirect(url_for("webhooks.edit", endpoint_id=endpoint.id))
    return (render_template("webhooks/form.html", form=form, hook=endpoint, confirm=ConfirmForm()),
            400 if form.errors else 200)


def _confirmed() -> None:
    if not ConfirmForm().validate_on_submit():
        abort(400)


@bp.route("/<int:endpoint_id>/rotate", methods=["POST"])
@permission_required(PERMISSION)
def rotate(endpoint_id: int):
    endpoint = db.get_or_404(WebhookEndpoint, endpoint_id)
    _confirmed()
    secret = webhooks.rotate_secret(current_user, endpoint)
    db.session.commit()
    return _secret_page(endpoint, secret, created=False)


@bp.route("/<int:endpoint_id>/delete", methods=["POST"])
@permission_required(PERMISSION)
def delete(endpoint_id: int):
    endpoint = db.get_or_404(WebhookEndpoint, endpoint_id)
    _confirmed()
    url = endpoint.url
    webhooks.delete_endpoint(current_user, endpoint)
    db.session.commit()
    flash(f"Endpoint {url} and its delivery log deleted.", "success")
    return redirect(url_for("webhooks.index"))


@bp.route("/<int:endpoint_id>/test", methods=["POST"])
@permission_required(PERMISSION)
def send_test(endpoint_id: int):
    endpoint = db.get_or_404(WebhookEndpoint, endpoint_id)
    _confirmed()
    delivery_id = webhooks.send_test(current_user, endpoint).id
    db.session.commit()
    webhooks.dispatch_delivery(delivery_id)
    flash("Test delivery queued: its result shows in the log below (reload to see it).", "success")
    return redirect(url_for("webhooks.deliveries", endpoint_id=endpoint.id))


@bp.route("/<int:endpoint_id>/deliveries")
@permission_required(PERMISSION)
def deliveries(endpoint_id: int):
    endpoint = db.get_or_404(WebhookEndpoint, endpoint_id)
    return render_template("webhooks/deliveries.html", hook=endpoint,
                           page=paginate(webhooks.deliveries_query(endpoint.id)), confirm=ConfirmForm(),
                           event_labels=WEBHOOK_EVENTS, max_attempts=webhooks.MAX_ATTEMPTS)


@bp.route("/deliveries/<int:delivery_id>/retry", methods=["POST"])
@permission_required(PERMISSION)
def retry(delivery_id: int):
    delivery = db.get_or_404(WebhookDelivery, delivery_id)
    _confirmed()
    endpoint_id = delivery.endpoint_id
    if webhooks.retry_delivery(current_user, delivery):
        db.session.commit()
        webhooks.dispatch_delivery(delivery_id)
        flash("Delivery queued again.", "success")
    else:
        flash("That delivery is no longer failed; nothing was changed.", "warning")
    return redirect(url_for("webhooks.deliveries", endpoint_id=endpoint_id))
