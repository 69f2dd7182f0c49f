"""Customers: the account view at /accounts/<id>, what a CSM opens before a business review (its projects with
health, TTV, success criteria, CSAT, open escalations, hours and, for those who may see rates, margin to date,
and its contacts). It sits above accounts, projects and timesheets in the import graph and reads all three."""

from flask import Blueprint

bp = Blueprint("customers", __name__, url_prefix="/accounts")

from psa.customers import routes  # noqa: E402,F401
