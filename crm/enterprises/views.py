"""Enterprise pages: list and pool, detail and timeline, forms, contacts, recommendations, notes, saved
views, bulk actions, exports, imports and merge. Thin: load, check access, validate, call a service, commit."""

from __future__ import annotations

from functools import cache
from typing import Any
from urllib.parse import parse_qsl, urlencode

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, lazyload
from wtforms import SelectField

from crm.core.files import send_stored
from crm.core.forms import EmptyForm
from crm.core.i18n import current_language
from crm.core.jobs import enqueue
from crm.core.pagination import Page, PageArgumentError, page_args, paginate
from crm.core.permissions import Permission, has_permission, permission_required
from crm.core.scope import get_enterprise_or_404, get_enterprise_row_or_404, scope_of
from crm.enterprises import exports, forms, imports, queries, services
from crm.enterprises.bulk import BULK_ACTIONS_BY_KEY, BulkRequest, actions_for
from crm.enterprises.counts_cache import cached_per_version
from crm.enterprises.listing import (
    LIST_FILTERS,
    ListQuery,
    ListReference,
    filter_option_markup,
    run_list,
    sort_choices,
)
from crm.enterprises.models import (
    Contact,
    Enterprise,
    EnterpriseImport,
    EnterpriseImportRow,
    EnterpriseNote,
    ExistingAction,
    ImportStatus,
    Priority,
    Recommendation,
    RowLabel,
    SavedView,
)
from crm.enterprises.related import (
    BOTH,
    KEEP,
    TAKE,
    MergeRefusedError,
    describe_value,
    differing_fields,
    merge_enterprises,
)
from crm.enterprises.sections import records_columns, sections_for, timeline_answers
from crm.enterprises.spreadsheets import SpreadsheetError, check_spreadsheet
from crm.enterprises.timeline import merged_timeline
from crm.enterprises.validation import check_uscc, enterprise_with_uscc
from crm.extensions import db

bp = Blueprint("enterprises", __name__, url_prefix="/enterprises")

PER_PAGE_CHOICES = (20, 50, 100, 200)
#: How many of the latest notes the enterprise page shows.
NOTES_SHOWN = 5


def _page_args() -> tuple[int, int]:
    try:
        return page_args()
    except PageArgumentError:
        abort(400)


# --- list and pool -------------------------------------------------------------------------------------------


@bp.get("/")
@permission_required()
def list_enterprises():
    page, per_page = _page_args()
    query = ListQuery.from_args(request.args)
    result = run_list(query, page, per_page, current_user)
    own_views, shared_views = queries.saved_views_for(current_user)
    actions = actions_for(current_user)
    form = EmptyForm()  # the bulk and export forms carry only the CSRF token: one form renders both
    return render_template(
        "enterprises/list.html",
        result=result,
        page=result.page,
        query=query,
        filters=LIST_FILTERS,
        filter_options=filter_option_markup(result.ref),
        sorts=sort_choices(),
        per_page_choices=PER_PAGE_CHOICES,
        own_views=own_views,
        shared_views=shared_views,
        view_form=forms.SavedViewForm(formdata=None, query=urlencode(query.as_args())),
        bulk_actions=actions,
        bulk_fields=_bulk_fields(actions),
        bulk_form=form,
        export_form=form,
        can_export=has_permission(current_user, Permission.EXPORT),
        can_edit=has_permission(current_user, Permission.EDIT),
        can_import=has_permission(current_user, Permission.IMPORT),
    )


def _bulk_fields(actions: list) -> Markup:
    """The bulk actions' fields (officers, categories, cohorts ... to choose from), kept per user, language and
    data version: building their forms costs more than the rest of the list's bar."""

    def render() -> Markup:
        return Markup(
            render_template("enterprises/_bulk_fields.html", bulk_actions=[(a, a.build_form()) for a in actions])
        )

    key = ("list-bulk-fields", current_user.id, current_language(), tuple(a.key for a in actions))
    return cached_per_version(key, render)


@bp.get("/pool")
@permission_required()
def pool():
    """Candidates awaiting the screening decision (accept into the pool, or decline)."""
    page, per_page = _page_args()
    ids = paginate(queries.pool_candidates(request.args, current_user), page, per_page)
    result = Page(items=queries.enterprises_by_id(list(ids.items)), total=ids.total, page=page, per_page=per_page)
    ref = ListReference(current_user)
    from crm.reference.models import RecommendingUnit

    units = db.session.scalars(
        select(RecommendingUnit).order_by(RecommendingUnit.sort_order, RecommendingUnit.code)
    ).all()
    return render_template(
        "enterprises/pool.html",
        page=result,
        ref=ref,
        units=units,
        priorities=Priority.choices(),
        args=request.args,
        waiting_days=queries.waiting_days,
        first_recommended_on=queries.first_recommended_on,
    )


