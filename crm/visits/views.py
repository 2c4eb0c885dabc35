"""Visit pages (log, plan, edit, list, statistics), the calendar with its iCalendar feed, and My work."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from babel.dates import format_skeleton, get_day_names
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from crm.core.files import UploadError, send_stored
from crm.core.forms import EmptyForm
from crm.core.i18n import current_language
from crm.core.pagination import Page, PageArgumentError, page_args, paginate
from crm.core.permissions import Permission, has_permission, permission_required, public
from crm.core.scope import get_enterprise_or_404, scoped_enterprises
from crm.core.settings import get_setting
from crm.core.timeutil import local_date, local_day_bounds, local_today
from crm.enterprises.counts_cache import ENTERPRISES, VISITS
from crm.enterprises.models import Enterprise
from crm.extensions import csrf, db
from crm.plans.services import active_plan
from crm.reference.models import Area, CustomsOffice
from crm.visits import calendar as cal
from crm.visits import queries, services
from crm.visits.forms import CancelVisitForm, VisitForm, eligible_people, person_label
from crm.visits.models import Visit, VisitKind, VisitStatus

bp = Blueprint("visits", __name__)
calendar_bp = Blueprint("calendar", __name__, url_prefix="/calendar")
my_work_bp = Blueprint("my_work", __name__, url_prefix="/my-work")

#: Entries shown in a day of the calendar; the rest are a link to that day's visits.
MONTH_ENTRIES_PER_DAY = 6
WEEK_ENTRIES_PER_DAY = 40
#: Rows of each list on My work (visits today, this week, not logged; overdue follow-ups); a link leads to the rest.
MY_WORK_ROWS = 50
#: The calendar counts the entries of its period up to this many, and says "1,000+" beyond.
ENTRY_COUNT_LIMIT = 1000

#: The session key naming a draft the browser may now forget (the visit it held was saved).
DRAFT_SAVED_KEY = "visits_draft_saved"


def draft_key(user: Any, enterprise: Enterprise, visit: Visit | None) -> str:
    """The browser-storage key of a visit form's draft: one per user, enterprise and visit (or new visit)."""
    return f"crm.visit-draft.{user.id}.{enterprise.id}.{visit.id if visit else 'new'}"


def month_label(month: queries.Month | date) -> str:
    """``2026年5月`` / ``May 2026``."""
    day = month.first_day if isinstance(month, queries.Month) else month
    return format_skeleton("yMMM", day, locale=current_language())


def day_label(day: date) -> str:
    """``5月4日周一`` / ``Mon, May 4``."""
    return format_skeleton("MMMEd", day, locale=current_language())


def _page_args() -> tuple[int, int]:
    try:
        return page_args()
    except PageArgumentError:
        abort(400)


