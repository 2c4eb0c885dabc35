"""What the generic security tests (permission matrix, XSS sweep, Schemathesis world, audit coverage) cannot
infer from the code, declared in one place. A new feature adds a line here only when its model or route needs
something unusual; ordinary models and routes are covered with no declaration at all.

- FACTORIES: table -> ``fn(builder, side)`` returning the row, for a model that needs real setup (a file on
  disk, a hashed token). ``builder.row("enterprises", side)`` gives the parent rows; ``builder.text(n)`` a
  payload text that fits n characters.
- COLUMN_VALUES: "table.column" -> a value or ``fn(builder, side)``, for a column whose text the application
  interprets (a code looked up in a dict, a JSON shape).
- REUSE_EXISTING: tables whose seeded rows the rules rely on; the world reuses one (texts overwritten).
- EXTRA_ROWS: name -> ``fn(builder, side)`` for a second row of a table that a route reaches only through another
  record (a file that is an event's material or an assessment's attachment); PARAMS find it with ``extra_row``.
- SKIP_TABLES: tables the world must not fill, with the reason.
- PARAMS: (endpoint, argument) or argument -> a value or ``fn(world, role, side)`` for a URL argument the
  world cannot resolve by name (``<thing>_id`` finds the table ``things`` by itself). Return ``Scoped(value,
  enterprise_id)`` when the argument designates a record of that enterprise.
- STATUS: endpoint -> ``fn(role, side, method)`` returning the statuses a call may answer when the generic
  rule does not fit (None: use the rule).
- SKIP_ENDPOINTS: endpoints the matrix does not call, with the reason (static files only).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crm.core.audit import AuditAction


@dataclass(frozen=True)
class Scoped:
    """A URL argument value that designates a record of an enterprise (404 outside the caller's scope)."""

    value: Any
    enterprise_id: int | None


# --- the world -------------------------------------------------------------------------------------------


def _admin(builder, side):
    builder._users()
    return builder.user_rows["admin"]


def _admin_token(builder, side):
    from crm.auth.models import ApiToken
    from crm.extensions import db

    builder._users()
    return db.session.get(ApiToken, builder.world.token_ids["admin"])


def _pdf(builder, side, *, owner_type: str, owner_id: int, enterprise_id: int | None):
    from crm.core.files import PDF, store_bytes_from
    from tests.security.world import pdf_bytes

    return store_bytes_from(
        pdf_bytes(),
        filename=builder.text(200) + ".pdf",
        kind=PDF,
        owner_type=owner_type,
        owner_id=owner_id,
        enterprise_id=enterprise_id,
        uploaded_by=_admin(builder, side),
    )


def _stored_file(builder, side):
    enterprise = builder.row("enterprises", side)
    return _pdf(builder, side, owner_type="security-world", owner_id=enterprise.id, enterprise_id=enterprise.id)


FACTORIES: dict[str, Any] = {
    "users": _admin,
    "api_tokens": _admin_token,
    "stored_files": _stored_file,
}


def _uscc(builder, side):
    from crm.demo.names import uscc_for

    return uscc_for(700_000 + next(builder.counter), "350102")


def _link_token_hash(builder, side):
    """A real registration link: the world keeps the plain token so the matrix can open the link pages."""
    from crm.events.tokens import new_token

    plain, hashed = new_token()
    builder.world.plain_secrets[("event_invitations", side)] = plain
    return hashed


def _calendar_feed_token_hash(builder, side):
    """A real calendar subscription: the world keeps the plain secret so the matrix can open the feed."""
    import secrets

    from crm.auth.models import hash_token

    plain = secrets.token_urlsafe(32)
    builder.world.plain_secrets[("calendar_feeds", side)] = plain
    return hash_token(plain)


def _event_status(value: str):
    from crm.events.models import EventStatus

    return EventStatus(value)


COLUMN_VALUES: dict[str, Any] = {
    # Identifiers with a checked format (the API documents it): valid values, not payloads.
    "enterprises.uscc": _uscc,
    "enterprises.customs_code": lambda builder, side: f"3501{next(builder.counter):06d}",
    # The world's enterprise is entered by hand: its import batch would be built while the enterprise is, and the
    # batch's uploaded file belongs to that very enterprise (a cycle). The batch is still built, through the
    # contacts and recommendations it added, and has its own pages.
    "enterprises.import_batch_id": None,
    # A certified enterprise: its certificate page (and the certification follow-ups) open for it.
    "enterprises.stage": "certified",
    # The diff of an audit row is {field: [old, new]}: the audit pages render both sides.
    "audit_log.action": AuditAction.UPDATE,
    "audit_log.changes": lambda builder, side: {"name": [builder.text(), builder.text()]},
    "queued_jobs.args": lambda builder, side: [],
    "event_invitations.token_hash": _link_token_hash,
    # A link that opens: a published event, an invitation not revoked (a filled revoked_at revokes it).
    "events.status": lambda builder, side: _event_status("published"),
    "event_invitations.revoked_at": None,
    # A calendar feed URL that opens: its secret's hash, not revoked.
    "calendar_feeds.token_hash": _calendar_feed_token_hash,
    "calendar_feeds.revoked_at": None,
    # Codes the application looks up: the readiness badge's outcome, a reminder rule's watcher, a scheduled job's
    # name (its history page), a standard version's code (checked against a pattern, used in URLs), the financial
    # ratio an item is computed from.
    "enterprises.readiness_outcome": "pass",
    "reminder_rules.watch": "task_due",
    "job_runs.job_name": "reminders.sweep",
    "standard_versions.code": "security-world-2026",
    "standard_items.computed_from": "solvency",
    # Exports and report subscriptions name an exporter of crm.exports.registry, one of its formats, and a
    # schedule the pages render (a weekday 0-6, a day of the month, an hour).
    "export_jobs.exporter": "enterprises",
    "export_jobs.format": "xlsx",
    "report_subscriptions.exporter": "enterprises",
    "report_subscriptions.format": "xlsx",
    "report_subscriptions.weekday": 0,
    "report_subscriptions.day_of_month": 1,
    "report_subscriptions.hour": 8,
}

REUSE_EXISTING: frozenset[str] = frozenset({"stages"})


def _event_material(builder, side):
    from crm.events.services import MATERIAL_OWNER

    event = builder.row("events", side)
    return _pdf(builder, side, owner_type=MATERIAL_OWNER, owner_id=event.id, enterprise_id=None)


def _assessment_attachment(builder, side):
    from crm.standards.services import ATTACHMENT_OWNER

    result = builder.row("assessment_results", side)
    enterprise_id = builder.row("assessments", side).enterprise_id
    return _pdf(builder, side, owner_type=ATTACHMENT_OWNER, owner_id=result.id, enterprise_id=enterprise_id)


def _second_assessment(builder, side):
    """Another assessment of the same enterprise: the comparison page compares it with the world's one."""
    from crm.extensions import db

    mapper = builder.models["assessments"]
    assessment = mapper.class_(**builder.values(mapper, mapper.local_table, side))
    db.session.add(assessment)
    return assessment


def _own_notification(role: str):
    """A notification of the world's user of a role: each user opens and marks only their own."""

    def make(builder, side):
        from crm.extensions import db

        builder._users()
        mapper = builder.models["notifications"]
        values = builder.values(mapper, mapper.local_table, side)
        values["user_id"] = builder.user_rows[role].id
        notification = mapper.class_(**values)
        db.session.add(notification)
        return notification

    return make


def _own_row(table: str, owner: str, role: str, files: dict[str, str] | None = None):
    """A row of ``table`` owned by the world's user of a role (``owner``: the owning column's attribute). ``files``
    maps file columns to the owner type of a fresh file that belongs to no enterprise (an import's spreadsheet, an
    export), as the application stores them."""

    def make(builder, side):
        from crm.extensions import db

        builder._users()
        mapper = builder.models[table]
        values = builder.values(mapper, mapper.local_table, side)
        values[owner] = builder.user_rows[role].id
        for column in files or {}:
            values[column] = None
        obj = mapper.class_(**values)
        db.session.add(obj)
        db.session.flush()
        for column, owner_type in (files or {}).items():
            stored = _pdf(builder, side, owner_type=owner_type, owner_id=obj.id, enterprise_id=None)
            db.session.flush()
            setattr(obj, column, stored.id)
        return obj

    return make


def _own_export(role: str):
    """A finished export of the world's user of a role, with its file: only its owner opens or downloads it."""

    def make(builder, side):
        from datetime import timedelta

        from crm.core.models import utcnow
        from crm.exports.models import ExportJob, ExportJobStatus
        from crm.extensions import db

        builder._users()
        user = builder.user_rows[role]
        job = ExportJob(
            user_id=user.id,
            exporter="enterprises",
            format="xlsx",
            params={"q": builder.text(40)},
            status=ExportJobStatus.DONE,
            row_count=1,
            error=builder.text(),
            expires_at=utcnow() + timedelta(days=7),
        )
        db.session.add(job)
        db.session.flush()
        job.file_id = _pdf(builder, side, owner_type="export_job", owner_id=job.id, enterprise_id=None).id
        return job

    return make


def _visit_attachment(builder, side):
    from crm.visits.services import PHOTO_OWNER

    visit = builder.row("visits", side)
    return _pdf(builder, side, owner_type=PHOTO_OWNER, owner_id=visit.id, enterprise_id=visit.enterprise_id)


#: Roles that may import spreadsheets (the others see only imports of others, if unrestricted).
IMPORTERS = ("admin", "bureau", "customs")
EXPORTERS = ("admin", "manager", "bureau", "customs")
EDITORS = ("admin", "bureau", "customs")
ALL_ROLES = ("admin", "manager", "bureau", "customs", "viewer")


def _own_subscription(role: str):
    """A report subscription of the world's user of a role: each user manages their own."""

    def make(builder, side):
        from crm.core.models import utcnow
        from crm.exports.models import Frequency, ReportSubscription
        from crm.extensions import db

        builder._users()
        subscription = ReportSubscription(
            user_id=builder.user_rows[role].id,
            title=builder.text(200),
            exporter="enterprises",
            format="xlsx",
            params={"q": builder.text(40)},
            frequency=Frequency.WEEKLY,
            weekday=0,
            hour=8,
            next_run_at=utcnow(),
        )
        db.session.add(subscription)
        return subscription

    return make


EXTRA_ROWS: dict[str, Any] = {
    "event_material": _event_material,
    "assessment_attachment": _assessment_attachment,
    "second_assessment": _second_assessment,
    **{f"notification:{role}": _own_notification(role) for role in ("admin", "manager", "bureau", "customs", "viewer")},
    "visit_attachment": _visit_attachment,
    # Saved views and imports are their owner's: each user opens their own.
    **{f"saved_view:{role}": _own_row("saved_views", "owner_id", role) for role in ALL_ROLES},
    **{
        f"import:{role}": _own_row(
            "enterprise_imports",
            "created_by_id",
            role,
            {"file_id": "enterprise_import", "error_report_id": "enterprise_import_errors"},
        )
        for role in IMPORTERS
    },
    # A note can be deleted by its author (or an administrator): each editor deletes their own.
    **{f"note:{role}": _own_row("enterprise_notes", "author_id", role) for role in EDITORS},
    **{f"export_job:{role}": _own_export(role) for role in ("admin", "manager", "bureau", "customs", "viewer")},
    **{
        f"report_subscription:{role}": _own_subscription(role)
        for role in ("admin", "manager", "bureau", "customs", "viewer")
    },
}

#: Text columns the application writes itself (hashes, keys, codes): no user text reaches them, so the world
#: leaves them without a payload and the XSS sweep does not expect one.
SYSTEM_TEXT_COLUMNS: dict[str, str] = {
    "audit_log.action": "an AuditAction code",
    "stages.code": "fixed stage codes (REUSE_EXISTING)",
    "users.password_hash": "a hash",
    "api_tokens.token_hash": "a hash",
    "api_tokens.prefix": "generated with the token",
    "stored_files.owner_type": "a code chosen by the feature",
    "stored_files.content_type": "derived from the sniffed kind",
    "stored_files.sha256": "a hash",
    "stored_files.storage_key": "random, never from user input",
    "export_jobs.exporter": "an exporter key (COLUMN_VALUES)",
    "export_jobs.format": "a format code",
    "report_subscriptions.exporter": "an exporter key (COLUMN_VALUES)",
    "report_subscriptions.format": "a format code",
}

SKIP_TABLES: dict[str, str] = {
    "alembic_version": "not a model",
}

# --- URL arguments ---------------------------------------------------------------------------------------


def _reference_row(world, role, side):
    return world.key("areas", side)


def _own_token(world, role, side):
    return world.token_ids.get(role, world.token_ids["admin"])


def _enterprise_record_id(world, role, side):
    return str(world.key("enterprises", side))


def extra_row(name: str):
    """The world's row of ``EXTRA_ROWS[name]`` on the call's side."""
    return lambda world, role, side: world.extra_keys[(name, side or "in")]


def column_of(table: str, column: str):
    """A column's value in the world's row of a table on the call's side (a number, a code)."""

    def value(world, role, side):
        from sqlalchemy import select

        from crm.extensions import db

        target = db.metadata.tables[table]
        key = world.key(table, side)
        return db.session.execute(select(target.c[column]).where(*(c == key for c in target.primary_key))).scalar_one()

    return value


def own_row(kind: str):
    """The world's row of ``EXTRA_ROWS[f"{kind}:{role}"]`` owned by the caller's role on the call's side (the
    administrator's for a role that has none)."""

    def value(world, role, side):
        side = side or "in"
        return world.extra_keys.get((f"{kind}:{role}", side), world.extra_keys[(f"{kind}:admin", side)])

    return value


def _feed_secret(world, role, side):
    # The secret is the only authority on the feed: the feed shows its owner's calendar, whoever asks.
    return world.plain_secrets[("calendar_feeds", None)]


def _stage_code(world, role, side):
    return world.key("stages", side)


def _board_column(world, role, side):
    """The board column holding the world's enterprise on the call's side."""
    from crm.pipeline.queries import board_layout, column_for_stage

    return column_for_stage(board_layout(), column_of("enterprises", "stage")(world, role, side)).key


def _own_notification_id(world, role, side):
    return world.extra_keys.get((f"notification:{role}", side or "in"), world.extra_keys[("notification:admin", "in")])


def _link_token(world, role, side):
    # The token is the only authority on the public link pages: no scope applies to them.
    return world.plain_secrets[("event_invitations", side or "in")]


PARAMS: dict[Any, Any] = {
    ("reference.list_rows", "slug"): "areas",
    ("reference.create_row", "slug"): "areas",
    ("reference.edit_row", "slug"): "areas",
    ("reference.edit_row", "row_id"): _reference_row,
    # A token can only be revoked by its owner: each user revokes their own.
    ("auth.revoke_token", "token_id"): _own_token,
    ("audit.record", "record_type"): "Enterprise",
    ("audit.record", "record_id"): _enterprise_record_id,
    ("audit.export", "file_format"): "csv",
    # The registration link pages (/e/<token>/...): the plain token of the world's invitation on that side.
    "token": _link_token,
    ("events_public.material", "file_id"): extra_row("event_material"),
    ("events.download_material", "file_id"): extra_row("event_material"),
    ("events.delete_material", "file_id"): extra_row("event_material"),
    ("standards.download_attachment", "file_id"): extra_row("assessment_attachment"),
    ("standards.delete_attachment", "file_id"): extra_row("assessment_attachment"),
    ("operations.job_runs", "name"): "reminders.sweep",
    # <job_id> names a queued job (export jobs have their own <export_job_id>).
    ("operations.retry_job", "job_id"): lambda world, role, side: world.key("queued_jobs", side),
    ("calendar.feed", "secret"): _feed_secret,
    ("visits.attachment", "file_id"): extra_row("visit_attachment"),
    ("visits.delete_attachment", "file_id"): extra_row("visit_attachment"),
    ("pipeline.delete_benefit", "benefit_id"): lambda world, role, side: world.key("benefit_records", side),
    ("enterprises.delete_note", "note_id"): own_row("note"),
    **{
        (endpoint, "view_id"): own_row("saved_view")
        for endpoint in ("enterprises.show_view", "enterprises.delete_view")
    },
    **{
        (endpoint, "import_id"): own_row("import")
        for endpoint in (
            "enterprises.import_detail",
            "enterprises.import_errors",
            "enterprises.import_mapping",
            "enterprises.import_commit",
            "enterprises.import_undo",
        )
    },
    ("enterprises.export", "fmt"): "csv",
    ("pipeline.column", "key"): _board_column,
    # The transition form towards a stage (the world's stage: the form still renders its checks).
    ("pipeline.move_form", "to"): _stage_code,
    ("pipeline_admin.edit_stage", "code"): _stage_code,
    ("pipeline_admin.reorder_stage", "code"): _stage_code,
    # A notification can only be opened or marked read by its recipient: each user opens their own.
    ("notifications.open_notification", "notification_id"): _own_notification_id,
    ("notifications.mark_read", "notification_id"): _own_notification_id,
    ("api.notifications_api.mark_read", "notification_id"): _own_notification_id,
    # An export is seen and downloaded by its owner only; a subscription is managed by its owner (or an admin).
    **{
        (endpoint, "export_job_id"): own_row("export_job")
        for endpoint in (
            "exports.progress",
            "exports.status",
            "exports.download",
            "api.exports_api.get_export",
            "api.exports_api.download_export",
        )
    },
    **{
        (endpoint, "subscription_id"): own_row("report_subscription")
        for endpoint in ("exports.toggle_subscription", "exports.delete_subscription")
    },
    # A plan template's task (task_id alone names a cultivation task).
    ("plans.edit_template_task", "task_id"): lambda world, role, side: world.key("plan_template_tasks", side),
    ("plans.delete_template_task", "task_id"): lambda world, role, side: world.key("plan_template_tasks", side),
    # An item of the assessment's standard, by its number.
    **{
        (endpoint, "number"): column_of("standard_items", "number")
        for endpoint in ("standards.assessment_item", "standards.save_assessment_item", "standards.upload_attachment")
    },
    **{
        (endpoint, "code"): "security-world-2026"
        for endpoint in (
            "standards.version_detail",
            "standards.export_version",
            "standards.edit_rules",
            "standards.verify_version",
            "api.standards_api.list_items",
        )
    },
}

# --- expected statuses -----------------------------------------------------------------------------------


def _logout(role, side, method):
    # Logging out answers a redirect to the login page, for anyone logged in.
    return {302} if role != "anonymous" else None


def _imports_seen(role, side, method):
    # The import history is for roles that import and for unrestricted roles; a viewer neither imports nor sees
    # others' imports (the rule "IMPORT or unrestricted" is checked in the view).
    return {403} if role == "viewer" else None


def _import_of_another(role, side, method):
    # An import is seen by its creator and by unrestricted roles: a viewer (who cannot import) opens another's.
    return {404} if role == "viewer" else None


STATUS: dict[str, Any] = {
    "auth.logout": _logout,
    "enterprises.import_history": _imports_seen,
    "enterprises.import_detail": _import_of_another,
    "enterprises.import_errors": _import_of_another,
}

SKIP_ENDPOINTS: dict[str, str] = {
    "static": "files under static/, served without a session",
}
