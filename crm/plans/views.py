"""Pages of the plans package: 一企一策 plans, cultivation tasks, the plan document and plan templates."""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from crm.auth.models import User
from crm.core.forms import EmptyForm
from crm.core.pagination import PageArgumentError, page_args, paginate
from crm.core.permissions import Permission, permission_required
from crm.core.scope import get_enterprise_or_404
from crm.core.timeutil import local_today
from crm.enterprises.counts_cache import ENTERPRISES, PLANS
from crm.enterprises.models import Contact
from crm.extensions import db
from crm.plans import document, forms, queries, services
from crm.plans.models import CultivationTask, Plan, PlanStatus, PlanTemplate, PlanTemplateTask, TaskStatus

bp = Blueprint("plans", __name__)


def _plan_or_404(plan_id: int) -> Plan:
    plan = queries.scoped_plan(plan_id)
    if plan is None:
        abort(404)
    return plan


def _task_or_404(task_id: int) -> CultivationTask:
    task = queries.scoped_task(task_id)
    if task is None:
        abort(404)
    return task


def _page_args():
    try:
        return page_args()
    except PageArgumentError:
        abort(400)


def _user(user_id: int | None) -> User | None:
    return db.session.get(User, user_id) if user_id else None


def _contact(contact_id: int | None) -> Contact | None:
    return db.session.get(Contact, contact_id) if contact_id else None


def _owner(value: str | None) -> tuple[User | None, Contact | None]:
    kind, _sep, raw = (value or "").partition(":")
    if not raw.isdigit():
        return None, None
    return (_user(int(raw)), None) if kind == "user" else (None, _contact(int(raw)))


# --- lists ------------------------------------------------------------------------------------------------


@bp.get("/plans/")
@permission_required()
def list_plans():
    page, per_page = _page_args()
    filters = {key: request.args.get(key, "").strip() for key in ("q", "status", "overdue", "mine")}
    if not any(filters.values()) and "status" not in request.args:
        filters["status"] = "open"
    result = paginate(
        queries.plan_list(filters, user=current_user),
        page,
        per_page,
        topics=(PLANS, ENTERPRISES),
        id_column=Plan.id,
    )
    return render_template(
        "plans/list.html",
        page=result,
        filters=filters,
        progress=services.progress_of([p.id for p in result.items]),
        statuses=PlanStatus,
    )


@bp.get("/plans/tasks")
@permission_required()
def list_tasks():
    page, per_page = _page_args()
    filters = {key: request.args.get(key, "").strip() for key in ("status", "overdue", "mine", "open")}
    if not request.args:
        filters["open"] = "1"
    return render_template(
        "plans/tasks.html",
        page=paginate(
            queries.task_list(filters, user=current_user),
            page,
            per_page,
            topics=(PLANS, ENTERPRISES),
            id_column=CultivationTask.id,
        ),
        filters=filters,
        statuses=TaskStatus,
        today=local_today(),
    )


# --- plans ------------------------------------------------------------------------------------------------


@bp.get("/enterprises/<int:enterprise_id>/plan")
@permission_required()
def enterprise_plan(enterprise_id: int):
    enterprise = get_enterprise_or_404(enterprise_id)
    plan = services.open_plan(enterprise.id)
    if plan is not None:
        return redirect(url_for(".plan_detail", plan_id=plan.id))
    return render_template("plans/no_plan.html", enterprise=enterprise, plans=queries.enterprise_plans(enterprise.id))


def _plan_changes(form: forms.PlanForm) -> dict:
    return {
        "goal": form.goal.data,
        "target_tier": form.target_tier.data,
        "target_application_on": form.target_application_on.data,
        "started_on": form.started_on.data,
        "status": form.status.data,
        "commerce_officer": _user(form.commerce_officer_id.data),
        "customs_officer": _user(form.customs_officer_id.data),
        "contact": _contact(form.contact_id.data),
        "measures": form.measures.data or "",
    }


