"""Helpers the admin page tests share: reading field messages out of a page, counting rows."""

from __future__ import annotations

import html
import re

import sqlalchemy as sa

_FEEDBACK_RE = re.compile(r'<div class="invalid-feedback[^"]*">(.*?)</div>', re.S)


def field_errors(page: str, field: str) -> list[str]:
    """The messages in the `invalid-feedback` blocks that follow the control named `field`.

    The search runs from the control to the next control of another name, so a message
    shown at a neighbouring field does not count.
    """
    start = page.find(f'name="{field}"')
    assert start != -1, f"no control named {field!r} on the page"
    following = re.compile(rf'name="(?!{re.escape(field)}")[^"]+"').search(page, start + 1)
    end = following.start() if following else len(page)
    return [html.unescape(message.strip()) for message in _FEEDBACK_RE.findall(page[start:end])]


def row_count(app, model) -> int:
    """Rows of a table, counted in a short app context of its own."""
    from psa.extensions import db

    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def count_testid(page: str, testid: str) -> int:
    return page.count(f'data-testid="{testid}"')
