"""Text as the application keeps it, whatever sent it.

Browsers post a <textarea> with CRLF line breaks, CSV exports write CRLF (or a lone CR, from old Mac
tools) inside quoted cells, and an API client sends whatever its platform uses. Every path that takes
multi-line text (the timesheet grid, the time import, the API) passes it through `normalize_newlines`
once, so what is stored, compared and shown has one spelling of a line break: LF.
"""

from __future__ import annotations

import re

_LINE_BREAK = re.compile(r"\r\n?")


def normalize_newlines(text: str | None) -> str:
    """`text` with every CRLF and lone CR turned into LF ("" for None); nothing else changes."""
    if not text:
        return ""
    return _LINE_BREAK.sub("\n", text) if "\r" in text else text
