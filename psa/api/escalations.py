"""API operations: escalations (being built, issue 16)."""

from __future__ import annotations