# --- detail, timeline, notes -------------------------------------------------------------------------------


def _load_enterprise(enterprise_id: int) -> Enterprise:
    enterprise = get_enterprise_or_404(enterprise_id)
    return enterprise


@bp.get("/<int:enterprise_id>")
@permission_required()
def detail(enterprise_id: int):
    from markupsafe import Markup

    from crm.core.timeline import PAGE_ENTRIES, SECTION_TIMELINE_ROWS
    from crm.enterprises.timeline import note_entries_of
    from crm.pipeline.queries import days_in_stage
    from crm.reference.cache import user_names

    # What the page shows of the record itself in one query: its short lists joined (a few rows each); its
    # area, office, stage and officers are per-process reference snapshots (fewer joins for the database to plan).
    # With it, correlated EXISTS flags: whether another enterprise shares its name key, whether it has notes and
    # audited edits, and whether each section that names ``records`` has any (most enterprises have few kinds of
    # records: no query for the rest).
    flagged = records_columns()
    enterprise, namesake, has_notes, has_edits, *has_records = get_enterprise_row_or_404(
        enterprise_id,
        queries.has_namesake(),
        queries.has_notes(),
        queries.has_audit_entries(),
        *(column for _key, column in flagged),
        options=_detail_options(),
    )
    present = {key: bool(found) for (key, _column), found in zip(flagged, has_records, strict=True)}
    contexts = sections_for(enterprise, present)
    # The context processors (navigation, the user, the request ...) run once for all the partials, not per partial.
    shared: dict[str, Any] = {}
    current_app.update_template_context(shared)
    sections = [
        (
            section,
            Markup(
                current_app.jinja_env.get_template(section.template).render(shared, enterprise=enterprise, **context)
            ),
        )
        for section, context in contexts
    ]
    names = user_names()
    ref = ListReference(current_user)
    can_edit = has_permission(current_user, Permission.EDIT)
    # The newest notes once: the notes card shows a few, the timeline takes its note entries from them.
    notes = queries.recent_notes(enterprise.id, limit=SECTION_TIMELINE_ROWS) if has_notes else []
    known = timeline_answers(enterprise, contexts, wanted=SECTION_TIMELINE_ROWS)
    known["crm.enterprises.timeline:note_entries"] = note_entries_of(enterprise.id, notes)
    if not has_edits:
        known["crm.enterprises.timeline:edit_entries"] = []
    notes = notes[:NOTES_SHOWN]
    return render_template(
        "enterprises/detail.html",
        enterprise=enterprise,
        sections=sections,
        timeline=merged_timeline(enterprise.id, limit=PAGE_ENTRIES, known=known),
        notes=notes,
        note_authors={note.id: names.get(note.author_id) for note in notes},
        note_form=forms.NoteForm(),
        can_edit=can_edit,
        can_delete_any_note=can_edit and current_user.role == "admin",
        can_merge=has_permission(current_user, Permission.MERGE),
        days_in_stage=days_in_stage(enterprise),
        stage=ref.stage_by_code.get(enterprise.stage),
        area=ref.area_names.get(enterprise.area_id),
        office=ref.office_names.get(enterprise.office_id),
        commerce_officer=names.get(enterprise.commerce_officer_id),
        customs_officer=names.get(enterprise.customs_officer_id),
        coordinator=names.get(enterprise.coordinator_id),
        created_by=names.get(enterprise.created_by_id),
        updated_by=names.get(enterprise.updated_by_id),
        similar=queries.similar_names(enterprise, namesake=namesake),
    )


@cache
def _detail_options() -> tuple:
    """The enterprise page's loader options for the record, made once per process."""
    return (
        lazyload(Enterprise.stage_ref),
        joinedload(Enterprise.business_types),
        joinedload(Enterprise.categories),
        joinedload(Enterprise.contacts),
        joinedload(Enterprise.credit_history),
        joinedload(Enterprise.certification),
    )


@bp.get("/<int:enterprise_id>/timeline")
@permission_required()
def timeline(enterprise_id: int):
    enterprise = _load_enterprise(enterprise_id)
    before = queries.parse_before(request.args.get("before"))
    return render_template(
        "enterprises/timeline.html",
        enterprise=enterprise,
        timeline=merged_timeline(enterprise.id, before=before, limit=50),
    )


@bp.post("/<int:enterprise_id>/notes")
@permission_required(Permission.EDIT)
def add_note(enterprise_id: int):
    enterprise = _load_enterprise(enterprise_id)
    form = forms.NoteForm()
    if form.validate_on_submit():
        services.add_note(enterprise, form.body.data, by=current_user)
        db.session.commit()
        flash(_("Note added."), "success")
    else:
        flash(_("Write the note before adding it."), "danger")
    return redirect(url_for(".detail", enterprise_id=enterprise.id, _anchor="section-notes"))


