"""The reminder sweep: ask each active rule's watcher what is due, and turn it into reminders exactly once.

For a sweep at instant ``now`` (local day ``today``), a rule fires for a watched record whose date ``due_on``
satisfies ``fires_on = due_on + rule.offset_days`` with ``fires_on`` between ``sweep.first_day`` and ``today``.
For each recipient the sweep

1. drops users who are inactive or for whom the record's enterprise is outside their jurisdiction scope;
2. inserts one ``Reminder`` row keyed by (rule, record, recipient, due date) with ``ON CONFLICT DO NOTHING``:
   when the row exists (an earlier sweep, or a concurrent one on another worker) nothing else happens;
3. marks the row ``skipped`` when the reminder's moment (local midnight of ``fires_on``) lies more than the
   ``reminder_catch_up_hours`` setting in the past: a sweep that was missed catches up on the last day or so,
   and never floods people with stale reminders;
4. otherwise queues an in-app notification and/or an email in the outbox (the email waits for the daily digest
   when the user prefers one).

Each rule runs in a savepoint with its row locked, so a failing watcher only loses its own rule's work; the
caller commits once. See ``crm/notifications/__init__.py`` for the watcher contract.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import Select, insert, select
from sqlalchemy.exc import IntegrityError

from crm.core import jobs
from crm.core.models import utcnow
from crm.core.scope import Scope, build_scope
from crm.core.settings import get_setting
from crm.core.timeutil import local_date, local_midnight
from crm.extensions import db
from crm.notifications.models import (
    Channel,
    EmailMode,
    NotificationPreference,
    OutboxMessage,
    Reminder,
    ReminderRule,
    ReminderStatus,
)
from crm.notifications.templating import render

logger = logging.getLogger(__name__)

#: Days beyond the catch-up window that a sweep still looks back, to record missed reminders as skipped.
LOOKBACK_EXTRA_DAYS = 7
#: Placeholders every rule template may use, whatever it watches.
COMMON_PLACEHOLDERS = ("rule", "due_date", "fires_on", "days_left", "days_late", "recipient", "link", "enterprise")


# --- what watchers produce ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    """Someone a reminder goes to: a CRM user, or a person outside the CRM reached by email only."""

    #: The rule's recipient code this person was found under ("owner", "attendees" ...): picks the channels.
    role: str
    user: Any = None
    #: For people outside the CRM; a user's own address is used for users.
    email: str | None = None
    name: str = ""
    #: "zh_CN" or "en" for people outside the CRM; users read reminders in their own language.
    language: str | None = None

    @property
    def key(self) -> str:
        if self.user is not None:
            return f"user:{self.user.id}"
        return f"email:{(self.email or '').strip().lower()}"[:220]

    @property
    def address(self) -> str | None:
        return (self.user.email if self.user is not None else self.email) or None

    @property
    def display_name(self) -> str:
        return str(self.user) if self.user is not None else (self.name or self.email or "")


@dataclass
class Due:
    """One watched record that is due for a rule, with the people to remind and the texts' placeholders."""

    #: The ORM object watched; its table name and id identify it in the once-only key.
    record: Any
    #: The watched date (due date, visit date, event start, decision due date ...), in the CRM's time zone.
    due_on: date
    recipients: Sequence[Recipient]
    #: Template placeholders: str, int, date, datetime or Localized values.
    context: dict[str, Any] = field(default_factory=dict)
    #: The enterprise the record belongs to; users outside its scope are not reminded. None: no single one.
    enterprise: Any = None
    #: A path in the CRM (``/enterprises/12``) shown as the notification's link.
    url: str | None = None

    @property
    def record_type(self) -> str:
        return getattr(type(self.record), "__tablename__", type(self.record).__name__.lower())

    @property
    def record_id(self) -> int:
        return int(self.record.id)


@dataclass(frozen=True)
class Sweep:
    """The moment a sweep runs for, and the window of fire dates it looks at."""

    now: datetime
    today: date
    #: The earliest fire date still considered (older ones are ignored altogether).
    first_day: date
    catch_up: timedelta

    def anchor_range(self, rule: ReminderRule) -> tuple[date, date]:
        """The watched dates (inclusive) whose reminders fire within this sweep's window for ``rule``."""
        offset = timedelta(days=rule.offset_days)
        return self.first_day - offset, self.today - offset

    def fires_on(self, rule: ReminderRule, due_on: date) -> date:
        return due_on + timedelta(days=rule.offset_days)

    def is_late(self, fires_on: date) -> bool:
        """The reminder's moment (local midnight of its day) passed longer ago than the catch-up setting."""
        return self.now - local_midnight(fires_on) > self.catch_up


