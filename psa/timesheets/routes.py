"""Timesheet pages (filled in below)."""
