"""Pipeline pages: the board, moves (form, board endpoint, bulk), an enterprise's pipeline page with its
certification follow-up, and the administration of stages and reasons."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from crm.core.forms import EmptyForm
from crm.core.pagination import PageArgumentError, page_args, paginate
from crm.core.permissions import Permission, has_permission, permission_required
from crm.core.scope import get_enterprise_or_404
from crm.core.timeutil import local_today
from crm.enterprises.models import TargetTier
from crm.extensions import db
from crm.pipeline import forms, queries, services
from crm.pipeline.models import BenefitRecord, Stage, TransitionReason

bp = Blueprint("pipeline", __name__, url_prefix="/pipeline")
admin_bp = Blueprint("pipeline_admin", __name__, url_prefix="/admin/pipeline")

#: Query arguments that are paging, not filters.
NOT_FILTERS = ("page", "per_page", "after", "key")


@bp.app_template_global()
def pipeline_reasons(stage_code: str) -> list[TransitionReason]:
    """Active reasons of a stage, cached per request (the screening partial may render on every row)."""
    cache = g.setdefault("_pipeline_reasons", {})
    if stage_code not in cache:
        # From the per-process snapshots of every reason (``queries.reason_rows``), as ``services.reasons_for``.
        cache[stage_code] = sorted(
            (r for r in queries.reason_rows().values() if r.stage_code == stage_code and r.is_active),
            key=lambda r: (r.sort_order, r.code),
        )
    return cache[stage_code]


@bp.app_template_filter("pipeline_readiness")
def readiness_label(outcome: str | None) -> str:
    """The label of an enterprise's readiness outcome (pass, fail, incomplete)."""
    from crm.standards.models import AssessmentOutcome

    if not outcome:
        return _("Not assessed")
    try:
        return AssessmentOutcome(outcome).label
    except ValueError:
        return outcome


@bp.app_template_filter("pipeline_date")
def iso_date_label(value: str | None) -> str:
    """A date kept as ISO text in the stage history's data, shown like any other date."""
    from datetime import date

    from crm.core.filters import format_date

    try:
        return format_date(date.fromisoformat(value)) if value else ""
    except (TypeError, ValueError):
        return str(value)


def card_context() -> dict[str, Any]:
    """What every card needs, translated and resolved once per page rather than once per card."""
    from crm.enterprises.listing import ListReference

    def split(url: str) -> tuple[str, str]:
        prefix, _sep, suffix = url.rpartition("/0")
        return prefix + "/", suffix

    reference = ListReference(current_user)
    return {
        "card_text": {
            "days": _("%(n)s days in stage"),
            "stale": _("Stale"),
            "readiness": _("Pre-assessment"),
            "no_officer": _("No customs officer"),
            "move": _("Move %(name)s to another stage"),
            "move_to": _("Move to"),
            "decision_due": _("Decision due %(date)s"),
            "reverification": _("Re-verification %(date)s"),
            "reapply": _("May reapply from %(date)s"),
            "suspended": _("Incentives suspended"),
            "cohort_priority": _("1+N priority"),
            "outcomes": {o.value: o.label for o in _assessment_outcomes()},
        },
        "card_urls": {
            "enterprise": split(url_for("pipeline.enterprise", enterprise_id=0)),
            "move": split(url_for("pipeline.choose_move", enterprise_id=0)),
        },
        # Reference rows from the per-process cache (crm.reference.cache), as the enterprise list reads them.
        "area_names": {a.id: reference.name(a) for a in reference.areas},
        "card_date": _date_formatter(),
    }


def _date_formatter():
    """``format_date`` with the locale parsed once (a board formats many dates)."""
    from functools import partial

    from babel import Locale
    from babel.dates import format_date

    from crm.core.i18n import current_language, is_chinese

    return partial(format_date, format="long" if is_chinese() else "medium", locale=Locale.parse(current_language()))


def _assessment_outcomes():
    from crm.standards.models import AssessmentOutcome

    return list(AssessmentOutcome)


@bp.app_template_filter("pipeline_tier")
def tier_label(value: str | None) -> str:
    try:
        return TargetTier(value).label if value else ""
    except ValueError:
        return str(value)