@bp.route("/enterprises/<int:enterprise_id>/plan/new", methods=["GET", "POST"])
@permission_required(Permission.EDIT)
def new_plan(enterprise_id: int):
    enterprise = get_enterprise_or_404(enterprise_id)
    form = forms.PlanForm(enterprise=enterprise, creating=True)
    if request.method == "GET":
        form.target_tier.data = enterprise.target_tier.value
        form.started_on.data = local_today()
        form.commerce_officer_id.data = enterprise.commerce_officer_id or 0
        form.customs_officer_id.data = enterprise.customs_officer_id or 0
        contact = enterprise.customs_contact or enterprise.primary_contact
        form.contact_id.data = contact.id if contact else 0
    if form.validate_on_submit():
        template = db.session.get(PlanTemplate, form.template_id.data) if form.template_id.data else None
        try:
            plan = services.create_plan(enterprise, template=template, by=current_user, **_plan_changes(form))
        except services.PlanError as exc:
            db.session.rollback()
            form.form_errors.append(str(exc))
        else:
            db.session.commit()
            flash(_("Plan created."), "success")
            return redirect(url_for(".plan_detail", plan_id=plan.id))
    return render_template("plans/plan_form.html", enterprise=enterprise, form=form, plan=None)


@bp.get("/plans/<int:plan_id>")
@permission_required()
def plan_detail(plan_id: int):
    plan = _plan_or_404(plan_id)
    today = local_today()
    tasks = queries.plan_tasks(plan)
    from crm.standards.services import latest_assessment

    return render_template(
        "plans/plan.html",
        plan=plan,
        enterprise=plan.enterprise,
        tasks=tasks,
        overdue={t.id for t in tasks if services.is_overdue(t, today)},
        progress=services.progress(plan, today),
        latest=latest_assessment(plan.enterprise_id),
        other_plans=[p for p in queries.enterprise_plans(plan.enterprise_id) if p.id != plan.id],
        form=EmptyForm(),
    )


@bp.route("/plans/<int:plan_id>/edit", methods=["GET", "POST"])
@permission_required(Permission.EDIT)
def edit_plan(plan_id: int):
    plan = _plan_or_404(plan_id)
    enterprise = plan.enterprise
    form = forms.PlanForm(obj=plan if request.method == "GET" else None, enterprise=enterprise, creating=False)
    if request.method == "GET":
        form.target_tier.data = plan.target_tier.value
        form.status.data = plan.status.value
        form.commerce_officer_id.data = plan.commerce_officer_id or 0
        form.customs_officer_id.data = plan.customs_officer_id or 0
        form.contact_id.data = plan.contact_id or 0
    if form.validate_on_submit():
        try:
            services.update_plan(plan, by=current_user, **_plan_changes(form))
        except services.PlanError as exc:
            db.session.rollback()
            form.form_errors.append(str(exc))
        else:
            db.session.commit()
            flash(_("Saved."), "success")
            return redirect(url_for(".plan_detail", plan_id=plan.id))
    return render_template("plans/plan_form.html", enterprise=enterprise, form=form, plan=plan)


@bp.post("/plans/<int:plan_id>/gaps")
@permission_required(Permission.EDIT)
def tasks_from_gaps(plan_id: int):
    plan = _plan_or_404(plan_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        created = services.create_tasks_from_gaps(plan, by=current_user)
    except services.PlanError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        if created:
            flash(_("Tasks created from the gaps: %(n)s.", n=len(created)), "success")
        else:
            flash(_("No new task: every gap of the latest assessment already has an open task."), "info")
    return redirect(url_for(".plan_detail", plan_id=plan.id))


@bp.get("/plans/<int:plan_id>/print")
@permission_required()
def print_plan(plan_id: int):
    plan = _plan_or_404(plan_id)
    return document.render_document_html(plan)


@bp.get("/plans/<int:plan_id>/document.pdf")
@permission_required()
def plan_pdf(plan_id: int):
    plan = _plan_or_404(plan_id)
    pdf = document.render_pdf(plan)
    filename = document.pdf_filename(plan)
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f"attachment; filename=\"plan-{plan.id}.pdf\"; filename*=UTF-8''{quote(filename)}",
            "Cache-Control": "private, no-store",
        },
    )


