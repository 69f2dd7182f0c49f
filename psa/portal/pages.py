"""The portal's pages, drawn for one contact through psa.portal.scope and psa.portal.views."""

from __future__ import annotations
