"""API operations: reports (being built, issue 16)."""

from __future__ import annotations
