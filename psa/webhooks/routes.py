"""Webhook admin pages (being built, issue 16)."""

from __future__ import annotations
