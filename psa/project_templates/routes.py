"""Template builder pages (filled in below)."""