def cohort_choices() -> list[tuple[str, str]]:
    """The 1+N cohorts the user can see, for the board's cohort filter (the enterprise list's choices, kept per
    process until the data changes)."""
    from crm.enterprises.listing import ListReference, filter_options

    return filter_options(ListReference(current_user))["cohort"]


def _filters() -> dict[str, str]:
    """The board's filters: every argument of the enterprise list except paging (and the stage, see board_base)."""
    return {key: value.strip() for key, value in request.args.items() if key not in NOT_FILTERS}


def _safe_next(default: str) -> str:
    target = request.values.get("next") or ""
    parts = urlsplit(target)
    if target and not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
        return target
    return default


# --- board --------------------------------------------------------------------------------------------


@bp.get("/")
@permission_required()
def board():
    from crm.enterprises.listing import ListReference

    filters = _filters()
    stages = queries.stage_rows()
    columns = queries.board(filters)
    reference = ListReference(current_user)
    return render_template(
        "pipeline/board.html",
        columns=columns,
        filters=filters,
        stages=stages,
        # Reference rows from the per-process cache (crm.reference.cache), as the enterprise list reads them.
        areas=reference.areas,
        offices=reference.offices,
        deadline_filters=queries.DEADLINE_FILTERS,
        reasons=sorted(
            (r for r in queries.reason_rows().values() if r.is_active), key=lambda r: (r.sort_order, r.code)
        ),
        can_move=has_permission(current_user, Permission.TRANSITION),
        can_override=services.can_override(current_user),
        stage_names={s.code: s.display_name for s in stages},
        tiers=TargetTier.choices(),
        cohorts=cohort_choices(),
        column_urls=_column_urls([column for column in columns if column.next_cursor], filters),
        **card_context(),
    )


