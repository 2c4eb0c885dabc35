"""The reminder watcher of planned visits (rule ``visit_tomorrow`` and any rule an administrator adds on
``visit_planned``), following the contract in ``crm/notifications/__init__.py``: read-only, the sweep's window
only, scope left to the sweep."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from flask_babel import force_locale
from sqlalchemy.orm import selectinload

from crm.core.timeutil import local_date, local_midnight
from crm.enterprises.models import Enterprise
from crm.notifications.models import ReminderRule
from crm.notifications.reminders import Due, Recipient, Sweep, in_batches, record_path, user_recipient
from crm.notifications.templating import Localized
from crm.notifications.watchers import enterprise_recipient
from crm.visits.models import Visit, VisitKind
from crm.visits.queries import planned_visits_between


def kind_names() -> dict[VisitKind, Localized]:
    """Each kind of visit in Chinese and English, for reminder texts in the recipient's language."""
    with force_locale("zh_CN"):
        chinese = {kind: str(kind.label) for kind in VisitKind}
    with force_locale("en"):
        english = {kind: str(kind.label) for kind in VisitKind}
    return {kind: Localized(chinese[kind], english[kind]) for kind in VisitKind}


def planned_visits(rule: ReminderRule, sweep: Sweep) -> Iterator[Due]:
    """Visits still planned (not logged, not cancelled) whose local date lies in the sweep's window; one query
    on (status, starts_at), read in batches."""
    first, last = sweep.anchor_range(rule)
    stmt = (
        planned_visits_between(local_midnight(first), local_midnight(last + timedelta(days=1)))
        .order_by(None)
        .options(
            selectinload(Visit.participants),
            selectinload(Visit.enterprise).options(
                selectinload(Enterprise.commerce_officer), selectinload(Enterprise.customs_officer)
            ),
        )
    )
    kinds = kind_names()
    for visit in in_batches(stmt, Visit.id):
        recipients: list[Recipient | None] = []
        for code in rule.recipients or {}:
            if code == "officers":
                recipients.extend(user_recipient(user, code) for user in visit.participants if user.is_active)
            else:
                recipients.append(enterprise_recipient(visit.enterprise, code))
        yield Due(
            record=visit,
            due_on=local_date(visit.starts_at),
            recipients=[r for r in recipients if r is not None],
            enterprise=visit.enterprise,
            url=record_path("visits.detail", visit_id=visit.id),
            context={"visit_kind": kinds[visit.kind], "visit_time": visit.starts_at, "location": visit.location},
        )
