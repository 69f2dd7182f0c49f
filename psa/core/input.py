"""The boundary check of every request: text that no field may hold is refused before any view runs.

A C0 control character other than tab, line feed and carriage return (NUL above all: PostgreSQL's text
columns refuse it), a lone surrogate, or bytes that are not UTF-8, in a query-string or form value, a
field name or an uploaded file's name, answers 400 with our error page. Nothing reaches a form or a
service, so nothing is written.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from flask import request

from psa.core.errors import render_error

#: C0 controls but tab, LF and CR; lone surrogates (which werkzeug may let through from %-escapes).
_REFUSED = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
#: What werkzeug puts where bytes were not UTF-8 (it decodes with errors="replace").
_REPLACEMENT = "\ufffd"
MESSAGE = ("The request holds a character that cannot be stored (a control character or text that is not "
           "UTF-8). Remove it and try again; nothing was changed.")


def _utf8(raw: bytes) -> bool:
    try:
        unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _bad(text: str | None) -> bool:
    return bool(text) and _REFUSED.search(text) is not None


def refused_input() -> str | None:
    """The reason the current request's input is refused, or None when it is fine."""
    if not _utf8(request.query_string):
        return "query"
    for key, value in request.args.items(multi=True):
        if _bad(key) or _bad(value):
            return "query"
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return None
    mimetype = request.mimetype
    if mimetype == "application/x-www-form-urlencoded" and not _utf8(request.get_data(cache=True)):
        return "form"
    if mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        multipart = mimetype == "multipart/form-data"
        for key, value in request.form.items(multi=True):
            if _bad(key) or _bad(value) or (multipart and _REPLACEMENT in value):
                return "form"
        for key, upload in request.files.items(multi=True):
            name = upload.filename or ""
            if _bad(key) or _bad(name) or _REPLACEMENT in name:
                return "file name"
    return None


def register_input_check(app) -> None:
    @app.before_request
    def refuse_control_characters():
        if refused_input() is not None:
            return render_error(400, MESSAGE)
        return None