@bp.post("/<int:enterprise_id>/notes/<int:note_id>/delete")
@permission_required(Permission.EDIT)
def delete_note(enterprise_id: int, note_id: int):
    enterprise = _load_enterprise(enterprise_id)
    note = db.session.get(EnterpriseNote, note_id)
    if note is None or note.enterprise_id != enterprise.id:
        abort(404)
    if not services.can_delete_note(note, current_user):
        abort(403)
    if EmptyForm().validate_on_submit():
        db.session.delete(note)
        db.session.commit()
        flash(_("Note deleted."), "success")
    return redirect(url_for(".detail", enterprise_id=enterprise.id, _anchor="section-notes"))


# --- create and edit ---------------------------------------------------------------------------------------


@bp.route("/new", methods=["GET", "POST"])
@permission_required(Permission.EDIT)
def create():
    """Create an enterprise. An exact credit-code match opens the existing record instead; a similar name
    shows a warning with links, and the user may continue."""
    form = forms.NewEnterpriseForm(user=current_user)
    similar: list[Enterprise] = []
    hidden_similar = 0
    if form.validate_on_submit():
        values = form.values()
        try:
            code, error = check_uscc(values["uscc"])
            existing = enterprise_with_uscc(code) if not error else None
            if existing is not None:
                raise services.DuplicateEnterpriseError(existing)
            _clean, errors, _warnings = services.check_values(services.new_values(values), user=current_user)
            if errors:
                raise services.InvalidEnterpriseError(errors)
            if not form.confirm_similar.data:
                matches = services.similar_enterprises(values["name"])
                similar = [e for e in matches if scope_of().contains(e)]
                hidden_similar = len(matches) - len(similar)
            if similar or hidden_similar:
                form.confirm_similar.data = "1"
            else:
                enterprise, warnings = services.create_enterprise(
                    values, by=current_user, credit_status=_credit(form.credit_status.data)
                )
                if form.unit_id.data:
                    services.save_recommendation(
                        enterprise,
                        None,
                        unit=db.session.get(_unit_model(), form.unit_id.data),
                        recommended_on=form.recommended_on.data,
                        reason=form.reason.data or "",
                        priority=Priority(form.recommendation_priority.data),
                        categories=[db.session.get(_category_model(), i) for i in form.recommendation_categories.data],
                        by=current_user,
                    )
                db.session.commit()
                flash(_("Enterprise added: it is now a candidate awaiting screening."), "success")
                for warning in warnings:
                    flash(warning, "warning")
                return redirect(url_for(".detail", enterprise_id=enterprise.id))
        except services.DuplicateEnterpriseError as exc:
            db.session.rollback()
            if scope_of().contains(exc.existing):
                flash(_("This unified social credit code is already in the CRM: here is the existing record."), "info")
                return redirect(url_for(".detail", enterprise_id=exc.existing.id))
            form.uscc.errors = [*form.uscc.errors, _("This code is already registered, outside your jurisdiction.")]
        except (services.InvalidEnterpriseError, services.InvalidRecommendationError) as exc:
            db.session.rollback()
            form.add_service_errors({("unit_id" if k == "unit" else k): v for k, v in exc.errors.items()})
    return render_template(
        "enterprises/form.html", form=form, enterprise=None, similar=similar, hidden_similar=hidden_similar
    )


def _unit_model():
    from crm.reference.models import RecommendingUnit

    return RecommendingUnit


def _category_model():
    from crm.reference.models import KeyCategory

    return KeyCategory


def _credit(value: str | None):
    from crm.enterprises.models import CreditStatus

    return CreditStatus(value) if value else CreditStatus.REGULAR


@bp.route("/<int:enterprise_id>/edit", methods=["GET", "POST"])
@permission_required(Permission.EDIT)
def edit(enterprise_id: int):
    enterprise = _load_enterprise(enterprise_id)
    form = forms.EnterpriseForm(enterprise=enterprise, user=current_user)
    if form.validate_on_submit():
        try:
            warnings = services.update_enterprise(enterprise, form.values(), by=current_user)
            db.session.commit()
            flash(_("Changes saved."), "success")
            for warning in warnings:
                flash(warning, "warning")
            return redirect(url_for(".detail", enterprise_id=enterprise.id))
        except services.DuplicateEnterpriseError as exc:
            db.session.rollback()
            message = _("This code belongs to another enterprise already in the CRM.")
            if scope_of().contains(exc.existing):
                message = _("This code belongs to %(name)s, already in the CRM.", name=exc.existing.name)
            form.uscc.errors = [*form.uscc.errors, message]
        except services.InvalidEnterpriseError as exc:
            db.session.rollback()
            form.add_service_errors(exc.errors)
        enterprise = _load_enterprise(enterprise_id)
    return render_template("enterprises/form.html", form=form, enterprise=enterprise, similar=[], hidden_similar=0)