def make_sweep(now: datetime | None = None) -> Sweep:
    now = now or utcnow()
    hours = int(get_setting("reminder_catch_up_hours"))
    today = local_date(now)
    lookback = math.ceil(hours / 24) + LOOKBACK_EXTRA_DAYS
    return Sweep(now=now, today=today, first_day=today - timedelta(days=lookback), catch_up=timedelta(hours=hours))


# --- helpers for watchers -----------------------------------------------------------------------------------


def in_batches(stmt: Select, id_column: Any, size: int = 500) -> Iterator[Any]:
    """Iterate a large (unordered) ``select()`` of ORM objects by keyset pages, keeping no cursor open."""
    last_id = None
    while True:
        page = stmt.order_by(id_column).limit(size)
        if last_id is not None:
            page = page.where(id_column > last_id)
        rows = db.session.scalars(page).all()
        yield from rows
        if len(rows) < size:
            return
        last_id = rows[-1].id


def user_recipient(user: Any, role: str) -> Recipient | None:
    """A CRM user as a recipient (None for no user)."""
    return Recipient(role=role, user=user) if user is not None else None


def record_path(endpoint: str, **values: Any) -> str:
    """A URL path for a record, usable outside a request (jobs, the command line)."""
    adapter = current_app.url_map.bind("localhost", script_name=current_app.config.get("APPLICATION_ROOT") or "/")
    return adapter.build(endpoint, values)


# --- the sweep ----------------------------------------------------------------------------------------------


@dataclass
class RuleResult:
    #: "ok", "unavailable" (the watcher's records do not exist yet), "unknown" (no such watcher) or "failed".
    status: str = "ok"
    found: int = 0
    sent: int = 0
    digest: int = 0
    skipped: int = 0
    duplicate: int = 0
    out_of_scope: int = 0
    inactive: int = 0
    no_address: int = 0
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


class _Context:
    """Caches shared by the rules of one sweep."""

    def __init__(self, sweep: Sweep):
        self.sweep = sweep
        self.scopes: dict[int, Scope] = {}
        self.digest_users = set(
            db.session.scalars(
                select(NotificationPreference.user_id).where(NotificationPreference.email_mode == EmailMode.DIGEST)
            )
        )
        self.default_language = current_app.config.get("CRM_DEFAULT_LANGUAGE", "zh_CN")
        self.public_url = _public_url()
        self.queued_messages = 0
        #: Once-only keys the current rule already recorded within the window (a shortcut; the unique key decides).
        self.existing: set[tuple[str, int, str, date]] = set()
        #: Late reminders (recorded as skipped, nothing sent) of the current rule, written in batches.
        self.late: list[dict[str, Any]] = []

    def scope(self, user: Any) -> Scope:
        if user.id not in self.scopes:
            self.scopes[user.id] = build_scope(user)
        return self.scopes[user.id]


def _public_url() -> str:
    value = str(get_setting("public_url") or "").strip().rstrip("/")
    return value if value.startswith(("http://", "https://")) else ""


