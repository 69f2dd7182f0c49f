"""The opt-out link of the task e-mails (psa.portal.emails): GET shows what it does and asks to confirm (a mail
scanner following the link changes nothing), POST turns the e-mails off. No sign-in: the signed token is the
proof, and a token that does not check out answers 404, as for a page that does not exist."""

from __future__ import annotations

from flask import abort, render_template

from psa.core.auth import public
from psa.core.forms import ConfirmForm
from psa.extensions import db
from psa.portal import bp, emails


@bp.route("/opt-out/<token>", methods=["GET", "POST"])
@public
def opt_out(token: str):
    contact = emails.contact_for_opt_out(token)
    if contact is None:
        abort(404)
    form = ConfirmForm()
    done = False
    if form.validate_on_submit():
        emails.opt_out(contact)
        db.session.commit()
        done = True
    return render_template("portal/optout.html", form=form, name=contact.name, done=done or contact.email_opt_out,
                           portal_contact=None, preview=None)