def _column_urls(columns: list[queries.BoardColumn], filters: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Where each column's "Load more" leads: its next cards as a fragment for the script, and without a script the
    enterprise list with the board's filters (and the column's stage when it has one). Two ``url_for`` calls per
    page, not two per column."""
    placeholder = "__column__"
    fragment = url_for(".column", key=placeholder)
    listed = url_for("enterprises.list_enterprises")
    urls = {}
    for column in columns:
        stage = {"stage": column.target} if column.target else {}
        urls[column.key] = (
            fragment.replace(placeholder, quote(column.key))
            + "?"
            + urlencode({"after": column.next_cursor, **filters}),
            listed + ("?" + urlencode({**filters, **stage}) if filters or stage else ""),
        )
    return urls


@bp.get("/columns/<key>")
@permission_required()
def column(key: str):
    """One more page of a column's cards, as HTML for the board's script."""
    stages = queries.stage_rows()
    column = next((c for c in queries.board_layout(stages) if c.key == key), None)
    if column is None:
        abort(404)
    raw_cursor = request.args.get("after", "")
    after = queries.decode_cursor(raw_cursor) if raw_cursor else None
    if raw_cursor and after is None:
        abort(400)
    filters = _filters()
    base = queries.board_base(filters)
    queries.fill_columns(base, [column], after=after, stages={s.code: s for s in stages})
    html = render_template(
        "pipeline/_cards.html",
        cards=column.cards,
        can_move=has_permission(current_user, Permission.TRANSITION),
        **card_context(),
    )
    next_url = url_for(".column", key=key, after=column.next_cursor, **filters) if column.next_cursor else None
    return jsonify({"html": html, "next_url": next_url, "count": len(column.cards)})


@bp.post("/enterprises/<int:enterprise_id>/transitions")
@permission_required(Permission.TRANSITION)
def move(enterprise_id: int):
    """The board's move: a JSON body with ``to`` and the guard's inputs (``dry_run`` only checks)."""
    data = request.get_json(silent=True)
    dry_run = isinstance(data, dict) and bool(data.get("dry_run"))
    if not dry_run:
        services.lock_enterprise(enterprise_id)
    enterprise = get_enterprise_or_404(enterprise_id)  # out of scope: 404 whatever the body
    if not isinstance(data, dict):
        return jsonify({"ok": False, "message": _("The request body must be a JSON object.")}), 400
    transition_request, errors = services.parse_transition_input(data)
    if errors:
        message = " ".join(m for ms in errors.values() for m in ms)
        return jsonify({"ok": False, "message": message, "errors": errors, "inputs": list(errors), "dialog": True}), 422
    if dry_run:
        plan = services.plan_transition(enterprise, transition_request, by=current_user)
        return jsonify(
            {"ok": plan.ok, "errors": plan.failures, "inputs": plan.inputs, "dialog": plan.needs_dialog or plan.ok}
        )
    try:
        services.transition(enterprise, transition_request, by=current_user)
    except services.TransitionBlocked as blocked:
        db.session.rollback()
        return jsonify(
            {
                "ok": False,
                "message": blocked.message,
                "errors": blocked.failures,
                "inputs": blocked.inputs,
                "dialog": blocked.needs_dialog,
            }
        ), 422
    db.session.commit()
    stages = queries.stage_rows()
    card = queries.build_cards(
        list(queries.load_card_rows([enterprise.id]).values()), stages={s.code: s for s in stages}
    )[0]
    target_column = queries.column_for_stage(queries.board_layout(stages), enterprise.stage)
    return jsonify(
        {
            "ok": True,
            "stage": enterprise.stage,
            "stage_name": card.stage.display_name,
            "column": target_column.key if target_column else None,
            "message": _("%(name)s moved to %(stage)s.", name=enterprise.name, stage=card.stage.display_name),
            "card": render_template("pipeline/_cards.html", cards=[card], can_move=True, **card_context()),
        }
    )


# --- an enterprise's pipeline page and moves by form ------------------------------------------------------


@bp.get("/enterprises/<int:enterprise_id>")
@permission_required()
def enterprise(enterprise_id: int):
    enterprise = get_enterprise_or_404(enterprise_id)
    return render_template(
        "pipeline/enterprise.html", enterprise=enterprise, **queries.enterprise_section_context(enterprise)
    )


@bp.get("/enterprises/<int:enterprise_id>/history")
@permission_required()
def history(enterprise_id: int):
    enterprise = get_enterprise_or_404(enterprise_id)
    try:
        page, per_page = page_args()
    except PageArgumentError:
        abort(400)
    section = queries.enterprise_section_context(enterprise)["pipeline"]
    return render_template(
        "pipeline/history.html",
        enterprise=enterprise,
        page=paginate(queries.history_for(enterprise.id), page, per_page),
        pipeline=section,
    )


@bp.get("/enterprises/<int:enterprise_id>/move")
@permission_required(Permission.TRANSITION)
def choose_move(enterprise_id: int):
    enterprise = get_enterprise_or_404(enterprise_id)
    stages = services.ordered_stages()
    return render_template(
        "pipeline/choose_move.html",
        enterprise=enterprise,
        stages=[s for s in stages if s.code != enterprise.stage],
        current=next((s for s in stages if s.code == enterprise.stage), None),
    )


@bp.route("/enterprises/<int:enterprise_id>/move/<to>", methods=["GET", "POST"])
@permission_required(Permission.TRANSITION)
def move_form(enterprise_id: int, to: str):
    if request.method == "POST":
        services.lock_enterprise(enterprise_id)
    enterprise = get_enterprise_or_404(enterprise_id)
    stages = {s.code: s for s in services.ordered_stages()}
    target = stages.get(to)
    if target is None:
        abort(404)
    preview = services.plan_transition(enterprise, services.TransitionRequest(to=to), by=current_user, stages=stages)
    form = forms.TransitionForm(enterprise=enterprise, target=target, inputs=preview.inputs)
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        transition_request, errors = services.parse_transition_input(form.as_input())
        if errors:
            form.show_failures(errors)
        else:
            try:
                services.transition(enterprise, transition_request, by=current_user, stages=stages)
            except services.TransitionBlocked as blocked:
                db.session.rollback()
                form.show_failures(blocked.failures)
            else:
                db.session.commit()
                flash(_("Moved to %(stage)s.", stage=target.display_name), "success")
                return redirect(_safe_next(url_for(".enterprise", enterprise_id=enterprise.id)))
    blocking = {} if request.method == "POST" else _blocking_failures(preview)
    return render_template(
        "pipeline/move.html",
        enterprise=enterprise,
        target=target,
        source=stages.get(enterprise.stage),
        form=form,
        blocking=blocking,
        backward=preview.backward,
    )


def _blocking_failures(plan: services.TransitionPlan) -> dict[str, list[str]]:
    """Conditions the form's fields cannot satisfy, shown before the user fills anything in."""
    fixable = set(plan.inputs) | (set(plan.overridable) if "override_reason" in plan.inputs else set())
    return {key: messages for key, messages in plan.failures.items() if key not in fixable}


