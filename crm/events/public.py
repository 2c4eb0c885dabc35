"""The registration link (``/e/<token>``): no login; the token opens one invitation and nothing else.

Every page here is public and rate-limited per client address (``PUBLIC_LINK_LIMIT``: the configured
``CRM_EVENT_LINK_RATE_LIMIT``, one shared budget for all link pages, wrong tokens included), never cached, and shows
only the invited enterprise's own records.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from crm.core.files import send_stored
from crm.core.forms import EmptyForm
from crm.core.models import utcnow
from crm.core.permissions import PUBLIC_LINK_LIMIT, public
from crm.events import services
from crm.events.certificates import certificate_for
from crm.events.forms import AttendeeForm, FeedbackForm
from crm.events.models import Invitation, Registration, RegistrationStatus
from crm.events.services import EventError, EventValidationError
from crm.events.tokens import checkin_payload, find_invitation, invitation_link, qr_svg
from crm.extensions import db

public_bp = Blueprint("events_public", __name__, url_prefix="/e")

PROBLEM_STATUS = {"invalid": 404, "revoked": 410, "cancelled": 410, "expired": 410}


@public_bp.after_request
def _private(response):
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


class UnusableLinkError(Exception):
    def __init__(self, state: str, invitation: Invitation | None):
        self.state = state
        self.invitation = invitation


@public_bp.errorhandler(UnusableLinkError)
def _link_problem(problem: UnusableLinkError):
    event = problem.invitation.event if problem.invitation is not None and problem.state == "cancelled" else None
    return render_template("events/public/problem.html", state=problem.state, event=event), PROBLEM_STATUS[
        problem.state
    ]


def _open(token: str) -> Invitation:
    invitation = find_invitation(token)
    state = services.link_state(invitation)
    if state != "ok":
        raise UnusableLinkError(state, invitation)
    return invitation


def _registration(invitation: Invitation, registration_id: int) -> Registration:
    registration = db.session.get(Registration, registration_id)
    if registration is None or registration.invitation_id != invitation.id:
        abort(404)
    return registration


def _render(invitation: Invitation, token: str, *, attendee_form=None, feedback_form=None, status: int = 200):
    event = invitation.event
    feedback = invitation.feedback
    if feedback_form is None:
        feedback_form = FeedbackForm(prefix="feedback", obj=None)
        if feedback is not None:
            feedback_form.rating_overall.data = str(feedback.rating_overall)
            feedback_form.rating_content.data = str(feedback.rating_content)
            feedback_form.rating_organisation.data = str(feedback.rating_organisation)
            feedback_form.comment.data = feedback.comment
    full = event.capacity is not None and services.seats_taken(event.id) >= event.capacity
    active = [r for r in invitation.registrations if r.is_active]
    limit_reached = event.seats_per_enterprise is not None and len(active) >= event.seats_per_enterprise
    return render_template(
        "events/public/invitation.html",
        token=token,
        invitation=invitation,
        event=event,
        enterprise=invitation.enterprise,
        registrations=invitation.registrations,
        materials=services.event_materials(event),
        attendee_form=attendee_form or AttendeeForm(prefix="attendee"),
        feedback_form=feedback_form,
        feedback=feedback,
        registration_open=event.registration_open(),
        started=event.has_started(),
        full=full,
        limit_reached=limit_reached,
        can_give_feedback=services.can_give_feedback(invitation),
        link_expires_at=services.link_expires_at(event),
        empty_form=EmptyForm(),
    ), status


@public_bp.get("/<token>")
@public(limit=PUBLIC_LINK_LIMIT)
def invitation(token: str):
    invitation = _open(token)
    now = utcnow()
    if invitation.last_opened_at is None or now - invitation.last_opened_at > timedelta(minutes=5):
        invitation.last_opened_at = now
        db.session.commit()
    return _render(invitation, token)


@public_bp.post("/<token>/register")
@public(limit=PUBLIC_LINK_LIMIT)
def register(token: str):
    invitation = _open(token)
    form = AttendeeForm(prefix="attendee")
    if form.validate_on_submit():
        attendee = services.Attendee(form.name.data, form.role.data, form.mobile.data, form.email.data or "")
        try:
            registration = services.register_attendee(invitation, attendee, link=invitation_link(token))
        except EventValidationError as exc:
            db.session.rollback()
            for name, messages in exc.fields.items():
                field = getattr(form, name, None)
                if field is not None:
                    field.errors = list(field.errors) + messages
                else:
                    form.form_errors.extend(messages)
        except EventError as exc:
            db.session.rollback()
            form.form_errors.append(str(exc))
        else:
            db.session.commit()
            if registration.status == RegistrationStatus.WAITLISTED:
                flash(_("The event is full: %(name)s joined the waiting list.", name=registration.name), "warning")
            else:
                flash(_("%(name)s is registered.", name=registration.name), "success")
            return redirect(url_for(".confirmation", token=token, registration_id=registration.id))
    return _render(invitation, token, attendee_form=form, status=422)


@public_bp.get("/<token>/registrations/<int:registration_id>")
@public(limit=PUBLIC_LINK_LIMIT)
def confirmation(token: str, registration_id: int):
    invitation = _open(token)
    registration = _registration(invitation, registration_id)
    payload = checkin_payload(registration) if registration.status == RegistrationStatus.REGISTERED else None
    return render_template(
        "events/public/confirmation.html",
        token=token,
        invitation=invitation,
        event=invitation.event,
        enterprise=invitation.enterprise,
        registration=registration,
        qr=qr_svg(payload, title=registration.name) if payload else None,
        empty_form=EmptyForm(),
    )


@public_bp.post("/<token>/registrations/<int:registration_id>/cancel")
@public(limit=PUBLIC_LINK_LIMIT)
def cancel(token: str, registration_id: int):
    invitation = _open(token)
    registration = _registration(invitation, registration_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        services.cancel_registration(registration)
    except EventError as exc:
        db.session.rollback()
        flash(str(exc), "danger")
    else:
        db.session.commit()
        flash(_("The registration of %(name)s was cancelled.", name=registration.name), "success")
    return redirect(url_for(".invitation", token=token))


@public_bp.post("/<token>/feedback")
@public(limit=PUBLIC_LINK_LIMIT)
def feedback(token: str):
    invitation = _open(token)
    form = FeedbackForm(prefix="feedback")
    if form.validate_on_submit():
        try:
            services.save_feedback(
                invitation,
                overall=int(form.rating_overall.data),
                content=int(form.rating_content.data),
                organisation=int(form.rating_organisation.data),
                comment=form.comment.data or "",
            )
        except EventValidationError as exc:
            db.session.rollback()
            for messages in exc.fields.values():
                form.form_errors.extend(messages)
        except EventError as exc:
            db.session.rollback()
            form.form_errors.append(str(exc))
        else:
            db.session.commit()
            flash(_("Thank you for your feedback."), "success")
            return redirect(url_for(".invitation", token=token) + "#feedback")
    return _render(invitation, token, feedback_form=form, status=422)


@public_bp.get("/<token>/registrations/<int:registration_id>/certificate.pdf")
@public(limit=PUBLIC_LINK_LIMIT)
def certificate(token: str, registration_id: int):
    invitation = _open(token)
    registration = _registration(invitation, registration_id)
    try:
        stored = certificate_for(registration)
    except EventError as exc:
        db.session.rollback()
        flash(str(exc), "warning")
        return redirect(url_for(".invitation", token=token))
    db.session.commit()
    return send_stored(stored, as_attachment=False)


@public_bp.get("/<token>/materials/<int:file_id>")
@public(limit=PUBLIC_LINK_LIMIT)
def material(token: str, file_id: int):
    invitation = _open(token)
    stored = services.get_material(invitation.event, file_id)
    if stored is None:
        abort(404)
    return send_stored(stored)