def run_sweep(now: datetime | None = None, *, rule_codes: Sequence[str] | None = None) -> dict[str, Any]:
    """Run every active rule (or the named ones) for ``now``; the caller commits once.

    Returns a report: {"date": ..., "rules": {code: RuleResult as dict}, "sent": n, "skipped": n, ...}.
    """
    from crm.notifications.registry import WATCHERS

    sweep = make_sweep(now)
    ctx = _Context(sweep)
    stmt = select(ReminderRule).where(ReminderRule.is_active.is_(True)).order_by(ReminderRule.id)
    if rule_codes:
        stmt = stmt.where(ReminderRule.code.in_(list(rule_codes)))
    rules = db.session.scalars(stmt).all()
    results: dict[str, RuleResult] = {}
    for rule in rules:
        code = rule.code
        spec = WATCHERS.get(rule.watch)
        if spec is None:
            results[code] = RuleResult(status="unknown", error=f"no watcher {rule.watch!r}")
            continue
        if not spec.function:
            results[code] = RuleResult(status="unavailable")
            continue
        result = RuleResult()
        try:
            with db.session.begin_nested():
                # A row-level claim: a concurrent sweep waits here until this one commits, then finds every
                # reminder already recorded (the unique key would stop it anyway).
                db.session.execute(select(ReminderRule.id).where(ReminderRule.id == rule.id).with_for_update())
                ctx.existing = _recorded_keys(rule, sweep)
                watcher = spec.resolve()
                for due in watcher(rule, sweep):
                    _process(rule, due, ctx, result)
                _write_late(ctx, result)
        except Exception as exc:  # one broken watcher must not stop the other rules
            ctx.late.clear()
            logger.exception("Reminder rule %s (%s) failed", code, rule.watch)
            result = RuleResult(status="failed", error=f"{type(exc).__name__}: {exc}"[:500])
        results[code] = result
    if ctx.queued_messages:
        jobs.enqueue("notifications.deliver_pending", "queued")
    report: dict[str, Any] = {"date": sweep.today.isoformat(), "rules": {c: r.as_dict() for c, r in results.items()}}
    for key in ("sent", "digest", "skipped", "duplicate", "out_of_scope"):
        report[key] = sum(getattr(r, key) for r in results.values())
    report["failed_rules"] = sum(r.status == "failed" for r in results.values())
    report["unavailable_rules"] = sum(r.status in ("unavailable", "unknown") for r in results.values())
    return report


def _process(rule: ReminderRule, due: Due, ctx: _Context, result: RuleResult) -> None:
    sweep = ctx.sweep
    fires_on = sweep.fires_on(rule, due.due_on)
    if fires_on > sweep.today or fires_on < sweep.first_day:
        return  # outside the window: a watcher may select generously
    result.found += 1
    late = sweep.is_late(fires_on)
    seen: set[str] = set()
    for recipient in due.recipients:
        if recipient is None or recipient.key in seen:
            continue
        seen.add(recipient.key)
        if (due.record_type, due.record_id, recipient.key, due.due_on) in ctx.existing:
            result.duplicate += 1  # recorded by an earlier sweep: no need to even write the texts
            continue
        user = recipient.user
        if user is not None:
            if not user.is_active:
                result.inactive += 1
                continue
            if due.enterprise is not None and not ctx.scope(user).contains(due.enterprise):
                result.out_of_scope += 1
                continue
        channels = rule.channels_for(recipient.role)
        if user is None and Channel.IN_APP in channels:
            channels.remove(Channel.IN_APP)  # people outside the CRM have no notification centre
        if Channel.EMAIL in channels and not recipient.address:
            channels.remove(Channel.EMAIL)
            result.no_address += 1
        if not channels:
            continue
        language = (getattr(user, "language", None) if user is not None else recipient.language) or (
            ctx.default_language
        )
        title, body = _texts(rule, due, recipient, fires_on, language, ctx)
        wants_digest = user is not None and user.id in ctx.digest_users and Channel.EMAIL in channels
        if late:
            status = ReminderStatus.SKIPPED
        elif wants_digest:
            status = ReminderStatus.DIGEST
        else:
            status = ReminderStatus.SENT
        values = {
            "rule_id": rule.id,
            "record_type": due.record_type,
            "record_id": due.record_id,
            "enterprise_id": getattr(due.enterprise, "id", None),
            "recipient_key": recipient.key,
            "user_id": getattr(user, "id", None),
            "to_address": recipient.address,
            "due_on": due.due_on,
            "fires_on": fires_on,
            "status": status,
            "title": title[:300],
            "body": body,
            "url": due.url,
        }
        if late:  # recorded, never sent: no id needed, so written in batches
            ctx.late.append(values)
            if len(ctx.late) >= LATE_BATCH:
                _write_late(ctx, result)
            continue
        reminder_id = _insert_once(**values)
        if reminder_id is None:
            result.duplicate += 1
            continue
        result.sent += 1
        for channel in channels:
            if channel == Channel.IN_APP:
                _queue(Channel.IN_APP, user, None, title, body, due.url, f"reminder:{reminder_id}:in_app")
            elif status == ReminderStatus.DIGEST:
                result.digest += 1
            else:
                text = _email_text(rule, body, due.url, language, ctx)
                _queue(Channel.EMAIL, user, recipient.address, title, text, due.url, f"reminder:{reminder_id}:email")
            ctx.queued_messages += 1


