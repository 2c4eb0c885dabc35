"""Pages of the standards package: the catalog of standard versions and the assessments of an enterprise."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from crm.core.audit import record_event
from crm.core.files import StoredFile, UploadError, send_stored
from crm.core.forms import EmptyForm
from crm.core.pagination import PageArgumentError, page_args, paginate
from crm.core.permissions import Permission, permission_required
from crm.core.scope import get_enterprise_or_404
from crm.extensions import db
from crm.standards import catalog, forms, queries, services
from crm.standards.models import Assessment, AssessmentResult, Judgement, StandardItem, StandardVersion
from crm.standards.rules import FINANCIAL_LINES, RATIO_KINDS, compute_financials, effective_rules, to_decimal

bp = Blueprint("standards", __name__)


def _version_or_404(code: str) -> StandardVersion:
    version = services.version_by_code(code)
    if version is None:
        abort(404)
    return version


def _assessment_or_404(assessment_id: int) -> Assessment:
    assessment = queries.scoped_assessment(assessment_id)
    if assessment is None:
        abort(404)
    return assessment


def _result_or_404(assessment: Assessment, number: int) -> AssessmentResult:
    result = db.session.scalars(
        select(AssessmentResult)
        .join(StandardItem, AssessmentResult.item_id == StandardItem.id)
        .where(AssessmentResult.assessment_id == assessment.id, StandardItem.number == number)
    ).first()
    if result is None:
        abort(404)
    return result


# --- the catalog ------------------------------------------------------------------------------------------


@bp.get("/standards/")
@permission_required()
def list_versions():
    versions = db.session.scalars(queries.versions()).all()
    return render_template(
        "standards/versions.html",
        versions=versions,
        counts=queries.item_counts([v.id for v in versions]),
        form=EmptyForm(),
    )


@bp.get("/standards/<code>")
@permission_required()
def version_detail(code: str):
    version = _version_or_404(code)
    items = db.session.scalars(queries.version_items(version)).all()
    by_clause: dict[int, list[StandardItem]] = {}
    for item in items:
        by_clause.setdefault(item.clause_id, []).append(item)
    return render_template(
        "standards/version.html",
        version=version,
        by_clause=by_clause,
        rules=effective_rules(version.rules),
        ratio_kinds=RATIO_KINDS,
        in_use=catalog.version_in_use(version),
        form=EmptyForm(),
    )


@bp.route("/standards/import", methods=["GET", "POST"])
@permission_required(Permission.MANAGE_REFERENCE)
def import_version():
    form = forms.ImportForm()
    errors: list[str] = []
    if form.validate_on_submit():
        upload = form.file.data
        try:
            data = catalog.read_catalog(upload.stream, upload.filename or "")
            version, created = catalog.import_catalog(data, replace=form.replace.data)
        except catalog.CatalogError as exc:
            db.session.rollback()
            errors = exc.errors
        else:
            record_event(
                "import",
                f"Standard version {version.code} imported from {upload.filename}",
                details={"code": version.code, "created": created, "items": len(version.items)},
            )
            if not created:
                services.enqueue_reevaluation(version)
            db.session.commit()
            flash(_("Imported %(title)s with %(n)s items.", title=version.title, n=len(version.items)), "success")
            return redirect(url_for(".version_detail", code=version.code))
    return render_template("standards/import.html", form=form, errors=errors)


@bp.post("/standards/<code>/verify")
@permission_required(Permission.MANAGE_REFERENCE)
def verify_version(code: str):
    version = _version_or_404(code)
    if not EmptyForm().validate_on_submit():
        abort(400)
    verified = request.form.get("verified") == "y"
    services.set_verified(version, verified, by=current_user)
    db.session.commit()
    if verified:
        flash(_("%(title)s is marked as verified against the official text.", title=version.title), "success")
    else:
        flash(_("%(title)s is marked as not verified.", title=version.title), "info")
    return redirect(url_for(".version_detail", code=code))


@bp.route("/standards/<code>/rules", methods=["GET", "POST"])
@permission_required(Permission.MANAGE_REFERENCE)
def edit_rules(code: str):
    version = _version_or_404(code)
    rules = effective_rules(version.rules)
    form = forms.RulesForm(version=version)
    if request.method == "GET":
        form.base.data, form.pass_line.data, form.no_fail.data = rules["base"], rules["pass_line"], rules["no_fail"]
        form.score_basic.data, form.score_fail.data = rules["scores"]["basic"], rules["scores"]["fail"]
        form.bonus_per_item.data, form.bonus_cap.data = rules["bonus_per_item"], rules["bonus_cap"]
        form.max_basic.data, form.max_basic_categories.data = rules["max_basic"], rules["max_basic_categories"]
    errors: list[str] = []
    if form.validate_on_submit():
        try:
            services.update_rules(version, form.rules(version))
        except catalog.CatalogError as exc:
            db.session.rollback()
            errors = exc.errors
        else:
            db.session.commit()
            flash(_("Saved. Assessments under this version are evaluated again."), "success")
            return redirect(url_for(".version_detail", code=code))
    return render_template("standards/rules.html", version=version, form=form, errors=errors)


@bp.get("/standards/<code>/export.yaml")
@permission_required(Permission.MANAGE_REFERENCE)
def export_version(code: str):
    version = _version_or_404(code)
    body = catalog.dump_yaml(catalog.export_catalog(version))
    return Response(
        body,
        mimetype="application/x-yaml",
        headers={"Content-Disposition": f'attachment; filename="{version.code}.yaml"'},
    )


# --- assessments ------------------------------------------------------------------------------------------


@bp.get("/enterprises/<int:enterprise_id>/assessments/")
@permission_required()
def enterprise_assessments(enterprise_id: int):
    enterprise = get_enterprise_or_404(enterprise_id)
    try:
        page, per_page = page_args()
    except PageArgumentError:
        abort(400)
    return render_template(
        "standards/enterprise_assessments.html",
        enterprise=enterprise,
        page=paginate(queries.enterprise_assessments(enterprise.id), page, per_page),
        readiness=queries.readiness(enterprise),
    )


@bp.route("/enterprises/<int:enterprise_id>/assessments/new", methods=["GET", "POST"])
@permission_required(Permission.EDIT)
def new_assessment(enterprise_id: int):
    enterprise = get_enterprise_or_404(enterprise_id)
    form = forms.NewAssessmentForm(enterprise=enterprise)
    if request.method == "GET":
        current = services.current_version(enterprise.target_tier)
        if current is not None:
            form.version_id.data = current.id
    if form.validate_on_submit():
        version = db.session.get(StandardVersion, form.version_id.data)
        assessment = services.create_assessment(
            enterprise,
            version=version,
            kind=form.kind.data,
            assessed_on=form.assessed_on.data,
            by=current_user,
            note=form.note.data or "",
        )
        db.session.commit()
        flash(_("Assessment started as a draft: judge each item, then finalise it."), "success")
        return redirect(url_for(".edit_assessment", assessment_id=assessment.id))
    return render_template("standards/new_assessment.html", enterprise=enterprise, form=form)


@bp.get("/assessments/<int:assessment_id>")
@permission_required()
def assessment_detail(assessment_id: int):
    assessment = _assessment_or_404(assessment_id)
    others = db.session.scalars(
        select(Assessment)
        .where(Assessment.enterprise_id == assessment.enterprise_id, Assessment.id != assessment.id)
        .order_by(Assessment.assessed_on.desc(), Assessment.id.desc())
        .limit(50)
    ).all()
    return render_template(
        "standards/assessment.html",
        assessment=assessment,
        enterprise=assessment.enterprise,
        evaluation=services.evaluate_assessment(assessment),
        groups=queries.results_by_category(assessment),
        attachments=queries.attachment_counts(assessment),
        others=others,
        form=EmptyForm(),
    )


@bp.route("/assessments/<int:assessment_id>/edit", methods=["GET", "POST"])
@permission_required(Permission.EDIT)
def edit_assessment(assessment_id: int):
    assessment = _assessment_or_404(assessment_id)
    groups = queries.results_by_category(assessment)
    results = [r for _category, rows in groups for r in rows]
    form = forms.checklist_form(results, obj=assessment if request.method == "GET" else None)
    if request.method == "GET":
        form.kind.data = assessment.kind.value
    if form.validate_on_submit():
        changes = {
            r.item.number: (Judgement(form[f"j_{r.item.number}"].data), (form[f"e_{r.item.number}"].data or "").strip())
            for r in results
        }
        finalise = request.form.get("action") == "finalise"
        try:
            services.record_judgements(assessment, changes, by=current_user)
        except services.AssessmentError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            services.update_assessment(
                assessment,
                assessed_on=form.assessed_on.data,
                kind=form.kind.data,
                note=form.note.data or "",
                is_draft=False if finalise else None,
            )
            db.session.commit()
            if finalise:
                flash(
                    _(
                        "Assessment finalised: %(outcome)s, %(total)s points.",
                        outcome=assessment.outcome.label,
                        total=assessment.total,
                    ),
                    "success",
                )
                return redirect(url_for(".assessment_detail", assessment_id=assessment.id))
            flash(_("Saved."), "success")
            return redirect(url_for(".edit_assessment", assessment_id=assessment.id))
    elif request.method == "POST":
        flash(_("Some fields need attention."), "error")
    return render_template(
        "standards/edit_assessment.html",
        assessment=assessment,
        enterprise=assessment.enterprise,
        groups=groups,
        form=form,
        attachments=queries.attachment_counts(assessment),
        evaluation=services.evaluate_assessment(assessment),
    )


@bp.get("/assessments/<int:assessment_id>/items/<int:number>")
@permission_required()
def assessment_item(assessment_id: int, number: int):
    assessment = _assessment_or_404(assessment_id)
    result = _result_or_404(assessment, number)
    form = forms.ResultForm(is_bonus=result.item.is_bonus, obj=result)
    form.judgement.data = result.judgement.value
    return _render_item(assessment, result, form)


@bp.post("/assessments/<int:assessment_id>/items/<int:number>")
@permission_required(Permission.EDIT)
def save_assessment_item(assessment_id: int, number: int):
    assessment = _assessment_or_404(assessment_id)
    result = _result_or_404(assessment, number)
    form = forms.ResultForm(is_bonus=result.item.is_bonus)
    if form.validate_on_submit():
        services.record_judgements(
            assessment,
            {number: (Judgement(form.judgement.data), (form.evidence.data or "").strip())},
            by=current_user,
        )
        db.session.commit()
        flash(_("Saved."), "success")
        return redirect(url_for(".assessment_item", assessment_id=assessment.id, number=number))
    return _render_item(assessment, result, form)


def _render_item(assessment: Assessment, result: AssessmentResult, form: forms.ResultForm):
    return render_template(
        "standards/item.html",
        assessment=assessment,
        enterprise=assessment.enterprise,
        result=result,
        form=form,
        upload_form=forms.AttachmentForm(),
        attachments=services.attachments_of(assessment, [result.item_id]),
        empty_form=EmptyForm(),
    )


@bp.post("/assessments/<int:assessment_id>/items/<int:number>/attachments")
@permission_required(Permission.EDIT)
def upload_attachment(assessment_id: int, number: int):
    assessment = _assessment_or_404(assessment_id)
    result = _result_or_404(assessment, number)
    form = forms.AttachmentForm()
    if form.validate_on_submit():
        try:
            stored = services.add_attachment(result, form.file.data, by=current_user)
        except UploadError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            db.session.commit()
            flash(_("Attached %(name)s.", name=stored.filename), "success")
    else:
        for errors in form.errors.values():
            for error in errors:
                flash(str(error), "error")
    return redirect(url_for(".assessment_item", assessment_id=assessment.id, number=number))


def _attachment_or_404(assessment: Assessment, file_id: int) -> StoredFile:
    stored = db.session.get(StoredFile, file_id)
    if (
        stored is None
        or stored.owner_type != services.ATTACHMENT_OWNER
        or stored.enterprise_id != assessment.enterprise_id
        or db.session.get(AssessmentResult, stored.owner_id) is None
        or db.session.get(AssessmentResult, stored.owner_id).assessment_id != assessment.id
    ):
        abort(404)
    return stored


@bp.get("/assessments/<int:assessment_id>/attachments/<int:file_id>")
@permission_required()
def download_attachment(assessment_id: int, file_id: int):
    assessment = _assessment_or_404(assessment_id)
    stored = _attachment_or_404(assessment, file_id)
    return send_stored(stored, as_attachment=request.args.get("inline") != "1")


@bp.post("/assessments/<int:assessment_id>/attachments/<int:file_id>/delete")
@permission_required(Permission.EDIT)
def delete_attachment(assessment_id: int, file_id: int):
    assessment = _assessment_or_404(assessment_id)
    stored = _attachment_or_404(assessment, file_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    result = db.session.get(AssessmentResult, stored.owner_id)
    services.remove_attachment(stored)
    db.session.commit()
    flash(_("Attachment deleted."), "success")
    return redirect(url_for(".assessment_item", assessment_id=assessment.id, number=result.item.number))


@bp.get("/assessments/<int:assessment_id>/financials")
@permission_required()
def financials(assessment_id: int):
    assessment = _assessment_or_404(assessment_id)
    form = forms.FinancialsForm()
    saved = assessment.financials or {}
    if saved:
        form.year.data = saved.get("year")
        form.is_production.data = bool(saved.get("is_production"))
        form.audit_opinion.data = saved.get("audit_opinion") or ""
        for name in FINANCIAL_LINES:
            value = (saved.get("lines") or {}).get(name)
            form[name].data = to_decimal(value)
    return _render_financials(assessment, form)


@bp.post("/assessments/<int:assessment_id>/financials")
@permission_required(Permission.EDIT)
def save_financials(assessment_id: int):
    assessment = _assessment_or_404(assessment_id)
    form = forms.FinancialsForm()
    if form.validate_on_submit():
        services.save_financials(assessment, form.financials(), apply=form.apply.data, by=current_user)
        db.session.commit()
        if form.apply.data:
            flash(_("Figures saved and the computed items judged."), "success")
        else:
            flash(_("Figures saved. Check the ratios below, then apply them if they are right."), "success")
        return redirect(url_for(".financials", assessment_id=assessment.id))
    return _render_financials(assessment, form)


def _render_financials(assessment: Assessment, form: forms.FinancialsForm):
    saved = assessment.financials or {}
    computed = compute_financials(assessment.version.rules, saved) if saved else None
    items = {
        i.computed_from: i
        for i in db.session.scalars(
            select(StandardItem).where(
                StandardItem.version_id == assessment.version_id, StandardItem.computed_from.isnot(None)
            )
        )
    }
    return render_template(
        "standards/financials.html",
        assessment=assessment,
        enterprise=assessment.enterprise,
        form=form,
        computed=computed,
        items=items,
        lines=FINANCIAL_LINES,
        is_production=bool(saved.get("is_production")),
        financial_rules=(assessment.version.rules or {}).get("financial") or {},
    )


@bp.get("/assessments/<int:assessment_id>/compare")
@permission_required()
def compare(assessment_id: int):
    assessment = _assessment_or_404(assessment_id)
    other_id = request.args.get("with", type=int)
    other = queries.scoped_assessment(other_id) if other_id else queries.default_comparison(assessment)
    if other is None or other.enterprise_id != assessment.enterprise_id or other.id == assessment.id:
        abort(404)
    comparison = services.compare_assessments(assessment, other)
    return render_template(
        "standards/compare.html", comparison=comparison, enterprise=assessment.enterprise, assessment=assessment
    )


@bp.post("/assessments/<int:assessment_id>/delete")
@permission_required(Permission.EDIT)
def delete_assessment(assessment_id: int):
    assessment = _assessment_or_404(assessment_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    enterprise_id = assessment.enterprise_id
    services.delete_assessment(assessment)
    db.session.commit()
    flash(_("Assessment deleted."), "success")
    return redirect(url_for(".enterprise_assessments", enterprise_id=enterprise_id))