@bp.route("/<int:enterprise_id>/credit", methods=["GET", "POST"])
@permission_required(Permission.EDIT)
def record_credit(enterprise_id: int):
    enterprise = _load_enterprise(enterprise_id)
    form = forms.CreditStatusForm()
    if form.validate_on_submit():
        from crm.enterprises.models import CreditStatus

        services.record_credit_status(
            enterprise,
            CreditStatus(form.status.data),
            effective_on=form.effective_on.data,
            source=form.source.data or "",
            note=form.note.data or "",
            by=current_user,
        )
        db.session.commit()
        flash(_("Credit status recorded."), "success")
        return redirect(url_for(".detail", enterprise_id=enterprise.id, _anchor="section-credit"))
    return render_template(
        "enterprises/simple_form.html",
        form=form,
        enterprise=enterprise,
        title=_("Record a credit status"),
        anchor="section-credit",
    )


# --- contacts ----------------------------------------------------------------------------------------------


def _contact_or_404(enterprise: Enterprise, contact_id: int) -> Contact:
    contact = db.session.get(Contact, contact_id)
    if contact is None or contact.enterprise_id != enterprise.id:
        abort(404)
    return contact


@bp.route("/<int:enterprise_id>/contacts/new", methods=["GET", "POST"])
@bp.route("/<int:enterprise_id>/contacts/<int:contact_id>/edit", methods=["GET", "POST"])
@permission_required(Permission.EDIT)
def save_contact(enterprise_id: int, contact_id: int | None = None):
    enterprise = _load_enterprise(enterprise_id)
    contact = _contact_or_404(enterprise, contact_id) if contact_id else None
    form = forms.ContactForm(contact=contact)
    if form.validate_on_submit():
        services.save_contact(enterprise, contact, form.values())
        db.session.commit()
        flash(_("Contact saved."), "success")
        return redirect(url_for(".detail", enterprise_id=enterprise.id, _anchor="section-contacts"))
    return render_template(
        "enterprises/simple_form.html",
        form=form,
        enterprise=enterprise,
        title=_("Edit the contact") if contact else _("Add a contact"),
        anchor="section-contacts",
    )


@bp.post("/<int:enterprise_id>/contacts/<int:contact_id>/delete")
@permission_required(Permission.EDIT)
def delete_contact(enterprise_id: int, contact_id: int):
    enterprise = _load_enterprise(enterprise_id)
    contact = _contact_or_404(enterprise, contact_id)
    if EmptyForm().validate_on_submit():
        services.delete_contact(contact)
        db.session.commit()
        flash(_("Contact removed."), "success")
    return redirect(url_for(".detail", enterprise_id=enterprise.id, _anchor="section-contacts"))


@bp.post("/<int:enterprise_id>/contacts/<int:contact_id>/primary")
@permission_required(Permission.EDIT)
def make_primary(enterprise_id: int, contact_id: int):
    enterprise = _load_enterprise(enterprise_id)
    contact = _contact_or_404(enterprise, contact_id)
    if EmptyForm().validate_on_submit():
        services.save_contact(enterprise, contact, {"is_primary": True})
        db.session.commit()
        flash(_("%(name)s is now the primary contact.", name=contact.name), "success")
    return redirect(url_for(".detail", enterprise_id=enterprise.id, _anchor="section-contacts"))


# --- recommendations ---------------------------------------------------------------------------------------


def _recommendation_or_404(enterprise: Enterprise, recommendation_id: int) -> Recommendation:
    recommendation = db.session.get(Recommendation, recommendation_id)
    if recommendation is None or recommendation.enterprise_id != enterprise.id:
        abort(404)
    return recommendation


