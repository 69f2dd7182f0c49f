"""The end of a route that changes something: call one service, then commit or show what was refused.

Routes used to repeat the same block (try the service; on ValidationError roll back and put the messages at
the form's fields; else commit, flash and redirect). `save_or_errors` is that block, once."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import flash, redirect
from werkzeug.wrappers import Response

from psa.core.errors import ValidationError, apply_errors
from psa.extensions import db

T = TypeVar("T")


def save_or_errors(
    form,
    action: Callable[[], T],
    *,
    success: str | Callable[[T], str],
    redirect_to: str | Callable[[T], str],
    on_error: Callable[[ValidationError], Response | tuple] | None = None,
    after_commit: Callable[[T], object] | None = None,
) -> Response | tuple | None:
    """Run `action()` (one service call) and end the request's transaction.

    Accepted: commit, call `after_commit(result)` if given (sending queued mail, signing in again), flash
    `success` and return a redirect to `redirect_to`; either may be a function of what the action returned.

    Refused (the service raised ValidationError): roll back, then
    - with `on_error`, return what it returns (a page answering 400, say; or None after it put the messages
      where they belong, and the route renders the form again);
    - with a form, put each message at its field and return None: the route renders the form again;
    - with `form=None` (a bare button), flash the first message and redirect to `redirect_to` anyway (a
      string then: there is no result to compute it from).
    """
    try:
        result = action()
    except ValidationError as exc:
        db.session.rollback()
        if on_error is not None:
            return on_error(exc)
        if form is not None:
            apply_errors(form, exc)
            return None
        flash(next(iter(exc.errors.values()), str(exc)), "danger")
        return redirect(redirect_to)
    db.session.commit()
    if after_commit is not None:
        after_commit(result)
    flash(success(result) if callable(success) else success, "success")
    return redirect(redirect_to(result) if callable(redirect_to) else redirect_to)