# --- bulk move ------------------------------------------------------------------------------------------


@bp.route("/bulk-move", methods=["GET", "POST"])
@permission_required(Permission.TRANSITION)
def bulk_move():
    """Move many enterprises at once: ``enterprise_ids`` (repeated) plus the move's inputs.

    A POST without ``step=confirm`` (e.g. from the enterprise list's bulk actions) shows the form first.
    """
    raw_ids = request.values.getlist("enterprise_ids")
    try:
        ids = list(dict.fromkeys(int(value) for value in raw_ids))
    except ValueError:
        abort(400)
    stages = services.ordered_stages()
    form = forms.BulkMoveForm(stages=stages)
    error = None
    if not ids:
        error = _("Select at least one enterprise.")
    elif len(ids) > services.MAX_BULK:
        error = _("Select at most %(n)s enterprises at a time.", n=services.MAX_BULK)
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    confirmed = request.method == "POST" and request.form.get("step") == "confirm"
    if confirmed and error is None and form.validate_on_submit():
        transition_request, errors = services.parse_transition_input(form.as_input())
        if errors:
            form.show_failures(errors)
        else:
            result = services.move_many(ids, transition_request, by=current_user)
            db.session.commit()
            target = next(s for s in stages if s.code == transition_request.to)
            flash(
                _(
                    "Moved to %(stage)s: %(moved)s. Not moved: %(refused)s.",
                    stage=target.display_name,
                    moved=len(result.moved),
                    refused=len(result.refused),
                ),
                "success" if not result.refused else "warning",
            )
            return render_template(
                "pipeline/bulk_result.html",
                result=result,
                target=target,
                back_url=_safe_next(url_for("enterprises.list_enterprises")),
            )
    elif request.method == "POST" and not confirmed:
        form = forms.BulkMoveForm(formdata=None, stages=stages)
        form.next.data = request.form.get("next", "")
    return render_template(
        "pipeline/bulk_move.html", form=form, ids=ids, error=error, back_url=_safe_next(url_for(".board"))
    )


# --- certification follow-up ------------------------------------------------------------------------------


def _editable_enterprise(enterprise_id: int):
    enterprise = get_enterprise_or_404(enterprise_id)
    return enterprise, url_for(".enterprise", enterprise_id=enterprise.id)


def _follow_up(form, enterprise, title: str, action, *, back: str, success: str, note: str | None = None):
    """Validate ``form``, run ``action`` (a service call raising PipelineError), commit and go back."""
    if form.validate_on_submit():
        try:
            action()
        except services.PipelineError as problem:
            db.session.rollback()
            for key, messages in problem.fields.items():
                target = form._fields.get(key)
                if target is not None:
                    target.errors = list(target.errors or []) + list(messages)
                else:
                    form.form_errors.extend(messages)
        else:
            db.session.commit()
            flash(success, "success")
            return redirect(back)
    return render_template("pipeline/form.html", enterprise=enterprise, form=form, title=title, back=back, note=note)


@bp.route("/enterprises/<int:enterprise_id>/extension", methods=["GET", "POST"])
@permission_required(Permission.EDIT)
def extension(enterprise_id: int):
    enterprise, back = _editable_enterprise(enterprise_id)
    form = forms.ExtensionForm()
    if request.method == "GET":
        form.extended_on.data = local_today()
    return _follow_up(
        form,
        enterprise,
        _("Record the 30-day extension"),
        lambda: services.record_extension(enterprise, on=form.extended_on.data, note=form.note.data),
        back=back,
        success=_("Extension recorded: the decision is now due 120 days after acceptance."),
    )