@bp.route("/<int:enterprise_id>/recommendations/new", methods=["GET", "POST"])
@bp.route("/<int:enterprise_id>/recommendations/<int:recommendation_id>/edit", methods=["GET", "POST"])
@permission_required(Permission.EDIT)
def save_recommendation(enterprise_id: int, recommendation_id: int | None = None):
    enterprise = _load_enterprise(enterprise_id)
    recommendation = _recommendation_or_404(enterprise, recommendation_id) if recommendation_id else None
    form = forms.RecommendationForm(recommendation=recommendation)
    if form.validate_on_submit():
        try:
            services.save_recommendation(
                enterprise,
                recommendation,
                unit=db.session.get(_unit_model(), form.unit_id.data),
                recommended_on=form.recommended_on.data,
                reason=form.reason.data or "",
                priority=Priority(form.recommendation_priority.data),
                categories=[db.session.get(_category_model(), i) for i in form.recommendation_categories.data],
                by=current_user,
            )
            db.session.commit()
            flash(_("Recommendation saved."), "success")
            return redirect(url_for(".detail", enterprise_id=enterprise.id, _anchor="section-recommendations"))
        except services.InvalidRecommendationError as exc:
            db.session.rollback()
            enterprise = _load_enterprise(enterprise_id)
            for field, messages in exc.errors.items():
                target = getattr(form, "unit_id" if field == "unit" else field)
                target.errors = [*target.errors, *messages]
    return render_template(
        "enterprises/simple_form.html",
        form=form,
        enterprise=enterprise,
        title=_("Edit the recommendation") if recommendation else _("Add a recommendation"),
        anchor="section-recommendations",
    )


@bp.post("/<int:enterprise_id>/recommendations/<int:recommendation_id>/delete")
@permission_required(Permission.EDIT)
def delete_recommendation(enterprise_id: int, recommendation_id: int):
    enterprise = _load_enterprise(enterprise_id)
    recommendation = _recommendation_or_404(enterprise, recommendation_id)
    if EmptyForm().validate_on_submit():
        services.delete_recommendation(recommendation)
        db.session.commit()
        flash(_("Recommendation removed."), "success")
    return redirect(url_for(".detail", enterprise_id=enterprise.id, _anchor="section-recommendations"))


# --- saved views -------------------------------------------------------------------------------------------


@bp.post("/views")
@permission_required()
def save_view():
    form = forms.SavedViewForm()
    query = ListQuery.from_args(dict(parse_qsl(form.query.data or "")))
    if form.validate_on_submit():
        name = form.name.data.strip()
        view = db.session.scalars(
            select(SavedView).where(SavedView.owner_id == current_user.id, SavedView.name == name)
        ).first()
        if view is None:
            view = SavedView(owner_id=current_user.id, name=name)
            db.session.add(view)
        view.query = urlencode(query.as_args())
        view.is_shared = bool(form.is_shared.data)
        db.session.commit()
        flash(_("View “%(name)s” saved.", name=name), "success")
        return redirect(url_for(".show_view", view_id=view.id))
    flash(_("Give the view a name."), "danger")
    return redirect(url_for(".list_enterprises", **query.as_args()))


def _view_or_404(view_id: int, *, own: bool = False) -> SavedView:
    view = db.session.get(SavedView, view_id)
    if view is None or (view.owner_id != current_user.id and (own or not view.is_shared)):
        abort(404)
    return view


@bp.get("/views/<int:view_id>")
@permission_required()
def show_view(view_id: int):
    view = _view_or_404(view_id)
    return redirect(url_for(".list_enterprises", **dict(parse_qsl(view.query)), view=view.id))


@bp.post("/views/<int:view_id>/delete")
@permission_required()
def delete_view(view_id: int):
    view = _view_or_404(view_id, own=True)
    if EmptyForm().validate_on_submit():
        db.session.delete(view)
        db.session.commit()
        flash(_("View “%(name)s” deleted.", name=view.name), "success")
    return redirect(url_for(".list_enterprises"))


# --- bulk actions ------------------------------------------------------------------------------------------


@bp.post("/bulk")
@permission_required()
def bulk():
    action = BULK_ACTIONS_BY_KEY.get(request.form.get("action", ""))
    back = url_for(".list_enterprises", **dict(parse_qsl(request.form.get("query", ""))))
    if action is None:
        flash(_("Choose an action."), "danger")
        return redirect(back)
    if not has_permission(current_user, action.permission):
        abort(403)
    if not EmptyForm().validate_on_submit():
        abort(400)
    if request.form.get("all_matching"):
        query = ListQuery.from_args(dict(parse_qsl(request.form.get("query", ""))))
        ids_stmt = query.ids(ListReference(current_user), current_user)
    else:
        try:
            chosen = sorted({int(v) for v in request.form.getlist("ids")})
        except ValueError:
            abort(400)
        ids_stmt = select(Enterprise.id).where(scope_of().enterprise_filter(), Enterprise.id.in_(chosen))
    limit = action.max_records
    ids = list(db.session.scalars(ids_stmt.limit(limit + 1) if limit else ids_stmt))
    if not ids:
        flash(_("Select at least one enterprise."), "warning")
        return redirect(back)
    if limit and len(ids) > limit:
        flash(_("This action takes at most %(n)s enterprises at a time.", n=limit), "danger")
        return redirect(back)
    form = action.build_form(request.form)
    if form is not None and not form.validate():
        flash(_("Complete the action's fields."), "danger")
        return redirect(back)
    outcome = action_run(action)(BulkRequest(ids=ids, form=form, user=current_user))
    if outcome.response is not None:
        return outcome.response
    db.session.commit()
    flash(outcome.message, outcome.category)
    return redirect(back)


