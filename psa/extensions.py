"""The Flask extensions, created unbound here and bound in create_app()."""

from __future__ import annotations

from flask import request
from flask_bootstrap import Bootstrap5
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

from psa.core.db import Model

db = SQLAlchemy(model_class=Model)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
bootstrap = Bootstrap5()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def login_attempt_key() -> str:
    """Throttle key for sign-in: the e-mail tried together with the client address."""
    email = (request.form.get("email") or "").strip().lower()
    return f"{get_remote_address()}|{email}"