# --- tasks ------------------------------------------------------------------------------------------------


def _task_fields(form: forms.TaskForm, plan: Plan) -> dict:
    items, missing = services.items_by_number(services.plan_version(plan), getattr(form.items, "numbers", None) or [])
    if missing:
        form.items.errors = [
            *form.items.errors,
            _("The standard has no items %(numbers)s.", numbers=", ".join(map(str, missing))),
        ]
        raise services.PlanError(_("Some fields need attention."))
    owner, contact = _owner(form.owner.data)
    return {
        "title": form.title.data,
        "items": items,
        "owner": owner,
        "owner_contact": contact,
        "due_on": form.due_on.data,
    }


@bp.route("/plans/<int:plan_id>/tasks/new", methods=["GET", "POST"])
@permission_required(Permission.EDIT)
def new_task(plan_id: int):
    plan = _plan_or_404(plan_id)
    form = forms.TaskForm(enterprise=plan.enterprise)
    if request.method == "GET":
        form.status.data = TaskStatus.TODO.value
        if plan.contact_id:
            form.owner.data = f"contact:{plan.contact_id}"
    if form.validate_on_submit():
        try:
            fields = _task_fields(form, plan)
            task = services.create_task(plan, description=form.description.data or "", **fields)
            services.update_task(task, status=form.status.data, completion_note=form.completion_note.data or "")
        except services.PlanError as exc:
            db.session.rollback()
            form.form_errors.append(str(exc))
        else:
            db.session.commit()
            flash(_("Task added."), "success")
            return redirect(url_for(".plan_detail", plan_id=plan.id))
    return render_template("plans/task_form.html", plan=plan, enterprise=plan.enterprise, form=form, task=None)


@bp.route("/tasks/<int:task_id>/edit", methods=["GET", "POST"])
@permission_required(Permission.EDIT)
def edit_task(task_id: int):
    task = _task_or_404(task_id)
    plan = task.plan
    form = forms.TaskForm(obj=task if request.method == "GET" else None, enterprise=plan.enterprise)
    if request.method == "GET":
        form.items.data = [i.number for i in sorted(task.items, key=lambda i: i.number)]
        form.status.data = task.status.value
        form.owner.data = (
            f"user:{task.owner_id}"
            if task.owner_id
            else (f"contact:{task.owner_contact_id}" if task.owner_contact_id else "")
        )
    if form.validate_on_submit():
        try:
            fields = _task_fields(form, plan)
            services.update_task(
                task,
                description=form.description.data or "",
                status=form.status.data,
                completion_note=form.completion_note.data or "",
                **fields,
            )
        except services.PlanError as exc:
            db.session.rollback()
            form.form_errors.append(str(exc))
        else:
            db.session.commit()
            flash(_("Saved."), "success")
            return redirect(url_for(".plan_detail", plan_id=plan.id))
    return render_template("plans/task_form.html", plan=plan, enterprise=plan.enterprise, form=form, task=task)


@bp.route("/tasks/<int:task_id>/complete", methods=["GET", "POST"])
@permission_required(Permission.EDIT)
def complete_task(task_id: int):
    task = _task_or_404(task_id)
    form = forms.CompleteTaskForm()
    if request.method == "GET":
        form.completed_on.data = task.completed_on or local_today()
        form.completion_note.data = task.completion_note
    if form.validate_on_submit():
        if form.completed_on.data > local_today():
            form.completed_on.errors.append(_("The completion date cannot be in the future."))
        else:
            services.complete_task(task, note=form.completion_note.data or "", on=form.completed_on.data)
            db.session.commit()
            flash(_("Task completed."), "success")
            return redirect(url_for(".plan_detail", plan_id=task.plan_id))
    return render_template(
        "plans/complete_task.html", task=task, plan=task.plan, enterprise=task.plan.enterprise, form=form
    )