def action_run(action: Any):
    from crm.enterprises.registry import resolve

    return resolve(action.run)


# --- exports -----------------------------------------------------------------------------------------------


def export_response(fmt: str, *, query: ListQuery | None = None, ids: list[int] | None = None) -> Response:
    """Stream the export of the list (or of selected ids) within the caller's scope; the event is audited."""
    if fmt not in ("xlsx", "csv"):
        abort(404)
    query = query or ListQuery()
    ref = ListReference(current_user)
    rows = exports.count_export(query, ref, current_user, ids=ids)
    exports.record_export(fmt, query, rows, selection=ids is not None)
    db.session.commit()
    stmt = exports.export_select(query, ref, current_user, ids=ids)
    chunks = exports.xlsx_chunks(stmt) if fmt == "xlsx" else exports.csv_chunks(stmt)
    mimetype = (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        if fmt == "xlsx"
        else "text/csv; charset=utf-8"
    )
    response = Response(stream_with_context(chunks), mimetype=mimetype)
    response.headers["Content-Disposition"] = f"attachment; filename={exports.export_filename(fmt)}"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/export.<fmt>")
@permission_required(Permission.EXPORT)
def export(fmt: str):
    return export_response(fmt, query=ListQuery.from_args(request.args))


def background_export_rows() -> int:
    return int(current_app.config.get("ENTERPRISE_EXPORT_BACKGROUND_ROWS", 5000))


@bp.post("/exports")
@permission_required(Permission.EXPORT)
def start_export():
    """Small exports download at once; large ones become a background export (``crm.exports``), whose page
    shows the progress and then the download."""
    from crm.exports import services as export_services

    if not EmptyForm().validate_on_submit():
        abort(400)
    fmt = request.form.get("format", "xlsx")
    if fmt not in ("xlsx", "csv"):
        abort(400)
    query = ListQuery.from_args(dict(parse_qsl(request.form.get("query", ""))))
    rows = exports.count_export(query, ListReference(current_user), current_user)
    if rows <= background_export_rows():
        return redirect(url_for(".export", fmt=fmt, **query.as_args()))
    try:
        job = export_services.start_export(current_user, "enterprises", fmt, query.as_args())
    except export_services.ExportRequestError as exc:
        db.session.rollback()
        flash(str(exc), "danger")
        return redirect(url_for(".list_enterprises", **query.as_args()))
    db.session.commit()
    return redirect(url_for("exports.progress", export_job_id=job.id))


# --- imports -----------------------------------------------------------------------------------------------


def _import_or_404(import_id: int) -> EnterpriseImport:
    batch = db.session.get(EnterpriseImport, import_id)
    if batch is None:
        abort(404)
    if batch.created_by_id != current_user.id and not scope_of().unrestricted:
        abort(404)
    return batch


@bp.route("/import", methods=["GET", "POST"])
@permission_required(Permission.IMPORT)
def import_upload():
    form = forms.ImportUploadForm()
    if form.validate_on_submit():
        upload = form.file.data
        filename = (upload.filename or "upload").rsplit("/", 1)[-1][:255]
        try:
            kind = check_spreadsheet(upload.stream, filename)
            table = imports.read_batch_table(EnterpriseImport(kind=kind), upload.stream)
        except SpreadsheetError as exc:
            form.file.errors = [*form.file.errors, str(exc)]
        else:
            batch = imports.start_import(upload.stream, filename=filename, kind=kind, table=table, user=current_user)
            db.session.commit()
            return redirect(url_for(".import_mapping", import_id=batch.id))
    return render_template("enterprises/import_upload.html", form=form, fields=imports.IMPORT_FIELDS)


@bp.get("/imports")
@permission_required()
def import_history():
    if not (has_permission(current_user, Permission.IMPORT) or scope_of().unrestricted):
        abort(403)
    page, per_page = _page_args()
    return render_template(
        "enterprises/import_history.html", page=paginate(queries.imports_visible_to(current_user), page, per_page)
    )


def _mapping_form(batch: EnterpriseImport, samples: list[list[Any]]):
    class MappingForm(forms.FlaskForm):
        pass

    choices = [("", _("— not imported —"))] + [(f.key, str(f.label)) for f in imports.IMPORT_FIELDS]
    for index, _heading in enumerate(batch.headers or []):
        setattr(MappingForm, f"col_{index}", SelectField(choices=choices, default=""))
    form = MappingForm()
    if not form.is_submitted():
        for index in range(len(batch.headers or [])):
            getattr(form, f"col_{index}").data = (batch.mapping or {}).get(str(index), "")
    return form


