"""Pages of 1+N cohorts: the list, the cohort form, the cohort page with its joint actions."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from crm.auth.models import User
from crm.cohorts import forms, queries, services
from crm.cohorts.models import Cohort, CohortKind, CohortMember
from crm.core.forms import EmptyForm
from crm.core.pagination import PageArgumentError, page_args, paginate
from crm.core.permissions import Permission, has_permission, permission_required
from crm.core.scope import scope_of
from crm.extensions import db

bp = Blueprint("cohorts", __name__, url_prefix="/cohorts")


def _cohort_or_404(cohort_id: int) -> Cohort:
    cohort = queries.scoped_cohort(cohort_id, current_user)
    if cohort is None:
        abort(404)
    return cohort


def _in_scope_member_ids(cohort: Cohort) -> list[int]:
    return [m.enterprise_id for m in queries.members_in_scope(cohort, current_user)]


def _flash_errors(errors: dict[str, list[str]]) -> None:
    for messages in errors.values():
        for message in messages:
            flash(message, "danger")


def _form_errors(form) -> dict[str, list[str]]:
    return {name: [str(m) for m in messages] for name, messages in form.errors.items()}


# --- list and form -------------------------------------------------------------------------------------------


@bp.get("/")
@permission_required()
def list_cohorts():
    try:
        page, per_page = page_args()
    except PageArgumentError:
        abort(400)
    filters = {key: request.args.get(key, "").strip() for key in ("q", "kind")}
    result = paginate(queries.cohort_list(filters, current_user), page, per_page)
    return render_template(
        "cohorts/list.html",
        page=result,
        filters=filters,
        kinds=CohortKind,
        counts=queries.member_counts([c.id for c in result.items], current_user),
        scope=scope_of(current_user),
        can_edit=has_permission(current_user, Permission.EDIT),
    )


def _responsibles(ids: list[int]) -> list[User]:
    return list(db.session.scalars(select(User).where(User.id.in_(ids)))) if ids else []


def _save(form: forms.CohortForm, cohort: Cohort | None):
    if form.lead.data:
        lead = queries.find_enterprise(form.lead.data, current_user)
    else:  # a lead outside the editor's jurisdiction is not shown in the form, and stays
        lead = cohort.lead if cohort is not None and not scope_of(current_user).contains(cohort.lead) else None
    values = {
        "name": form.name.data or "",
        "kind": form.kind.data,
        "lead": lead,
        "target_date": form.target_date.data,
        "notes": form.notes.data or "",
        "responsibles": _responsibles(form.responsibles.data or []),
    }
    if cohort is None:
        return services.create_cohort(**values, by=current_user)
    return services.update_cohort(cohort, by=current_user, **values)


@bp.route("/new", methods=["GET", "POST"])
@permission_required(Permission.EDIT)
def new_cohort():
    form = forms.CohortForm()
    if request.method == "GET" and request.args.get("lead", "").isdigit():
        lead = queries.scoped_enterprise(int(request.args["lead"]), current_user)
        if lead is not None:
            form.lead.data = lead.uscc
    if form.validate_on_submit():
        try:
            cohort = _save(form, None)
        except services.CohortError as error:
            form.lead.errors = list(form.lead.errors) + error.fields.pop("lead_enterprise_id", [])
            _flash_errors(error.fields)
        else:
            db.session.commit()
            flash(_("Cohort “%(name)s” created.", name=cohort.name), "success")
            return redirect(url_for(".detail", cohort_id=cohort.id))
    return render_template("cohorts/form.html", form=form, cohort=None)


@bp.route("/<int:cohort_id>/edit", methods=["GET", "POST"])
@permission_required(Permission.EDIT)
def edit_cohort(cohort_id: int):
    cohort = _cohort_or_404(cohort_id)
    form = forms.CohortForm(
        data={
            "name": cohort.name,
            "kind": cohort.kind.value,
            "lead": cohort.lead.uscc if scope_of(current_user).contains(cohort.lead) else "",
            "target_date": cohort.target_date,
            "notes": cohort.notes,
            "responsibles": [u.id for u in cohort.responsibles],
        }
    )
    if form.validate_on_submit():
        try:
            _save(form, cohort)
        except services.CohortError as error:
            form.lead.errors = list(form.lead.errors) + error.fields.pop("lead_enterprise_id", [])
            _flash_errors(error.fields)
        else:
            db.session.commit()
            flash(_("Cohort saved."), "success")
            return redirect(url_for(".detail", cohort_id=cohort.id))
    return render_template("cohorts/form.html", form=form, cohort=cohort)


@bp.post("/<int:cohort_id>/delete")
@permission_required(Permission.EDIT)
def delete_cohort(cohort_id: int):
    cohort = _cohort_or_404(cohort_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    if queries.member_count(cohort.id) > len(_in_scope_member_ids(cohort)) or not scope_of(current_user).contains(
        cohort.lead
    ):
        flash(
            _("Members or the lead of this cohort lie outside your jurisdiction: it cannot be deleted here."), "danger"
        )
        return redirect(url_for(".detail", cohort_id=cohort.id))
    name = cohort.name
    services.delete_cohort(cohort)
    db.session.commit()
    flash(_("Cohort “%(name)s” deleted.", name=name), "success")
    return redirect(url_for(".list_cohorts"))


# --- the cohort page -----------------------------------------------------------------------------------------


@bp.get("/<int:cohort_id>")
@permission_required()
def detail(cohort_id: int):
    cohort = _cohort_or_404(cohort_id)
    return render_template(
        "cohorts/detail.html",
        page=queries.cohort_page(cohort, current_user),
        member_form=forms.MemberForm(formdata=None),
        visit_form=forms.JointVisitForm(formdata=None),
        training_form=forms.TrainingForm(formdata=None),
        template_form=forms.TemplateForm(formdata=None),
        can_edit=has_permission(current_user, Permission.EDIT),
        can_move=has_permission(current_user, Permission.TRANSITION),
    )


@bp.post("/<int:cohort_id>/members")
@permission_required(Permission.EDIT)
def add_member(cohort_id: int):
    cohort = _cohort_or_404(cohort_id)
    form = forms.MemberForm()
    if not form.validate_on_submit():
        _flash_errors(_form_errors(form))
        return redirect(url_for(".detail", cohort_id=cohort.id))
    enterprise = queries.find_enterprise(form.enterprise.data, current_user)
    if enterprise is None:
        flash(_("No enterprise in your jurisdiction has this code."), "danger")
        return redirect(url_for(".detail", cohort_id=cohort.id))
    try:
        services.add_member(cohort, enterprise, form.relation.data, by=current_user)
    except services.CohortError as error:
        _flash_errors(error.fields)
    else:
        db.session.commit()
        flash(_("%(name)s added to the cohort.", name=enterprise.name), "success")
    return redirect(url_for(".detail", cohort_id=cohort.id))


@bp.post("/<int:cohort_id>/members/<int:cohort_member_id>/delete")
@permission_required(Permission.EDIT)
def remove_member(cohort_id: int, cohort_member_id: int):
    cohort = _cohort_or_404(cohort_id)
    member = db.session.get(CohortMember, cohort_member_id)
    if member is None or member.cohort_id != cohort.id or not scope_of(current_user).contains(member.enterprise):
        abort(404)
    if not EmptyForm().validate_on_submit():
        abort(400)
    name = member.enterprise.name
    services.remove_member(cohort, member, by=current_user)
    db.session.commit()
    flash(_("%(name)s removed from the cohort.", name=name), "success")
    return redirect(url_for(".detail", cohort_id=cohort.id))


# --- joint actions -------------------------------------------------------------------------------------------


@bp.post("/<int:cohort_id>/joint-visit")
@permission_required(Permission.EDIT)
def joint_visit(cohort_id: int):
    from crm.visits.services import local_datetime

    cohort = _cohort_or_404(cohort_id)
    form = forms.JointVisitForm()
    if not form.validate_on_submit():
        _flash_errors(_form_errors(form))
        return redirect(url_for(".detail", cohort_id=cohort.id))
    officer = db.session.get(User, form.officer.data)
    result = services.plan_joint_visit(
        cohort,
        _in_scope_member_ids(cohort),
        starts_at=local_datetime(form.day.data, form.at.data),
        officer=officer,
        duration_minutes=form.duration_minutes.data,
        location=form.location.data or "",
        summary=form.summary.data or "",
        by=current_user,
    )
    db.session.commit()
    if result.visits:
        flash(_("Joint visit planned for %(n)s members.", n=len(result.visits)), "success")
    for errors in list(result.refused.values())[:1]:
        _flash_errors(errors)
    if not result.visits and not result.refused:
        flash(_("The cohort has no member in your jurisdiction."), "warning")
    return redirect(url_for(".detail", cohort_id=cohort.id))


@bp.post("/<int:cohort_id>/training")
@permission_required(Permission.EDIT)
def training(cohort_id: int):
    from crm.events.models import Event
    from crm.events.services import EventError

    cohort = _cohort_or_404(cohort_id)
    form = forms.TrainingForm()
    if not form.validate_on_submit():
        _flash_errors(_form_errors(form))
        return redirect(url_for(".detail", cohort_id=cohort.id))
    event = db.session.get(Event, form.event.data)
    try:
        result = services.invite_to_training(cohort, event, _in_scope_member_ids(cohort), by=current_user)
    except EventError as error:
        db.session.rollback()
        flash(str(error), "danger")
        return redirect(url_for(".detail", cohort_id=cohort.id))
    db.session.commit()
    flash(
        _(
            "Invited: %(n)s (already invited: %(already)s).",
            n=result.created,
            already=result.already_invited,
        ),
        "success" if result.created else "info",
    )
    return redirect(url_for(".detail", cohort_id=cohort.id))


@bp.post("/<int:cohort_id>/plan-template")
@permission_required(Permission.EDIT)
def plan_template(cohort_id: int):
    from crm.plans.models import PlanTemplate
    from crm.plans.services import PlanError

    cohort = _cohort_or_404(cohort_id)
    form = forms.TemplateForm()
    if not form.validate_on_submit():
        _flash_errors(_form_errors(form))
        return redirect(url_for(".detail", cohort_id=cohort.id))
    template = db.session.get(PlanTemplate, form.template.data)
    try:
        result = services.apply_plan_template(cohort, template, _in_scope_member_ids(cohort), by=current_user)
    except PlanError as error:
        db.session.rollback()
        flash(str(error), "danger")
        return redirect(url_for(".detail", cohort_id=cohort.id))
    db.session.commit()
    flash(
        _(
            "Template applied to %(applied)s open plans; %(created)s plans started; %(skipped)s already used it.",
            applied=len(result.applied),
            created=len(result.created),
            skipped=len(result.skipped),
        ),
        "success",
    )
    return redirect(url_for(".detail", cohort_id=cohort.id))


@bp.route("/<int:cohort_id>/transition", methods=["GET", "POST"])
@permission_required(Permission.TRANSITION)
def transition(cohort_id: int):
    """Move several members through the same transition; each passes its own guards."""
    from crm.pipeline import forms as pipeline_forms
    from crm.pipeline import services as pipeline_services

    cohort = _cohort_or_404(cohort_id)
    members = queries.members_in_scope(cohort, current_user)
    stages = pipeline_services.ordered_stages()
    form = pipeline_forms.BulkMoveForm(stages=stages)
    allowed = {m.enterprise_id for m in members}
    selected = [int(v) for v in request.form.getlist("enterprise_ids") if v.isdigit() and int(v) in allowed]
    result = None
    error = None
    if request.method == "POST" and form.validate_on_submit():
        if not selected:
            error = _("Select at least one member.")
        else:
            transition_request, errors = pipeline_services.parse_transition_input(form.as_input())
            if errors:
                form.show_failures(errors)
            else:
                result = services.move_members(cohort, selected, transition_request, by=current_user)
                db.session.commit()
    elif request.method == "GET":
        selected = sorted(allowed)
    return render_template(
        "cohorts/transition.html",
        cohort=cohort,
        members=members,
        selected=set(selected),
        form=form,
        result=result,
        error=error,
        stage_names={s.code: s.display_name for s in stages},
    )
