"""Project pages (filled in below)."""