def _texts(
    rule: ReminderRule, due: Due, recipient: Recipient, fires_on: date, language: str, ctx: _Context
) -> tuple[str, str]:
    today = ctx.sweep.today
    link = f"{ctx.public_url}{due.url}" if ctx.public_url and due.url else ""
    context: dict[str, Any] = {
        "rule": rule.name_in(language),
        "due_date": due.due_on,
        "fires_on": fires_on,
        "days_left": max((due.due_on - today).days, 0),
        "days_late": max((today - due.due_on).days, 0),
        "recipient": recipient.display_name,
        "link": link,
        "enterprise": getattr(due.enterprise, "name", ""),
    }
    context.update(due.context)
    zh = language.startswith("zh")
    subject = render(rule.subject_zh if zh else rule.subject_en, context, language)
    body = render(rule.body_zh if zh else rule.body_en, context, language)
    return " ".join(subject.split()), body


def _email_text(rule: ReminderRule, body: str, url: str | None, language: str, ctx: _Context) -> str:
    with force_locale(language):
        parts = [body]
        if ctx.public_url and url:
            address = ctx.public_url + url
            parts.append(_("Open in the CRM: %(url)s", url=address))
        parts.append(
            "-- \n"
            + _(
                "You receive this email because of the reminder rule “%(rule)s”. On your profile page you can "
                "choose one daily digest email instead.",
                rule=rule.name_in(language),
            )
        )
    return "\n\n".join(parts)


def _queue(
    channel: Channel, user: Any, address: str | None, title: str, body: str, url: str | None, dedupe_key: str
) -> None:
    db.session.add(
        OutboxMessage(
            channel=channel,
            user_id=getattr(user, "id", None),
            to_address=address,
            subject=title[:300],
            body_text=body,
            url=url,
            dedupe_key=dedupe_key,
        )
    )


def _recorded_keys(rule: ReminderRule, sweep: Sweep) -> set[tuple[str, int, str, date]]:
    rows = db.session.execute(
        select(Reminder.record_type, Reminder.record_id, Reminder.recipient_key, Reminder.due_on).where(
            Reminder.rule_id == rule.id, Reminder.fires_on >= sweep.first_day
        )
    )
    return {(row[0], row[1], row[2], row[3]) for row in rows}


_ONCE_COLUMNS = ("rule_id", "record_type", "record_id", "recipient_key", "due_on")
#: Late reminders written per statement.
LATE_BATCH = 500


def _insert_statement(dialect: str) -> Any:
    """``INSERT … ON CONFLICT (once-only key) DO NOTHING RETURNING id`` with bound parameters: one statement
    for every row, so SQLAlchemy compiles it once (``.values(**row)`` made a new statement, and a new cache key,
    per reminder)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    table = Reminder.__table__
    return dialect_insert(table).on_conflict_do_nothing(index_elements=list(_ONCE_COLUMNS)).returning(table.c.id)


def _insert_once(**values: Any) -> int | None:
    """Insert a reminder unless its once-only key exists; its id, or None when it already existed."""
    values.setdefault("created_at", utcnow())
    dialect = db.session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        return db.session.execute(_insert_statement(dialect), values).scalar_one_or_none()
    try:  # other databases: let the unique constraint refuse the duplicate inside a savepoint
        with db.session.begin_nested():
            return db.session.execute(insert(Reminder).values(**values).returning(Reminder.id)).scalar_one()
    except IntegrityError:
        return None


def _write_late(ctx: _Context, result: RuleResult) -> None:
    """Write the collected late reminders (status skipped); those whose once-only key exists count as duplicates."""
    rows, ctx.late = ctx.late, []
    if not rows:
        return
    dialect = db.session.get_bind().dialect.name
    if dialect not in ("postgresql", "sqlite"):
        for values in rows:
            if _insert_once(**values) is None:
                result.duplicate += 1
            else:
                result.skipped += 1
        return
    now = utcnow()
    for values in rows:
        values.setdefault("created_at", now)
    written = len(db.session.execute(_insert_statement(dialect), rows).all())
    result.skipped += written
    result.duplicate += len(rows) - written
