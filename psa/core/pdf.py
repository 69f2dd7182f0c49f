"""HTML to PDF through WeasyPrint, for the print versions of reports.

The print templates carry their own CSS (an @page rule in a <style> element: the PDF never reaches a browser, so
the Content-Security-Policy does not apply) and reference nothing else. WeasyPrint is given a URL fetcher that
refuses every fetch, so a stray link or image in a template can never make the server reach the network or read a
file; fonts are the system's defaults.
"""

from __future__ import annotations


def html_to_pdf(html: str, base_url: str) -> bytes:
    """The PDF of `html` (a complete document); relative URLs resolve against `base_url` but are never fetched."""
    import weasyprint  # imported on use: it loads Pango and friends, which only the PDF routes need
    from weasyprint.urls import URLFetcher

    class NoFetch(URLFetcher):
        """Refuses every URL: WeasyPrint logs a warning and leaves the resource out."""

        def fetch(self, url, headers=None):
            raise ValueError(f"PDF rendering fetches nothing: {url}")

    return weasyprint.HTML(string=html, base_url=base_url, url_fetcher=NoFetch()).write_pdf()


def pdf_download(html: str, filename: str):
    """A response carrying the PDF of `html` as an attachment named `filename` (relative URLs against the app's
    root, never fetched)."""
    from flask import Response, request

    return Response(html_to_pdf(html, base_url=request.url_root), mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"',
                             "Cache-Control": "no-store"})
