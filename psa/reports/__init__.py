"""Reports for PS leaders (SPEC §3): utilization (routes.py, services.py), margin (margin.py), the revenue
forecast (forecast.py) and time to value (ttv_report.py); each module holds its report's rules and routes."""

from flask import Blueprint

bp = Blueprint("reports", __name__, url_prefix="/reports")

from psa.reports import files, forecast, margin, routes, ttv_report  # noqa: E402,F401
