"""API operations: accounts (being built, issue 16)."""

from __future__ import annotations
