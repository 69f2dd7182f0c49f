"""API operations: time (being built, issue 16)."""

from __future__ import annotations