@bp.post("/tasks/<int:task_id>/delete")
@permission_required(Permission.EDIT)
def delete_task(task_id: int):
    task = _task_or_404(task_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    plan_id = task.plan_id
    services.delete_task(task)
    db.session.commit()
    flash(_("Task deleted."), "success")
    return redirect(url_for(".plan_detail", plan_id=plan_id))


# --- templates (administration) ---------------------------------------------------------------------------


def _template_or_404(template_id: int) -> PlanTemplate:
    template = db.session.get(PlanTemplate, template_id)
    if template is None:
        abort(404)
    return template


@bp.get("/admin/plan-templates/")
@permission_required(Permission.MANAGE_REFERENCE)
def list_templates():
    templates = db.session.scalars(select(PlanTemplate).order_by(PlanTemplate.name)).all()
    return render_template("plans/templates.html", templates=templates)


@bp.route("/admin/plan-templates/new", methods=["GET", "POST"])
@permission_required(Permission.MANAGE_REFERENCE)
def new_template():
    form = forms.TemplateForm()
    if form.validate_on_submit():
        template = PlanTemplate(
            name=form.name.data.strip(), description=form.description.data or "", is_active=form.is_active.data
        )
        db.session.add(template)
        db.session.commit()
        flash(_("Template created: now add its tasks."), "success")
        return redirect(url_for(".edit_template", template_id=template.id))
    return render_template("plans/template_form.html", form=form, template=None)


@bp.route("/admin/plan-templates/<int:template_id>", methods=["GET", "POST"])
@permission_required(Permission.MANAGE_REFERENCE)
def edit_template(template_id: int):
    template = _template_or_404(template_id)
    form = forms.TemplateForm(obj=template, template=template)
    if form.validate_on_submit():
        template.name = form.name.data.strip()
        template.description = form.description.data or ""
        template.is_active = form.is_active.data
        db.session.commit()
        flash(_("Saved."), "success")
        return redirect(url_for(".edit_template", template_id=template.id))
    return render_template(
        "plans/template_form.html", form=form, template=template, task_form=forms.TemplateTaskForm(), empty=EmptyForm()
    )


@bp.route("/admin/plan-templates/<int:template_id>/tasks/new", methods=["GET", "POST"])
@bp.route("/admin/plan-templates/<int:template_id>/tasks/<int:task_id>", methods=["GET", "POST"])
@permission_required(Permission.MANAGE_REFERENCE)
def edit_template_task(template_id: int, task_id: int | None = None):
    template = _template_or_404(template_id)
    task = None
    if task_id is not None:
        task = db.session.get(PlanTemplateTask, task_id)
        if task is None or task.template_id != template.id:
            abort(404)
    form = forms.TemplateTaskForm(obj=task if request.method == "GET" else None)
    if request.method == "GET" and task is not None:
        form.anchor.data = task.anchor.value
    if form.validate_on_submit():
        services.save_template_task(
            template,
            task,
            title=form.title.data,
            anchor=form.anchor.data,
            offset_days=form.offset_days.data,
            description=form.description.data or "",
            item_numbers=getattr(form.item_numbers, "numbers", None) or [],
            sort_order=form.sort_order.data,
        )
        db.session.commit()
        flash(_("Saved."), "success")
        return redirect(url_for(".edit_template", template_id=template.id))
    return render_template("plans/template_task_form.html", form=form, template=template, task=task)


@bp.post("/admin/plan-templates/<int:template_id>/tasks/<int:task_id>/delete")
@permission_required(Permission.MANAGE_REFERENCE)
def delete_template_task(template_id: int, task_id: int):
    template = _template_or_404(template_id)
    task = db.session.get(PlanTemplateTask, task_id)
    if task is None or task.template_id != template.id:
        abort(404)
    if not EmptyForm().validate_on_submit():
        abort(400)
    db.session.delete(task)
    db.session.commit()
    flash(_("Task deleted."), "success")
    return redirect(url_for(".edit_template", template_id=template.id))