def _date_arg(name: str) -> date | None:
    value = request.args.get(name, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        flash(_("Use a date in the form YYYY-MM-DD."), "warning")
        return None


# --- logging and planning -------------------------------------------------------------------------------


# The visit form checks its own CSRF token (``validate_on_submit``), after the login check: a visit sent once
# the session has expired goes to the login page and back to the form (whose draft the page script kept)
# instead of ending on a CSRF error. Nothing changes state before the form validated.
@bp.route("/enterprises/<int:enterprise_id>/visits/new", methods=["GET", "POST"])
@csrf.exempt
@permission_required(Permission.EDIT)
def new_visit(enterprise_id: int):
    enterprise = get_enterprise_or_404(enterprise_id)
    planning = request.args.get("status") == VisitStatus.PLANNED.value
    form = VisitForm(enterprise=enterprise, user=current_user, planning=planning)
    return _visit_form(form, enterprise, visit=None, mode="plan" if planning else "new")


@bp.route("/visits/<int:visit_id>/edit", methods=["GET", "POST"])
@csrf.exempt
@permission_required(Permission.EDIT)
def edit_visit(visit_id: int):
    visit = queries.get_visit_or_404(visit_id)
    if visit.status == VisitStatus.CANCELLED:
        flash(_("A cancelled visit cannot be changed."), "warning")
        return redirect(url_for(".detail", visit_id=visit.id))
    form = VisitForm(enterprise=visit.enterprise, user=current_user, visit=visit)
    return _visit_form(form, visit.enterprise, visit=visit, mode="edit")


@bp.route("/visits/<int:visit_id>/log", methods=["GET", "POST"])
@csrf.exempt
@permission_required(Permission.EDIT)
def log_visit(visit_id: int):
    """Log a planned visit: the same form, saving it as done."""
    visit = queries.get_visit_or_404(visit_id)
    if visit.status != VisitStatus.PLANNED:
        flash(_("Only a planned visit can be logged."), "warning")
        return redirect(url_for(".detail", visit_id=visit.id))
    form = VisitForm(enterprise=visit.enterprise, user=current_user, visit=visit)
    if not form.is_submitted():
        form.status.data = VisitStatus.DONE.value
        if local_date(visit.starts_at) > local_today():
            form.visit_date.data = local_today()
    return _visit_form(form, visit.enterprise, visit=visit, mode="log")


def _visit_form(form: VisitForm, enterprise: Enterprise, *, visit: Visit | None, mode: str):
    key = draft_key(current_user, enterprise, visit)
    if form.validate_on_submit():
        data = form.to_data()
        try:
            if visit is None:
                outcome = services.create_visit(enterprise, data, by=current_user)
            elif mode == "log":
                outcome = services.log_visit(visit, data, by=current_user)
            else:
                outcome = services.update_visit(visit, data, by=current_user)
            services.add_attachments(
                outcome.visit, form.uploads("photos"), owner_type=services.PHOTO_OWNER, by=current_user
            )
            services.add_attachments(
                outcome.visit, form.uploads("minutes"), owner_type=services.MINUTES_OWNER, by=current_user
            )
        except services.VisitError as exc:
            db.session.rollback()
            form.add_service_errors(exc.errors)
        except UploadError as exc:
            db.session.rollback()
            form.form_errors.append(str(exc))
        else:
            db.session.commit()
            _flash_outcome(outcome, created=visit is None, logged=mode == "log")
            session[DRAFT_SAVED_KEY] = key
            return redirect(url_for(".detail", visit_id=outcome.visit.id))
    if form.csrf_token.errors:
        form.form_errors.append(_("The form had expired. What you typed is still here: check it and save again."))
    status = 422 if form.is_submitted() else 200
    return (
        render_template(
            "visits/form.html",
            form=form,
            enterprise=enterprise,
            visit=visit,
            mode=mode,
            draft_key=key,
            restore_draft=not form.is_submitted(),
            has_active_plan=active_plan(enterprise.id) is not None,
        ),
        status,
    )


def _flash_outcome(outcome: services.VisitOutcome, *, created: bool, logged: bool) -> None:
    visit = outcome.visit
    if logged:
        flash(_("The visit has been logged."), "success")
    elif created and visit.status == VisitStatus.PLANNED:
        flash(_("The visit has been planned."), "success")
    elif created:
        flash(_("The visit has been logged."), "success")
    else:
        flash(_("The visit has been saved."), "success")
    if outcome.tasks:
        flash(_("Follow-up tasks added to the cultivation plan: %(n)s", n=len(outcome.tasks)), "success")
    if outcome.pending_follow_ups:
        flash(
            _(
                "The enterprise has no active cultivation plan, so %(n)s follow-ups were kept with the visit. "
                "Turn them into tasks from the visit once a plan is in force.",
                n=outcome.pending_follow_ups,
            ),
            "warning",
        )
    if outcome.judgements:
        flash(_("Judgements recorded in the officer pre-assessment draft: %(n)s", n=len(outcome.judgements)), "success")
    for problem in outcome.judgement_problems:
        flash(problem, "warning")
    if outcome.next_visit is not None:
        flash(
            _("The next visit is on the calendar for %(date)s.", date=local_date(outcome.next_visit.starts_at)),
            "info",
        )


# --- one visit ------------------------------------------------------------------------------------------


@bp.get("/visits/<int:visit_id>")
@permission_required()
def detail(visit_id: int):
    visit = queries.get_visit_or_404(visit_id)
    return render_template(
        "visits/detail.html",
        visit=visit,
        enterprise=visit.enterprise,
        tasks=queries.visit_tasks(visit),
        pending=services.pending_follow_ups(visit) if visit.pending_follow_ups else [],
        has_active_plan=active_plan(visit.enterprise_id) is not None,
        attachments=queries.visit_attachments(visit),
        cancel_form=CancelVisitForm(formdata=None),
        empty_form=EmptyForm(),
        clear_draft=session.pop(DRAFT_SAVED_KEY, None),
        can_edit=has_permission(current_user, Permission.EDIT),
    )


@bp.post("/visits/<int:visit_id>/cancel")
@permission_required(Permission.EDIT)
def cancel_visit(visit_id: int):
    visit = queries.get_visit_or_404(visit_id)
    form = CancelVisitForm()
    if not form.validate_on_submit():
        flash(_("Say why the visit is cancelled."), "danger")
        return redirect(url_for(".detail", visit_id=visit.id))
    try:
        services.cancel_visit(visit, reason=form.reason.data, by=current_user)
    except services.VisitError as exc:
        db.session.rollback()
        flash(str(exc), "danger")
    else:
        db.session.commit()
        flash(_("The visit has been cancelled."), "success")
    return redirect(url_for(".detail", visit_id=visit.id))


@bp.post("/visits/<int:visit_id>/follow-ups")
@permission_required(Permission.EDIT)
def place_follow_ups(visit_id: int):
    """Create the tasks of follow-ups kept on the visit, now that the enterprise has an active plan."""
    visit = queries.get_visit_or_404(visit_id)
    if EmptyForm().validate_on_submit():
        try:
            tasks = services.place_pending_follow_ups(visit)
        except services.NoActivePlanError as exc:
            db.session.rollback()
            flash(str(exc), "warning")
        else:
            db.session.commit()
            flash(_("Follow-up tasks added to the cultivation plan: %(n)s", n=len(tasks)), "success")
    return redirect(url_for(".detail", visit_id=visit.id))


@bp.get("/visits/<int:visit_id>/files/<int:file_id>")
@permission_required()
def attachment(visit_id: int, file_id: int):
    visit = queries.get_visit_or_404(visit_id)
    stored = queries.get_attachment_or_404(visit, file_id)
    return send_stored(stored, as_attachment=request.args.get("inline") != "1")


@bp.post("/visits/<int:visit_id>/files/<int:file_id>/delete")
@permission_required(Permission.EDIT)
def delete_attachment(visit_id: int, file_id: int):
    visit = queries.get_visit_or_404(visit_id)
    stored = queries.get_attachment_or_404(visit, file_id)
    if EmptyForm().validate_on_submit():
        name = stored.filename
        services.remove_attachment(stored)
        db.session.commit()
        flash(_("%(name)s has been removed.", name=name), "success")
    return redirect(url_for(".detail", visit_id=visit.id))


# --- lists and statistics -------------------------------------------------------------------------------


def _filter_choices() -> dict[str, Any]:
    return {
        "people": [(u.id, person_label(u)) for u in eligible_people()],
        "areas": db.session.scalars(
            select(Area).where(Area.is_active.is_(True)).order_by(Area.sort_order, Area.code)
        ).all(),
        "offices": db.session.scalars(
            select(CustomsOffice)
            .where(CustomsOffice.is_active.is_(True))
            .order_by(CustomsOffice.sort_order, CustomsOffice.code)
        ).all(),
    }


@bp.get("/visits/")
@permission_required()
def list_visits():
    page, per_page = _page_args()
    filters: dict[str, Any] = {
        key: request.args.get(key, "").strip() for key in ("q", "area", "office", "status", "kind")
    }
    if filters["status"] not in VisitStatus._value2member_map_:
        filters["status"] = ""
    if filters["kind"] not in VisitKind._value2member_map_:
        filters["kind"] = ""
    filters["person"] = request.args.get("person", type=int)
    filters["enterprise"] = request.args.get("enterprise", type=int)
    filters["from"] = _date_arg("from")
    filters["to"] = _date_arg("to")
    enterprise = (
        db.session.scalars(scoped_enterprises().where(Enterprise.id == filters["enterprise"])).first()
        if filters["enterprise"]
        else None
    )
    return render_template(
        "visits/list.html",
        page=paginate(queries.visit_list(filters), page, per_page, topics=(VISITS, ENTERPRISES), id_column=Visit.id),
        filters=filters,
        enterprise=enterprise,
        statuses=VisitStatus.choices(),
        kinds=VisitKind.choices(),
        **_filter_choices(),
    )


@bp.get("/visits/statistics")
@permission_required(Permission.REPORTS)
def statistics():
    today = local_today()
    try:
        last = queries.Month.parse(request.args["end"]) if request.args.get("end") else queries.Month.of(today)
    except ValueError:
        abort(400)
    months = queries.month_range(last, 12)
    return render_template(
        "visits/statistics.html",
        months=months,
        last=last,
        by_officer=queries.visits_per_month("officer", months),
        by_office=queries.visits_per_month("office", months),
        by_area=queries.visits_per_month("area", months),
        coverage=queries.pool_coverage(days=90)[0],
        coverage_by_area=queries.pool_coverage(days=90, by="area"),
        coverage_by_office=queries.pool_coverage(days=90, by="office"),
        coverage_days=90,
        month_label=month_label,
    )


# --- the calendar ---------------------------------------------------------------------------------------


@calendar_bp.get("/", endpoint="index")
@permission_required()
def show_calendar():
    view = request.args.get("view", "month")
    if view not in ("month", "week"):
        view = "month"
    anchor = _date_arg("date") or local_today()
    filters = {
        "person_id": request.args.get("person", type=int),
        "office_code": request.args.get("office", "").strip() or None,
        "area_code": request.args.get("area", "").strip() or None,
    }
    if view == "month":
        first, last = cal.month_span(anchor.year, anchor.month)
        period = (anchor.replace(day=1), (anchor.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(1))
        previous_anchor = (anchor.replace(day=1) - timedelta(days=1)).replace(day=1)
        next_anchor = period[1] + timedelta(days=1)
    else:
        first = anchor - timedelta(days=anchor.weekday())
        last = first + timedelta(days=6)
        period = (first, last)
        previous_anchor, next_anchor = first - timedelta(days=7), first + timedelta(days=7)
    start, end = cal.bounds(first, last)
    per_day = MONTH_ENTRIES_PER_DAY if view == "month" else WEEK_ENTRIES_PER_DAY
    # Each day's first entries only, and one more than its "more" link counts.
    entries = cal.collect_entries(current_user, start, end, per_day=per_day + cal.MORE_ENTRIES_LIMIT + 1, **filters)
    days = cal.layout_days(first, last, entries, period=period, shown=per_day)
    return render_template(
        "visits/calendar.html",
        view=view,
        anchor=anchor,
        period=period,
        weeks=cal.weeks(days),
        days=days,
        entry_count=cal.count_entries(current_user, period[0], period[1], entries, limit=ENTRY_COUNT_LIMIT, **filters),
        entry_count_limit=ENTRY_COUNT_LIMIT,
        more_limit=cal.MORE_ENTRIES_LIMIT,
        previous_anchor=previous_anchor,
        next_anchor=next_anchor,
        filters=filters,
        period_label=month_label(anchor) if view == "month" else f"{day_label(first)} – {day_label(last)}",
        weekday_names=[get_day_names("abbreviated", locale=current_language())[n] for n in range(7)],
        day_label=day_label,
        **_filter_choices(),
    )


@calendar_bp.route("/subscription", methods=["GET", "POST"])
@permission_required()
def subscription():
    """The user's iCalendar subscription: create (or re-create) the secret URL; it is shown once."""
    form = EmptyForm()
    new_url = None
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        _feed, secret = services.create_feed(current_user)
        db.session.commit()
        new_url = url_for(".feed", secret=secret, _external=True)
    return render_template(
        "visits/subscription.html", feed=services.active_feed(current_user), new_url=new_url, form=EmptyForm()
    )


@calendar_bp.post("/subscription/revoke")
@permission_required()
def revoke_subscription():
    if EmptyForm().validate_on_submit():
        if services.revoke_feed(current_user):
            flash(_("Your calendar subscription URL has been revoked."), "success")
        db.session.commit()
    return redirect(url_for(".subscription"))


@calendar_bp.get("/feed/<secret>.ics")
@public(limit="60 per minute")
def feed(secret: str):
    """The iCalendar feed at a secret URL (no login: calendar apps cannot log in). Revoked URLs answer 404."""
    subscription_row = services.feed_for_secret(secret)
    if subscription_row is None:
        abort(404)
    user = subscription_row.user
    if db.session.get_bind().dialect.name == "postgresql":
        # A year of visits makes the planner's estimate dear enough for JIT compilation, which took 300 of the
        # 350 ms of a busy officer's feed at 200,000 visits; the queries themselves take tens of milliseconds.
        db.session.execute(select(func.set_config("jit", "off", True)))  # SET LOCAL jit = off
    body = cal.build_ical(user, cal.feed_entries(user))
    if services.touch_feed(subscription_row):
        db.session.commit()
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Content-Disposition"] = 'inline; filename="aeo-crm.ics"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --- My work --------------------------------------------------------------------------------------------


@my_work_bp.get("/", endpoint="index")
@permission_required()
def my_work():
    user = current_user
    today = local_today()
    days = int(get_setting("unvisited_days"))
    today_start, today_end = local_day_bounds(today)
    _monday, sunday = queries.week_bounds(today)
    _ignored, week_end = local_day_bounds(sunday)
    unvisited_only = request.args.get("unvisited") == "1"
    page, per_page = _page_args()
    assigned_count, unvisited_count = queries.count_assigned(user, days, today)
    me = {"person": user.id, "status": VisitStatus.PLANNED.value}
    yesterday, tomorrow = today - timedelta(days=1), today + timedelta(days=1)
    return render_template(
        "visits/my_work.html",
        today=today,
        today_visits=_first_rows(queries.planned_visits_for(user, today_start, today_end)),
        today_url=url_for("visits.list_visits", **me, **{"from": today.isoformat(), "to": today.isoformat()}),
        week_visits=_first_rows(queries.planned_visits_for(user, today_end, week_end)),
        week_url=url_for("visits.list_visits", **me, **{"from": tomorrow.isoformat(), "to": sunday.isoformat()}),
        overdue_visits=_first_rows(queries.overdue_planned_visits(user)),
        overdue_visits_url=url_for("visits.list_visits", **me, to=yesterday.isoformat()),
        overdue_tasks=_first_rows(queries.overdue_tasks(user, today)),
        overdue_tasks_url=url_for("plans.list_tasks", mine=1, open=1, overdue=1),
        rows_shown=MY_WORK_ROWS,
        enterprises=Page(
            items=db.session.execute(
                queries.assigned_enterprises(user, unvisited_days=days if unvisited_only else None)
                .limit(per_page)
                .offset((page - 1) * per_page)
            ).all(),
            total=unvisited_count if unvisited_only else assigned_count,
            page=page,
            per_page=per_page,
        ),
        unvisited_count=unvisited_count,
        unvisited_days=days,
        unvisited_only=unvisited_only,
        unvisited_cutoff=queries.unvisited_cutoff(days, today),
        can_log=has_permission(user, Permission.EDIT),
    )


def _first_rows(stmt: Any) -> list[Any]:
    """The first ``MY_WORK_ROWS`` of a My work list, and one more when there are more (the page links to all)."""
    return list(db.session.scalars(stmt.limit(MY_WORK_ROWS + 1)))