def _samples(batch: EnterpriseImport, limit: int = 3) -> list[list[Any]]:
    try:
        with open(batch.file.path, "rb") as fh:
            table = imports.read_batch_table(batch, fh)
    except (SpreadsheetError, OSError):
        return []
    return [cells for _number, cells in table.rows[:limit]]


@bp.route("/imports/<int:import_id>/mapping", methods=["GET", "POST"])
@permission_required(Permission.IMPORT)
def import_mapping(import_id: int):
    batch = _import_or_404(import_id)
    if batch.status not in (ImportStatus.UPLOADED, ImportStatus.ANALYSED, ImportStatus.FAILED):
        return redirect(url_for(".import_detail", import_id=batch.id))
    samples = _samples(batch)
    form = _mapping_form(batch, samples)
    problems: list[str] = []
    if form.validate_on_submit():
        mapping = {
            str(i): getattr(form, f"col_{i}").data
            for i in range(len(batch.headers or []))
            if getattr(form, f"col_{i}").data
        }
        problems = imports.mapping_problems(mapping)
        if not problems:
            batch.mapping = mapping
            batch.message = ""
            if batch.total_rows > imports.BACKGROUND_ROWS:
                batch.status = ImportStatus.ANALYSING
                batch.processed_rows = 0
                enqueue("enterprises.analyse_import", batch.id)
                db.session.commit()
                return redirect(url_for(".import_detail", import_id=batch.id))
            try:
                with open(batch.file.path, "rb") as fh:
                    table = imports.read_batch_table(batch, fh)
                analysis = imports.analyse(table, mapping, user=current_user)
            except SpreadsheetError as exc:
                problems = [str(exc)]
            else:
                batch.headers = table.headers
                imports.store_analysis(batch, analysis)
                imports.store_error_report(batch, analysis, current_user)
                db.session.commit()
                return redirect(url_for(".import_detail", import_id=batch.id))
    rows = [
        (index, heading, [s[index] if index < len(s) else None for s in samples])
        for index, heading in enumerate(batch.headers or [])
    ]
    return render_template("enterprises/import_mapping.html", batch=batch, form=form, rows=rows, problems=problems)


@bp.get("/imports/<int:import_id>")
@permission_required()
def import_detail(import_id: int):
    batch = _import_or_404(import_id)
    if request.args.get("format") == "json":
        return jsonify(
            status=batch.status.value,
            label=batch.status.label,
            percent=batch.progress_percent,
            running=batch.status.is_running,
        )
    label = request.args.get("label", "")
    rows_page = None
    if batch.status in (ImportStatus.ANALYSED, ImportStatus.COMMITTED, ImportStatus.UNDONE):
        page, per_page = _page_args()
        stmt = select(EnterpriseImportRow).where(EnterpriseImportRow.import_id == batch.id)
        if label in {r.value for r in RowLabel}:
            stmt = stmt.where(EnterpriseImportRow.label == RowLabel(label))
        rows_page = paginate(stmt.order_by(EnterpriseImportRow.row_number, EnterpriseImportRow.id), page, per_page)
    options = forms.ImportOptionsForm()
    if not options.is_submitted():
        options.existing_action.data = batch.existing_action.value
        options.valid_rows_only.data = batch.valid_rows_only
    blockers = imports.undo_blockers(batch) if batch.status == ImportStatus.COMMITTED else []
    return render_template(
        "enterprises/import_detail.html",
        batch=batch,
        rows_page=rows_page,
        label=label,
        labels=list(RowLabel),
        options=options,
        undo_form=EmptyForm(),
        undo_blockers=blockers,
        field_labels={f.key: f.label for f in imports.IMPORT_FIELDS},
        can_import=has_permission(current_user, Permission.IMPORT),
    )


