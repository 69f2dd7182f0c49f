"""ttv_report report (SPEC §3): routes and rules added in this module."""

from __future__ import annotations
