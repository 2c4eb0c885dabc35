"""Staff pages of training events: list, editing, invitations, registrations, check-in, statistics."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from crm.core.files import UploadError, send_stored
from crm.core.forms import EmptyForm
from crm.core.pagination import PageArgumentError, page_args, paginate
from crm.core.permissions import Permission, permission_required
from crm.core.timeutil import local_today
from crm.enterprises.counts_cache import ENTERPRISES, EVENTS
from crm.enterprises.models import Enterprise
from crm.events import queries, services
from crm.events.access import (
    can_manage,
    get_event_or_404,
    get_invitation_or_404,
    get_registration_or_404,
    scoped_registrations,
)
from crm.events.certificates import certificate_for
from crm.events.formatting import event_period, event_place, local_datetime
from crm.events.forms import (
    AttendeeForm,
    CancelEventForm,
    EventForm,
    InviteOneForm,
    MaterialForm,
    ReissueForm,
    to_form,
    to_utc,
)
from crm.events.models import (
    CheckInMethod,
    Event,
    EventKind,
    EventStatus,
    InvitationSource,
    Registration,
    RegistrationStatus,
)
from crm.events.services import EventError, EventValidationError
from crm.events.tokens import invitation_link
from crm.extensions import db
from crm.pipeline.models import Stage
from crm.reference.models import Area, CustomsOffice, KeyCategory, RecommendingUnit

bp = Blueprint("events", __name__, url_prefix="/events")

TABS = ("overview", "invitations", "registrations", "attendance", "feedback")


@bp.app_template_filter("event_period")
def _event_period_filter(event: Event) -> str:
    return event_period(event)


EVENT_BADGES = {"draft": "text-bg-secondary", "published": "text-bg-primary", "finished": "text-bg-success",
                "cancelled": "text-bg-danger"}  # fmt: skip
REGISTRATION_BADGES = {
    "registered": "text-bg-primary",
    "waitlisted": "text-bg-warning",
    "cancelled": "text-bg-secondary",
}


@bp.app_template_filter("event_badge")
def _event_badge(status) -> str:
    """Bootstrap classes of an event's or a registration's status badge (usable on pages of other features)."""
    value = getattr(status, "value", status)
    return EVENT_BADGES.get(value) or REGISTRATION_BADGES.get(value, "text-bg-light")


@bp.app_template_filter("event_place")
def _event_place_filter(event: Event) -> str:
    return event_place(event)


def _page_args() -> tuple[int, int]:
    try:
        return page_args()
    except PageArgumentError:
        abort(400)


def _parse_day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


# --- list and detail --------------------------------------------------------------------------------------


@bp.get("/")
@permission_required()
def list_events():
    page, per_page = _page_args()
    filters = {key: request.args.get(key, "").strip() for key in ("q", "status", "kind", "period", "organiser")}
    if filters["status"] not in {s.value for s in EventStatus}:
        filters["status"] = ""
    if filters["kind"] not in {k.value for k in EventKind}:
        filters["kind"] = ""
    result = paginate(queries.event_list(filters), page, per_page, topics=(EVENTS, ENTERPRISES))
    return render_template(
        "events/list.html",
        page=result,
        filters=filters,
        counts=queries.event_counts([e.id for e in result.items]),
        statuses=list(EventStatus),
        kinds=list(EventKind),
        can_create=current_user.can(Permission.EDIT),
        units=db.session.scalars(
            select(RecommendingUnit)
            .where(RecommendingUnit.is_active.is_(True))
            .order_by(RecommendingUnit.sort_order, RecommendingUnit.code)
        ).all(),
    )


@bp.get("/<int:event_id>")
@permission_required()
def detail(event_id: int):
    event = get_event_or_404(event_id)
    tab = request.args.get("tab", "overview")
    if tab not in TABS:
        tab = "overview"
    context: dict = {}
    page, per_page = _page_args()
    filters = {key: request.args.get(key, "").strip() for key in ("q", "state", "status")}
    if tab == "invitations":
        context["page"] = paginate(queries.invitation_list(event, filters), page, per_page)
    elif tab == "registrations":
        context["page"] = paginate(queries.registration_list(event, filters), page, per_page)
    elif tab == "attendance":
        context["page"] = paginate(queries.attendance_by_enterprise(event), page, per_page, scalars=False)
    elif tab == "feedback":
        context["page"] = paginate(queries.feedback_list(event), page, per_page)
    return render_template(
        "events/detail.html",
        event=event,
        tab=tab,
        filters=filters,
        counts=queries.event_counts([event.id])[event.id],
        feedback=queries.feedback_summary(event),
        materials=services.event_materials(event),
        manage=can_manage(event),
        material_form=MaterialForm(),
        link_expires_at=services.link_expires_at(event),
        **context,
    )


# --- create and edit --------------------------------------------------------------------------------------


def _values(form: EventForm) -> services.EventValues:
    return services.EventValues(
        title=form.title.data or "",
        kind=EventKind(form.kind.data),
        starts_at=to_utc(form.starts_at.data),
        ends_at=to_utc(form.ends_at.data),
        organisers=form.selected_units(),
        venue=form.venue.data or "",
        online_url=(form.online_url.data or "").strip(),
        capacity=form.capacity.data,
        seats_per_enterprise=form.seats_per_enterprise.data,
        registration_closes_at=to_utc(form.registration_closes_at.data),
        description=form.description.data or "",
        topics=form.selected_topics(),
    )


def _show_errors(form: EventForm, errors: dict[str, list[str]]) -> None:
    for name, messages in errors.items():
        field = getattr(form, name, None)
        if field is not None:
            field.errors = list(field.errors) + messages
        else:
            form.form_errors.extend(messages)


@bp.route("/new", methods=["GET", "POST"])
@permission_required(Permission.EDIT)
def new_event():
    form = EventForm()
    if request.method == "GET":
        form.organisers.data = [u.id for u in services.default_organisers(current_user)]
    if form.validate_on_submit():
        try:
            event = services.create_event(_values(form), by=current_user)
        except EventValidationError as exc:
            _show_errors(form, exc.fields)
        else:
            db.session.commit()
            flash(_("The event was created as a draft. Publish it to invite enterprises."), "success")
            return redirect(url_for(".detail", event_id=event.id))
    return render_template("events/form.html", form=form, event=None), 200 if request.method == "GET" else 422


@bp.route("/<int:event_id>/edit", methods=["GET", "POST"])
@permission_required(Permission.EDIT)
def edit_event(event_id: int):
    event = get_event_or_404(event_id, manage=True)
    if event.status in (EventStatus.CANCELLED, EventStatus.FINISHED):
        flash(_("A cancelled or finished event cannot be changed."), "warning")
        return redirect(url_for(".detail", event_id=event.id))
    form = EventForm(obj=event)
    if request.method == "GET":
        form.kind.data = event.kind.value
        form.organisers.data = [u.id for u in event.organisers]
        form.topics.data = [i.id for i in event.topics]
        form.starts_at.data = to_form(event.starts_at)
        form.ends_at.data = to_form(event.ends_at)
        form.registration_closes_at.data = to_form(event.registration_closes_at)
    if form.validate_on_submit():
        try:
            promoted = services.update_event(event, _values(form), by=current_user)
        except EventValidationError as exc:
            db.session.rollback()
            _show_errors(form, exc.fields)
        except EventError as exc:
            db.session.rollback()
            form.form_errors.append(str(exc))
        else:
            db.session.commit()
            flash(_("The event was saved."), "success")
            if promoted:
                flash(_("Attendees moved up from the waiting list: %(n)s", n=len(promoted)), "info")
            return redirect(url_for(".detail", event_id=event.id))
    return render_template("events/form.html", form=form, event=event), 200 if request.method == "GET" else 422


def _status_action(event_id: int, action, success: str):
    event = get_event_or_404(event_id, manage=True)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        action(event, by=current_user)
    except EventError as exc:
        db.session.rollback()
        flash(str(exc), "danger")
    else:
        db.session.commit()
        flash(success, "success")
    return redirect(url_for(".detail", event_id=event.id))


@bp.post("/<int:event_id>/publish")
@permission_required(Permission.EDIT)
def publish(event_id: int):
    return _status_action(
        event_id, services.publish_event, _("The event is published; you can now invite enterprises.")
    )


@bp.post("/<int:event_id>/finish")
@permission_required(Permission.EDIT)
def finish(event_id: int):
    return _status_action(event_id, services.finish_event, _("The event is marked as finished."))


@bp.route("/<int:event_id>/cancel", methods=["GET", "POST"])
@permission_required(Permission.EDIT)
def cancel(event_id: int):
    event = get_event_or_404(event_id, manage=True)
    form = CancelEventForm()
    if form.validate_on_submit():
        try:
            services.cancel_event(event, by=current_user, reason=form.reason.data)
        except EventError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
            return redirect(url_for(".detail", event_id=event.id))
        db.session.commit()
        flash(_("The event was cancelled; registered attendees are told by email."), "success")
        return redirect(url_for(".detail", event_id=event.id))
    return render_template("events/cancel.html", event=event, form=form), 200 if request.method == "GET" else 422


# --- materials --------------------------------------------------------------------------------------------


@bp.post("/<int:event_id>/materials")
@permission_required(Permission.EDIT)
def upload_material(event_id: int):
    event = get_event_or_404(event_id, manage=True)
    form = MaterialForm()
    if form.validate_on_submit():
        try:
            services.add_material(event, form.file.data, by=current_user)
        except UploadError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        else:
            db.session.commit()
            flash(_("The material was added."), "success")
    else:
        for errors in form.errors.values():
            for error in errors:
                flash(error, "danger")
    return redirect(url_for(".detail", event_id=event.id))


@bp.get("/<int:event_id>/materials/<int:file_id>")
@permission_required()
def download_material(event_id: int, file_id: int):
    event = get_event_or_404(event_id)
    stored = services.get_material(event, file_id)
    if stored is None:
        abort(404)
    return send_stored(stored)


@bp.post("/<int:event_id>/materials/<int:file_id>/delete")
@permission_required(Permission.EDIT)
def delete_material(event_id: int, file_id: int):
    event = get_event_or_404(event_id, manage=True)
    stored = services.get_material(event, file_id)
    if stored is None or not EmptyForm().validate_on_submit():
        abort(404)
    services.remove_material(stored)
    db.session.commit()
    flash(_("The material was removed."), "success")
    return redirect(url_for(".detail", event_id=event.id))


# --- invitations ------------------------------------------------------------------------------------------


def _invite_filters() -> dict:
    return {
        "q": request.values.get("q", "").strip(),
        "areas": [v for v in request.values.getlist("areas") if v],
        "office": request.values.get("office", "").strip(),
        "stages": [v for v in request.values.getlist("stages") if v],
        "categories": [v for v in request.values.getlist("categories") if v],
    }


@bp.get("/<int:event_id>/invite")
@permission_required(Permission.EDIT)
def invite(event_id: int):
    event = get_event_or_404(event_id, manage=True)
    filters = _invite_filters()
    filtered = any(filters.values())
    page, per_page = _page_args()
    matches = paginate(queries.invitable_enterprises(event, filters), page, min(per_page, 50)) if filtered else None
    return render_template(
        "events/invite.html",
        event=event,
        filters=filters,
        filtered=filtered,
        page=matches,
        areas=db.session.scalars(select(Area).order_by(Area.sort_order, Area.code)).all(),
        offices=db.session.scalars(select(CustomsOffice).order_by(CustomsOffice.sort_order, CustomsOffice.code)).all(),
        stages=db.session.scalars(select(Stage).order_by(Stage.sort_order, Stage.code)).all(),
        categories=db.session.scalars(select(KeyCategory).order_by(KeyCategory.sort_order, KeyCategory.code)).all(),
        one_form=InviteOneForm(),
        max_per_action=services.MAX_INVITATIONS_PER_ACTION,
    )


def _flash_invite_result(result: services.InviteResult) -> None:
    flash(
        _(
            "Invited: %(created)s (emailed: %(emailed)s, without an email address: %(without)s). "
            "Already invited: %(already)s.",
            created=result.created,
            emailed=result.emailed,
            without=result.without_email,
            already=result.already_invited,
        ),
        "success" if result.created else "info",
    )
    if result.out_of_scope:
        flash(_("Enterprises outside your jurisdiction were skipped: %(n)s", n=result.out_of_scope), "warning")
    if result.without_email:
        flash(
            _("Enterprises without an email address need their link passed on: open each and issue a new link."),
            "info",
        )


@bp.post("/<int:event_id>/invite/filter")
@permission_required(Permission.EDIT)
def invite_by_filter(event_id: int):
    event = get_event_or_404(event_id, manage=True)
    if not EmptyForm().validate_on_submit():
        abort(400)
    filters = _invite_filters()
    if not any(filters.values()):
        flash(_("Choose at least one filter before inviting."), "warning")
        return redirect(url_for(".invite", event_id=event.id))
    stmt = queries.invitable_enterprises(event, filters).with_only_columns(Enterprise.id, maintain_column_froms=True)
    ids = list(db.session.scalars(stmt.limit(services.MAX_INVITATIONS_PER_ACTION + 1)))
    try:
        result = services.invite_enterprises(event, ids, by=current_user, source=InvitationSource.FILTER)
    except EventError as exc:
        db.session.rollback()
        flash(str(exc), "danger")
        return redirect(url_for(".invite", event_id=event.id, **filters))
    db.session.commit()
    _flash_invite_result(result)
    return redirect(url_for(".detail", event_id=event.id, tab="invitations"))


@bp.post("/<int:event_id>/invite/one")
@permission_required(Permission.EDIT)
def invite_one(event_id: int):
    event = get_event_or_404(event_id, manage=True)
    form = InviteOneForm()
    if not form.validate_on_submit() or not form.enterprise_id.data.isdigit():
        for errors in form.errors.values():
            for error in errors:
                flash(error, "danger")
        return redirect(url_for(".invite", event_id=event.id, q=request.form.get("q", "")))
    try:
        result = services.invite_enterprises(
            event,
            [int(form.enterprise_id.data)],
            by=current_user,
            source=InvitationSource.SINGLE,
            email=form.email.data or None,
        )
    except EventError as exc:
        db.session.rollback()
        flash(str(exc), "danger")
        return redirect(url_for(".invite", event_id=event.id))
    if result.out_of_scope:
        abort(404)
    db.session.commit()
    if not result.issued:
        flash(_("This enterprise is already invited."), "info")
        return redirect(url_for(".invite", event_id=event.id))
    link = result.issued[0]
    return _render_invitation(event, link.invitation, new_link=invitation_link(link.token), emailed=link.emailed)


def _render_invitation(event: Event, invitation, *, new_link: str | None = None, emailed: bool = False, **forms):
    attendee_form = forms.get("attendee_form") or AttendeeForm(prefix="attendee")
    reissue_form = forms.get("reissue_form") or ReissueForm(prefix="reissue")
    status = 422 if forms else 200
    return render_template(
        "events/invitation.html",
        event=event,
        invitation=invitation,
        manage=can_manage(event),
        attendee_form=attendee_form,
        reissue_form=reissue_form,
        new_link=new_link,
        emailed=emailed,
        link_state=services.link_state(invitation),
    ), status


@bp.get("/<int:event_id>/invitations/<int:invitation_id>")
@permission_required()
def invitation_detail(event_id: int, invitation_id: int):
    event = get_event_or_404(event_id)
    invitation = get_invitation_or_404(event, invitation_id)
    return _render_invitation(event, invitation)


@bp.post("/<int:event_id>/invitations/<int:invitation_id>/register")
@permission_required(Permission.EDIT)
def staff_register(event_id: int, invitation_id: int):
    event = get_event_or_404(event_id, manage=True)
    invitation = get_invitation_or_404(event, invitation_id)
    form = AttendeeForm(prefix="attendee")
    if form.validate_on_submit():
        attendee = services.Attendee(form.name.data, form.role.data, form.mobile.data, form.email.data or "")
        try:
            registration = services.register_attendee(invitation, attendee, by=current_user)
        except EventValidationError as exc:
            db.session.rollback()
            _show_errors(form, exc.fields)
        except EventError as exc:
            db.session.rollback()
            form.form_errors.append(str(exc))
        else:
            db.session.commit()
            if registration.status == RegistrationStatus.WAITLISTED:
                flash(_("The event is full: %(name)s joined the waiting list.", name=registration.name), "warning")
            else:
                flash(_("%(name)s is registered.", name=registration.name), "success")
            return redirect(url_for(".invitation_detail", event_id=event.id, invitation_id=invitation.id))
    return _render_invitation(event, invitation, attendee_form=form)


@bp.post("/<int:event_id>/invitations/<int:invitation_id>/reissue")
@permission_required(Permission.EDIT)
def reissue(event_id: int, invitation_id: int):
    event = get_event_or_404(event_id, manage=True)
    invitation = get_invitation_or_404(event, invitation_id)
    form = ReissueForm(prefix="reissue")
    if not form.validate_on_submit():
        return _render_invitation(event, invitation, reissue_form=form)
    try:
        token = services.reissue_link(invitation, by=current_user, email=form.email.data or None)
    except EventError as exc:
        db.session.rollback()
        flash(str(exc), "danger")
        return redirect(url_for(".invitation_detail", event_id=event.id, invitation_id=invitation.id))
    db.session.commit()
    return _render_invitation(event, invitation, new_link=invitation_link(token), emailed=bool(invitation.email))


@bp.post("/<int:event_id>/invitations/<int:invitation_id>/revoke")
@permission_required(Permission.EDIT)
def revoke(event_id: int, invitation_id: int):
    event = get_event_or_404(event_id, manage=True)
    invitation = get_invitation_or_404(event, invitation_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        services.revoke_invitation(invitation, by=current_user)
    except EventError as exc:
        db.session.rollback()
        flash(str(exc), "danger")
    else:
        db.session.commit()
        flash(_("The invitation was withdrawn; its link no longer works."), "success")
    return redirect(url_for(".invitation_detail", event_id=event.id, invitation_id=invitation.id))


# --- registrations and check-in ---------------------------------------------------------------------------


def _back(event: Event, default_tab: str = "registrations"):
    target = request.form.get("next", "")
    if target.startswith("/") and not target.startswith("//"):
        return redirect(target)
    return redirect(url_for(".detail", event_id=event.id, tab=default_tab))


@bp.post("/<int:event_id>/registrations/<int:registration_id>/cancel")
@permission_required(Permission.EDIT)
def cancel_registration(event_id: int, registration_id: int):
    event = get_event_or_404(event_id, manage=True)
    registration = get_registration_or_404(event, registration_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        promoted = services.cancel_registration(registration, by=current_user)
    except EventError as exc:
        db.session.rollback()
        flash(str(exc), "danger")
    else:
        db.session.commit()
        flash(_("The registration of %(name)s was cancelled.", name=registration.name), "success")
        for other in promoted:
            flash(_("%(name)s moved up from the waiting list.", name=other.name), "info")
    return _back(event)


@bp.get("/<int:event_id>/checkin")
@permission_required(Permission.EDIT)
def checkin(event_id: int):
    event = get_event_or_404(event_id, manage=True)
    q = request.args.get("q", "").strip()
    stmt = queries.registration_list(event, {"q": q}).where(Registration.status != RegistrationStatus.CANCELLED)
    registrations = db.session.scalars(stmt.limit(2000)).all()
    return render_template(
        "events/checkin.html",
        event=event,
        registrations=registrations,
        q=q,
        counts=queries.event_counts([event.id])[event.id],
        today=local_today(),
    )


def _scan_response(event: Event, outcome: services.CheckInOutcome) -> dict:
    registration = outcome.registration
    counts = queries.event_counts([event.id])[event.id]
    if outcome.status == "already":
        message = _(
            "%(name)s had already checked in at %(time)s.",
            name=registration.name,
            time=local_datetime(registration.checked_in_at),
        )
    else:
        message = _(
            "%(name)s (%(enterprise)s) checked in.", name=registration.name, enterprise=registration.enterprise.name
        )
    return {
        "status": outcome.status,
        "message": message,
        "admitted_from_waitlist": outcome.admitted_from_waitlist,
        "completed_tasks": len(outcome.completed_tasks),
        "registration": {
            "id": registration.id,
            "name": registration.name,
            "enterprise": registration.enterprise.name,
            "checked_in_at": registration.checked_in_at.isoformat() if registration.checked_in_at else None,
            "checked_in_at_display": local_datetime(registration.checked_in_at) if registration.checked_in_at else "",
        },
        "count_text": _("Checked in: %(n)s of %(total)s", n=counts.attendees_checked_in, total=counts.registered),
    }


@bp.post("/<int:event_id>/checkin/scan")
@permission_required(Permission.EDIT)
def scan(event_id: int):
    """Check in from a QR payload (JSON ``{"payload": "..."}`` from the camera page, or a form field)."""
    event = get_event_or_404(event_id, manage=True)
    data = request.get_json(silent=True) if request.is_json else request.form
    payload = str((data or {}).get("payload", ""))[:200]
    try:
        outcome = services.check_in_by_payload(event, payload, by=current_user)
    except EventError as exc:
        db.session.rollback()
        if not request.is_json:
            flash(str(exc), "danger")
            return redirect(url_for(".checkin", event_id=event.id))
        return jsonify({"status": "error", "message": str(exc)}), 422
    db.session.commit()
    body = _scan_response(event, outcome)
    if not request.is_json:
        flash(body["message"], "success")
        return redirect(url_for(".checkin", event_id=event.id))
    return jsonify(body)


@bp.post("/<int:event_id>/checkin")
@permission_required(Permission.EDIT)
def checkin_selected(event_id: int):
    """Check in the ticked attendees (bulk from the list), or one found by name."""
    event = get_event_or_404(event_id, manage=True)
    if not EmptyForm().validate_on_submit():
        abort(400)
    only = request.form.get("only", "")
    values = [only] if only else request.form.getlist("registration_ids")
    ids = [int(v) for v in values if v.isdigit()][:2000]
    if not ids:
        flash(_("Tick the attendees to check in."), "warning")
        return _back(event)
    method = CheckInMethod.BULK if len(ids) > 1 else CheckInMethod.SEARCH
    registrations = db.session.scalars(
        scoped_registrations().where(Registration.event_id == event.id, Registration.id.in_(ids))
    ).all()
    done, errors = 0, []
    for registration in registrations:
        try:
            with db.session.begin_nested():
                outcome = services.check_in(registration, by=current_user, method=method)
        except EventError as exc:
            errors.append(f"{registration.name}: {exc}")
            continue
        done += outcome.status == "checked_in"
    db.session.commit()
    flash(_("Checked in: %(n)s", n=done), "success" if done else "info")
    for error in errors[:10]:
        flash(error, "danger")
    return _back(event)


@bp.post("/<int:event_id>/registrations/<int:registration_id>/undo-checkin")
@permission_required(Permission.EDIT)
def undo_checkin(event_id: int, registration_id: int):
    event = get_event_or_404(event_id, manage=True)
    registration = get_registration_or_404(event, registration_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    services.undo_check_in(registration, by=current_user)
    db.session.commit()
    flash(_("The check-in of %(name)s was undone.", name=registration.name), "success")
    return _back(event)


@bp.get("/<int:event_id>/registrations/<int:registration_id>/certificate.pdf")
@permission_required()
def certificate(event_id: int, registration_id: int):
    event = get_event_or_404(event_id)
    registration = get_registration_or_404(event, registration_id)
    try:
        stored = certificate_for(registration, by=current_user)
    except EventError as exc:
        db.session.rollback()
        flash(str(exc), "warning")
        return redirect(url_for(".detail", event_id=event.id, tab="registrations"))
    db.session.commit()
    return send_stored(stored, as_attachment=False)


# --- statistics -------------------------------------------------------------------------------------------


@bp.get("/statistics")
@permission_required(Permission.REPORTS)
def statistics():
    today = local_today()
    date_from = _parse_day(request.args.get("from")) or date(today.year, 1, 1)
    date_to = _parse_day(request.args.get("to")) or date(today.year, 12, 31)
    if date_to < date_from:
        date_from, date_to = date_to, date_from
    page, per_page = _page_args()
    idle = paginate(queries.pooled_without_attendance(), page, per_page, topics=(EVENTS, ENTERPRISES))
    return render_template(
        "events/statistics.html",
        stats=queries.statistics(date_from=date_from, date_to=date_to),
        date_from=date_from,
        date_to=date_to,
        idle=idle,
        last_attended=queries.last_attendance([e.id for e in idle.items]),
        cutoff=queries.attendance_cutoff(),
        scope_label=queries.scope_label(),
    )