@bp.route("/enterprises/<int:enterprise_id>/certificate", methods=["GET", "POST"])
@permission_required(Permission.EDIT)
def certificate(enterprise_id: int):
    enterprise, back = _editable_enterprise(enterprise_id)
    cert = services.certification_of(enterprise)
    if enterprise.stage != services.CERTIFIED or cert is None:
        abort(404)
    form = forms.CertificateForm(obj=cert)
    if request.method == "GET":
        form.tier.data = str(cert.tier) if cert.tier else str(enterprise.target_tier)
        form.office_id.data = cert.office_id or 0
    return _follow_up(
        form,
        enterprise,
        _("Certificate details"),
        lambda: services.update_certificate(
            enterprise,
            certificate_no=form.certificate_no.data,
            tier=form.tier.data,
            decided_on=form.decided_on.data,
            office_id=form.office_id.data or None,
            by=current_user,
        ),
        back=back,
        success=_("Saved."),
    )


@bp.route("/enterprises/<int:enterprise_id>/reverification", methods=["GET", "POST"])
@permission_required(Permission.EDIT)
def reverification(enterprise_id: int):
    enterprise, back = _editable_enterprise(enterprise_id)
    form = forms.ReverificationForm()
    return _follow_up(
        form,
        enterprise,
        _("Record a passed re-verification"),
        lambda: services.record_reverification(
            enterprise, on=form.reverified_on.data, note=form.note.data, by=current_user
        ),
        back=back,
        success=_("Re-verification recorded."),
        note=_("A failed re-verification is a move to 'not passed'."),
    )


@bp.route("/enterprises/<int:enterprise_id>/compliance", methods=["GET", "POST"])
@permission_required(Permission.EDIT)
def compliance(enterprise_id: int):
    enterprise, back = _editable_enterprise(enterprise_id)
    form = forms.ComplianceForm()
    if request.method == "GET":
        year = request.args.get("year", type=int) or local_today().year
        form.year.data = year
        from crm.pipeline.models import ComplianceYear

        existing = db.session.scalars(
            select(ComplianceYear).where(ComplianceYear.enterprise_id == enterprise.id, ComplianceYear.year == year)
        ).first()
        if existing is not None:
            form.process(obj=existing)
    return _follow_up(
        form,
        enterprise,
        _("Yearly internal audit and audited report"),
        lambda: services.record_compliance_year(
            enterprise,
            year=form.year.data,
            internal_audit_done=form.internal_audit_done.data,
            internal_audit_on=form.internal_audit_on.data,
            report_submitted=form.report_submitted.data,
            report_submitted_on=form.report_submitted_on.data,
            note=form.note.data,
            by=current_user,
        ),
        back=back,
        success=_("Saved."),
    )


@bp.route("/enterprises/<int:enterprise_id>/credit", methods=["GET", "POST"])
@permission_required(Permission.EDIT)
def credit_event(enterprise_id: int):
    enterprise, back = _editable_enterprise(enterprise_id)
    form = forms.CreditEventForm()
    if request.method == "GET":
        form.status.data = str(enterprise.credit_status)
        form.effective_on.data = local_today()
    return _follow_up(
        form,
        enterprise,
        _("Record a credit event"),
        lambda: services.record_credit_event(
            enterprise,
            status=form.status.data,
            effective_on=form.effective_on.data,
            source=form.source.data,
            note=form.note.data,
            by=current_user,
        ),
        back=back,
        success=_("Credit event recorded."),
        note=_("A downgrade to a discredited tier suspends the notice's incentives (measure 22) everywhere."),
    )


@bp.route("/enterprises/<int:enterprise_id>/benefits/new", methods=["GET", "POST"])
@permission_required(Permission.EDIT)
def new_benefit(enterprise_id: int):
    enterprise, back = _editable_enterprise(enterprise_id)
    form = forms.BenefitForm()
    if request.method == "GET":
        form.used_on.data = local_today()
    return _follow_up(
        form,
        enterprise,
        _("Record a benefit"),
        lambda: services.record_benefit(
            enterprise,
            measure_id=form.measure_id.data,
            used_on=form.used_on.data,
            figure=form.figure.data,
            unit=form.unit.data,
            note=form.note.data,
            by=current_user,
        ),
        back=back,
        success=_("Benefit recorded."),
    )


