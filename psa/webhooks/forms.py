"""The webhook endpoint form (the rules themselves are psa.webhooks.services')."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, SubmitField
from wtforms.validators import DataRequired, Length

from psa.core.forms import CheckboxListField, choices
from psa.webhooks.services import DESCRIPTION_MAX, SUBSCRIBABLE, URL_MAX


class EndpointForm(FlaskForm):
    url = StringField("URL", validators=[DataRequired(message="Enter the URL that receives the events."),
                                         Length(max=URL_MAX)],
                      filters=[lambda v: v.strip() if isinstance(v, str) else v],
                      description="An https:// address (http:// on a private network) without a user name or "
                                  "password in it; each request is signed instead.",
                      render_kw={"inputmode": "url", "autocomplete": "off", "placeholder": "https://"})
    description = StringField("Description", validators=[Length(max=DESCRIPTION_MAX)],
                              description="What receives the events (e.g. 'Slack relay', 'Data warehouse').")
    events = CheckboxListField("Events", choices=choices(SUBSCRIBABLE.items()), validate_choice=False,
                               description="The events sent to this URL.")
    active = BooleanField("Active", default=True,
                          description="A paused endpoint gets no new deliveries.")
    submit = SubmitField("Save endpoint")
