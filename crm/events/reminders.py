"""The reminder watcher of training events (rules ``event_3d`` and ``event_tomorrow``, and any rule an administrator
adds on ``event_start``), following the contract in ``crm/notifications/__init__.py``: read-only, the sweep's
window only, scope left to the sweep.

Recipients:

- ``attendees``: the named attendees registered (not waitlisted, not cancelled) who gave an email address; people
  outside the CRM, so email only. One ``Due`` per (event, enterprise), so each reminder records its enterprise.
- ``organisers``: the CRM users who run the event, as ``crm/events/access.py`` defines it: its creator, and the
  staff with the ``edit`` permission in the jurisdiction of one of its local organising units (admins, who may
  manage every event, are not reminded of each). Their ``Due`` has no enterprise: an event concerns many.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from crm.auth.models import User
from crm.core.permissions import Permission, Role, has_permission
from crm.core.timeutil import local_date, local_midnight
from crm.events.access import jurisdiction_unit_ids
from crm.events.models import Event, EventStatus, Registration, RegistrationStatus
from crm.extensions import db
from crm.notifications.models import ReminderRule
from crm.notifications.reminders import Due, Recipient, Sweep, in_batches, record_path, user_recipient

#: Attendees are outside the CRM; their emails are written in Chinese.
ATTENDEE_LANGUAGE = "zh_CN"


class _Organisers:
    """The users who organise events through a local unit's jurisdiction, worked out once per sweep on demand."""

    def __init__(self) -> None:
        self._by_unit: dict[int, list[User]] | None = None

    def of(self, event: Event) -> list[User]:
        if self._by_unit is None:
            self._by_unit = defaultdict(list)
            staff = db.session.scalars(
                select(User)
                .where(User.is_active.is_(True), User.role.in_([Role.BUREAU, Role.CUSTOMS]))
                .options(selectinload(User.areas), selectinload(User.offices))
                .order_by(User.id)
            )
            for user in staff:
                if has_permission(user, Permission.EDIT):
                    for unit_id in jurisdiction_unit_ids(user):
                        self._by_unit[unit_id].append(user)
        users: dict[int, User] = {}
        if event.created_by is not None:
            users[event.created_by.id] = event.created_by
        for unit in event.organisers:
            for user in self._by_unit.get(unit.id, ()):
                users.setdefault(user.id, user)
        return list(users.values())


def upcoming_events(rule: ReminderRule, sweep: Sweep) -> Iterator[Due]:
    """Events not cancelled whose local start date lies in the sweep's window; one range query on
    (status, starts_at), attendees loaded per batch."""
    first, last = sweep.anchor_range(rule)
    stmt = (
        select(Event)
        .where(
            Event.status != EventStatus.CANCELLED,
            Event.starts_at >= local_midnight(first),
            Event.starts_at < local_midnight(last + timedelta(days=1)),
        )
        .options(selectinload(Event.organisers), selectinload(Event.created_by))
    )
    codes = set(rule.recipients or {})
    organisers = _Organisers()
    for event in in_batches(stmt, Event.id):
        due_on = local_date(event.starts_at)
        context: dict[str, Any] = {"event": event.title, "start_time": event.starts_at, "venue": event.venue}
        if "organisers" in codes:
            yield Due(
                record=event,
                due_on=due_on,
                recipients=[r for user in organisers.of(event) if (r := user_recipient(user, "organisers"))],
                enterprise=None,
                url=record_path("events.detail", event_id=event.id),
                context=context,
            )
        if "attendees" in codes:
            yield from _attendee_dues(event, due_on, context)


def _attendee_dues(event: Event, due_on: Any, context: dict[str, Any]) -> Iterator[Due]:
    """One Due per enterprise with registered attendees who can be emailed."""
    registrations = db.session.scalars(
        select(Registration)
        .where(
            Registration.event_id == event.id,
            Registration.status == RegistrationStatus.REGISTERED,
            Registration.email != "",
        )
        .options(selectinload(Registration.enterprise))
        .order_by(Registration.enterprise_id, Registration.id)
    )
    by_enterprise: dict[int, list[Registration]] = defaultdict(list)
    for registration in registrations:
        by_enterprise[registration.enterprise_id].append(registration)
    for attendees in by_enterprise.values():
        yield Due(
            record=event,
            due_on=due_on,
            recipients=[
                Recipient(role="attendees", email=r.email.strip(), name=r.name, language=ATTENDEE_LANGUAGE)
                for r in attendees
                if r.email.strip()
            ],
            enterprise=attendees[0].enterprise,
            # Attendees cannot open the CRM: their own link (only its hash is stored) is in the invitation email.
            url=None,
            context=context,
        )