@bp.post("/enterprises/<int:enterprise_id>/benefits/<int:benefit_id>/delete")
@permission_required(Permission.EDIT)
def delete_benefit(enterprise_id: int, benefit_id: int):
    enterprise = get_enterprise_or_404(enterprise_id)
    record = db.session.get(BenefitRecord, benefit_id)
    if record is None or record.enterprise_id != enterprise.id:
        abort(404)
    if not EmptyForm().validate_on_submit():
        abort(400)
    services.delete_benefit(record)
    db.session.commit()
    flash(_("Deleted."), "success")
    return redirect(url_for(".enterprise", enterprise_id=enterprise.id))


@bp.route("/enterprises/<int:enterprise_id>/coordinator", methods=["GET", "POST"])
@permission_required(Permission.EDIT)
def coordinator(enterprise_id: int):
    enterprise, back = _editable_enterprise(enterprise_id)
    form = forms.CoordinatorForm(enterprise=enterprise)
    if request.method == "GET":
        form.coordinator_id.data = enterprise.coordinator_id or 0

    def assign() -> None:
        from crm.auth.models import User

        chosen = db.session.get(User, form.coordinator_id.data) if form.coordinator_id.data else None
        services.assign_coordinator(enterprise, chosen)

    return _follow_up(form, enterprise, _("Enterprise coordinator"), assign, back=back, success=_("Saved."))


# --- administration ---------------------------------------------------------------------------------------


@admin_bp.get("/stages/")
@permission_required(Permission.MANAGE_REFERENCE)
def stages():
    return render_template("pipeline/admin_stages.html", stages=services.ordered_stages(), form=EmptyForm())


@admin_bp.route("/stages/<code>", methods=["GET", "POST"])
@permission_required(Permission.MANAGE_REFERENCE)
def edit_stage(code: str):
    stage = db.session.get(Stage, code)
    if stage is None:
        abort(404)
    form = forms.StageForm(obj=stage)
    if form.validate_on_submit():
        stage.name_zh = form.name_zh.data.strip()
        stage.name_en = form.name_en.data.strip()
        stage.sort_order = form.sort_order.data
        stage.sla_days = form.sla_days.data
        db.session.commit()
        flash(_("Saved."), "success")
        return redirect(url_for(".stages"))
    return render_template("pipeline/admin_stage_form.html", stage=stage, form=form)


@admin_bp.post("/stages/<code>/move")
@permission_required(Permission.MANAGE_REFERENCE)
def reorder_stage(code: str):
    stage = db.session.get(Stage, code)
    if stage is None:
        abort(404)
    if not EmptyForm().validate_on_submit():
        abort(400)
    direction = {"up": -1, "down": 1}.get(request.form.get("direction", ""))
    if direction is None:
        abort(400)
    services.reorder_stage(stage, direction)
    db.session.commit()
    return redirect(url_for(".stages"))


@admin_bp.get("/reasons/")
@permission_required(Permission.MANAGE_REFERENCE)
def reasons():
    rows = db.session.scalars(
        select(TransitionReason).order_by(
            TransitionReason.stage_code.desc(), TransitionReason.sort_order, TransitionReason.code
        )
    ).all()
    stage_names = {s.code: s.display_name for s in services.ordered_stages()}
    return render_template("pipeline/admin_reasons.html", rows=rows, stage_names=stage_names)


@admin_bp.route("/reasons/new", methods=["GET", "POST"])
@admin_bp.route("/reasons/<int:reason_id>", methods=["GET", "POST"])
@permission_required(Permission.MANAGE_REFERENCE)
def edit_reason(reason_id: int | None = None):
    row = db.session.get(TransitionReason, reason_id) if reason_id is not None else None
    if reason_id is not None and row is None:
        abort(404)
    form = forms.ReasonForm(obj=row, row=row)
    if form.validate_on_submit():
        if row is None:
            row = TransitionReason(code=form.code.data)
            db.session.add(row)
        row.stage_code = form.stage_code.data
        row.name_zh = form.name_zh.data.strip()
        row.name_en = (form.name_en.data or "").strip()
        row.sort_order = form.sort_order.data or 0
        row.is_active = form.is_active.data
        db.session.commit()
        flash(_("Saved."), "success")
        return redirect(url_for(".reasons"))
    return render_template("pipeline/admin_reason_form.html", row=row, form=form)