@bp.post("/imports/<int:import_id>/commit")
@permission_required(Permission.IMPORT)
def import_commit(import_id: int):
    batch = _import_or_404(import_id)
    form = forms.ImportOptionsForm()
    if batch.status != ImportStatus.ANALYSED or not form.validate_on_submit():
        flash(_("This import cannot be committed now."), "danger")
        return redirect(url_for(".import_detail", import_id=batch.id))
    batch.existing_action = ExistingAction(form.existing_action.data)
    batch.valid_rows_only = bool(form.valid_rows_only.data)
    rejected = batch.invalid_rows + batch.duplicate_rows
    if rejected and not batch.valid_rows_only:
        batch.message = _(
            "Nothing was imported: %(n)s rows are invalid or duplicated. Correct them, or choose to import only "
            "the valid rows.",
            n=rejected,
        )
        db.session.commit()  # the page shows the message beside the choices
        return redirect(url_for(".import_detail", import_id=batch.id))
    if batch.total_rows > imports.BACKGROUND_ROWS:
        batch.status = ImportStatus.COMMITTING
        batch.processed_rows = 0
        enqueue("enterprises.commit_import", batch.id)
        db.session.commit()
        return redirect(url_for(".import_detail", import_id=batch.id))
    try:
        imports.commit(batch, imports.stored_analysis(batch), user=current_user)
    except imports.ImportRefusedError as exc:
        db.session.rollback()
        flash(str(exc), "danger")
        return redirect(url_for(".import_detail", import_id=import_id))
    db.session.commit()
    flash(
        _(
            "Import complete: %(created)s enterprises added, %(updated)s updated, %(skipped)s skipped.",
            created=batch.created_count,
            updated=batch.updated_count,
            skipped=batch.skipped_count,
        ),
        "success",
    )
    return redirect(url_for(".import_detail", import_id=batch.id))


@bp.post("/imports/<int:import_id>/undo")
@permission_required(Permission.IMPORT)
def import_undo(import_id: int):
    batch = _import_or_404(import_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        removed = imports.undo(batch, by=current_user)
    except imports.ImportRefusedError as exc:
        db.session.rollback()
        flash(_("The import cannot be undone: %(reasons)s", reasons=str(exc)), "danger")
        return redirect(url_for(".import_detail", import_id=import_id))
    db.session.commit()
    flash(_("Import undone: %(n)s enterprises removed.", n=removed), "success")
    return redirect(url_for(".import_detail", import_id=import_id))


@bp.get("/imports/<int:import_id>/errors")
@permission_required()
def import_errors(import_id: int):
    batch = _import_or_404(import_id)
    if batch.error_report is None:
        abort(404)
    return send_stored(batch.error_report)


# --- merge -------------------------------------------------------------------------------------------------


@bp.route("/<int:enterprise_id>/merge", methods=["GET", "POST"])
@permission_required(Permission.MERGE)
def merge(enterprise_id: int):
    """Choose the duplicate to merge into this record, then the surviving value of each differing field."""
    survivor = _load_enterprise(enterprise_id)
    other_ref = (request.values.get("other") or "").strip()
    absorbed = None
    candidates = [
        e for e in services.similar_enterprises(survivor.name, exclude_id=survivor.id) if scope_of().contains(e)
    ]
    if other_ref:
        absorbed = _find_other(other_ref, survivor)
        if absorbed is None:
            flash(_("No other enterprise in your jurisdiction has that id or credit code."), "warning")
    if absorbed is None:
        return render_template(
            "enterprises/merge_pick.html", enterprise=survivor, candidates=candidates, other=other_ref
        )
    fields = differing_fields(survivor, absorbed)
    form = forms.MergeChoiceForm()
    if form.validate_on_submit():
        choices = {}
        for merge_field in fields:
            key = merge_field.attributes[0]
            value = request.form.get(f"choice_{key}", KEEP)
            choices[key] = value if value in (KEEP, TAKE, BOTH) else KEEP
        try:
            merge_enterprises(survivor, absorbed, choices, by=current_user)
        except MergeRefusedError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        else:
            db.session.commit()
            flash(_("The records were merged; every related record now belongs to this enterprise."), "success")
            return redirect(url_for(".detail", enterprise_id=enterprise_id))
    related = _related_counts(absorbed.id)
    return render_template(
        "enterprises/merge.html",
        enterprise=survivor,
        other=absorbed,
        fields=fields,
        describe=describe_value,
        form=form,
        related=related,
    )


def _find_other(reference: str, survivor: Enterprise) -> Enterprise | None:
    from crm.enterprises.identifiers import normalise_uscc

    stmt = select(Enterprise).where(scope_of().enterprise_filter(), Enterprise.id != survivor.id)
    if reference.isdigit() and len(reference) < 12:
        stmt = stmt.where(Enterprise.id == int(reference))
    else:
        stmt = stmt.where(Enterprise.uscc == normalise_uscc(reference))
    return db.session.scalars(stmt).first()


def _related_counts(enterprise_id: int) -> list[tuple[Any, int]]:
    from crm.enterprises.related import ENTERPRISE_RELATED_TABLES

    counts = []
    for related in ENTERPRISE_RELATED_TABLES:
        table = db.metadata.tables[related.table]
        count = db.session.scalar(
            select(func.count()).select_from(table).where(table.c[related.column] == enterprise_id)
        )
        if count:
            counts.append((related.label, count))
    return counts
