"""Operations on 1+N cohorts: create and edit, membership, and the joint actions taken for every member.

Each joint action reuses the service that does the same for one enterprise (visits, training invitations,
plan templates, pipeline transitions) and records one entry on the cohort's timeline. Services flush; the
caller commits once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from crm.cohorts.models import ActivityKind, Cohort, CohortActivity, CohortKind, CohortMember, MemberRelation
from crm.core.models import utcnow
from crm.enterprises.models import Enterprise
from crm.extensions import db

NAME_MAX = 200
NOTES_MAX = 5000
#: The most enterprises one call adds to a cohort.
MAX_MEMBERS_PER_CALL = 1000


class CohortError(ValueError):
    """Input a cohort cannot take; ``fields`` maps each field to its messages."""

    def __init__(self, fields: dict[str, list[str]]):
        self.fields = fields
        super().__init__(" ".join(m for messages in fields.values() for m in messages))


# --- the cohort itself --------------------------------------------------------------------------------------


def _check(name: str, lead: Enterprise | None, notes: str) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors["name"] = [_("Give the cohort a name.")]
    elif len(name.strip()) > NAME_MAX:
        errors["name"] = [_("At most %(n)s characters.", n=NAME_MAX)]
    if lead is None:
        errors["lead_enterprise_id"] = [_("Choose the lead enterprise.")]
    if len(notes or "") > NOTES_MAX:
        errors["notes"] = [_("At most %(n)s characters.", n=NOTES_MAX)]
    return errors


def create_cohort(
    *,
    name: str,
    kind: CohortKind | str,
    lead: Enterprise | None,
    target_date: date | None = None,
    notes: str = "",
    responsibles: Iterable[Any] = (),
    by: Any = None,
) -> Cohort:
    errors = _check(name, lead, notes)
    if errors:
        raise CohortError(errors)
    cohort = Cohort(
        name=name.strip(),
        kind=CohortKind(kind),
        lead_enterprise_id=lead.id,
        target_date=target_date,
        notes=(notes or "").strip(),
        created_by_id=getattr(by, "id", None),
        updated_by_id=getattr(by, "id", None),
    )
    cohort.lead = lead
    cohort.responsibles = list(dict.fromkeys(responsibles))
    db.session.add(cohort)
    db.session.flush()
    record_activity(cohort, ActivityKind.CREATED, data={"lead_enterprise_id": lead.id}, by=by)
    return cohort


def update_cohort(cohort: Cohort, *, by: Any = None, **changes: Any) -> Cohort:
    """Change any of name, kind, lead, target_date, notes, responsibles; the lead may not be a member."""
    name = changes.get("name", cohort.name)
    lead = changes.get("lead", cohort.lead)
    notes = changes.get("notes", cohort.notes)
    errors = _check(name or "", lead, notes or "")
    if lead is not None and lead.id != cohort.lead_enterprise_id and member_of(cohort, lead.id) is not None:
        errors.setdefault("lead_enterprise_id", []).append(
            _("This enterprise is a member of the cohort; remove it from the members before making it the lead.")
        )
    if errors:
        raise CohortError(errors)
    cohort.name = name.strip()
    if "kind" in changes:
        cohort.kind = CohortKind(changes["kind"])
    if lead.id != cohort.lead_enterprise_id:
        cohort.lead = lead
        cohort.lead_enterprise_id = lead.id
    if "target_date" in changes:
        cohort.target_date = changes["target_date"]
    cohort.notes = (notes or "").strip()
    if "responsibles" in changes:
        cohort.responsibles = list(dict.fromkeys(changes["responsibles"]))
    cohort.updated_by_id = getattr(by, "id", None)
    db.session.flush()
    return cohort


def delete_cohort(cohort: Cohort) -> None:
    db.session.delete(cohort)
    db.session.flush()


# --- membership --------------------------------------------------------------------------------------------


def member_of(cohort: Cohort, enterprise_id: int) -> CohortMember | None:
    return db.session.scalars(
        select(CohortMember).where(CohortMember.cohort_id == cohort.id, CohortMember.enterprise_id == enterprise_id)
    ).first()


@dataclass
class AddResult:
    added: list[CohortMember] = field(default_factory=list)
    #: Enterprises already in the cohort (their relation is left as it was).
    already: list[int] = field(default_factory=list)
    #: The lead, when it was among the enterprises: a lead cannot be its own member.
    lead_refused: bool = False


def add_members(
    cohort: Cohort, enterprises: Iterable[Enterprise], relation: MemberRelation | str, *, by: Any = None
) -> AddResult:
    """Add enterprises with the same relation to the lead. An enterprise may belong to several cohorts."""
    relation = MemberRelation(relation)
    wanted = list({e.id: e for e in enterprises}.values())
    if len(wanted) > MAX_MEMBERS_PER_CALL:
        raise CohortError({"enterprise_ids": [_("At most %(n)s enterprises at once.", n=MAX_MEMBERS_PER_CALL)]})
    existing = set(
        db.session.scalars(
            select(CohortMember.enterprise_id).where(
                CohortMember.cohort_id == cohort.id, CohortMember.enterprise_id.in_([e.id for e in wanted])
            )
        )
    )
    result = AddResult()
    for enterprise in wanted:
        if enterprise.id == cohort.lead_enterprise_id:
            result.lead_refused = True
        elif enterprise.id in existing:
            result.already.append(enterprise.id)
        else:
            member = CohortMember(cohort=cohort, enterprise_id=enterprise.id, relation=relation)
            member.enterprise = enterprise
            db.session.add(member)
            result.added.append(member)
    db.session.flush()
    if result.added:
        record_activity(
            cohort,
            ActivityKind.MEMBERS_ADDED,
            data={"enterprise_ids": [m.enterprise_id for m in result.added], "relation": relation.value},
            by=by,
        )
    return result


def add_member(
    cohort: Cohort, enterprise: Enterprise, relation: MemberRelation | str, *, by: Any = None
) -> CohortMember:
    """Add one enterprise; refused for the lead and for an enterprise already in the cohort."""
    result = add_members(cohort, [enterprise], relation, by=by)
    if result.lead_refused:
        raise CohortError({"enterprise_id": [_("The lead enterprise cannot be a member of its own cohort.")]})
    if result.already:
        raise CohortError({"enterprise_id": [_("This enterprise is already a member of the cohort.")]})
    return result.added[0]


def remove_member(cohort: Cohort, member: CohortMember, *, by: Any = None) -> None:
    enterprise_id = member.enterprise_id
    db.session.delete(member)
    db.session.flush()
    record_activity(
        cohort,
        ActivityKind.MEMBER_REMOVED,
        data={"enterprise_ids": [enterprise_id]},
        by=by,
    )


# --- the timeline ------------------------------------------------------------------------------------------


def drop_self_memberships(enterprise_id: int) -> int:
    """Remove the memberships of an enterprise in the cohorts it leads (a lead is never its own member); after a
    merge moved both a lead and a membership onto the same record. Returns how many went."""
    members = db.session.scalars(
        select(CohortMember)
        .join(Cohort, Cohort.id == CohortMember.cohort_id)
        .where(CohortMember.enterprise_id == enterprise_id, Cohort.lead_enterprise_id == enterprise_id)
    ).all()
    for member in members:
        db.session.delete(member)
    return len(members)


def record_activity(
    cohort: Cohort, kind: ActivityKind, summary: str = "", *, data: dict | None = None, by: Any = None
) -> CohortActivity:
    """One timeline entry. ``data`` holds ids and counts (the page words them in the reader's language and never
    names an enterprise); ``summary`` is the user's own note, e.g. the purpose of a joint visit."""
    activity = CohortActivity(
        cohort_id=cohort.id,
        kind=kind,
        occurred_at=utcnow(),
        actor_id=getattr(by, "id", None),
        summary=str(summary)[:500],
        data=data,
    )
    db.session.add(activity)
    db.session.flush()
    return activity


# --- joint actions -----------------------------------------------------------------------------------------


def _members(ids: Iterable[int]) -> list[Enterprise]:
    ids = list(dict.fromkeys(ids))
    if not ids:
        return []
    return list(db.session.scalars(select(Enterprise).where(Enterprise.id.in_(ids)).order_by(Enterprise.id)))


@dataclass
class JointVisitResult:
    visits: list[Any] = field(default_factory=list)
    #: {enterprise id: {field: [messages]}} of members whose visit could not be planned.
    refused: dict[int, dict[str, list[str]]] = field(default_factory=dict)


def plan_joint_visit(
    cohort: Cohort,
    member_ids: Iterable[int],
    *,
    starts_at: datetime,
    officer: Any,
    duration_minutes: int = 120,
    location: str = "",
    summary: str = "",
    participants: Iterable[Any] = (),
    by: Any = None,
) -> JointVisitResult:
    """Plan one joint visit (a planned visit of kind "joint") on each given member, at the same time."""
    from crm.visits.models import VisitKind, VisitStatus
    from crm.visits.services import VisitData, VisitError, create_visit

    result = JointVisitResult()
    for enterprise in _members(member_ids):
        data = VisitData(
            status=VisitStatus.PLANNED,
            kind=VisitKind.JOINT,
            starts_at=starts_at,
            officer=officer,
            participants=list(participants),
            duration_minutes=duration_minutes,
            location=location,
            summary=summary,
        )
        try:
            result.visits.append(create_visit(enterprise, data, by=by).visit)
        except VisitError as error:
            result.refused[enterprise.id] = error.errors
    if result.visits:
        record_activity(
            cohort,
            ActivityKind.JOINT_VISIT,
            summary,
            data={
                "visit_ids": [v.id for v in result.visits],
                "enterprise_ids": [v.enterprise_id for v in result.visits],
                "starts_at": starts_at.isoformat(),
                "location": location,
            },
            by=by,
        )
    return result


def invite_to_training(cohort: Cohort, event: Any, member_ids: Iterable[int], *, by: Any, send_email: bool = True):
    """Invite the members to a published training event (``InvitationSource.COHORT``); returns the InviteResult."""
    from crm.events.models import InvitationSource
    from crm.events.services import invite_enterprises

    result = invite_enterprises(event, list(member_ids), by=by, source=InvitationSource.COHORT, send_email=send_email)
    if result.created:
        record_activity(
            cohort,
            ActivityKind.TRAINING,
            data={
                "event_id": event.id,
                "event_title": event.title,
                "enterprise_ids": [link.invitation.enterprise_id for link in result.issued],
            },
            by=by,
        )
    return result


@dataclass
class TemplateResult:
    #: Members whose open plan received the template's tasks.
    applied: list[Enterprise] = field(default_factory=list)
    #: Members that had no open plan: a plan in force was started from the template.
    created: list[Enterprise] = field(default_factory=list)
    #: Members whose open plan already came from this template, left unchanged.
    skipped: list[Enterprise] = field(default_factory=list)


def apply_plan_template(cohort: Cohort, template: Any, member_ids: Iterable[int], *, by: Any = None) -> TemplateResult:
    """Give every member the template's tasks: added to its open plan, or a new plan started from the template."""
    from crm.plans.services import apply_template, create_plan, open_plan

    result = TemplateResult()
    for enterprise in _members(member_ids):
        plan = open_plan(enterprise.id)
        if plan is None:
            create_plan(enterprise, template=template, target_application_on=cohort.target_date, by=by)
            result.created.append(enterprise)
        elif plan.template_id == template.id:
            result.skipped.append(enterprise)
        else:
            apply_template(plan, template)
            result.applied.append(enterprise)
    touched = result.applied + result.created
    if touched:
        record_activity(
            cohort,
            ActivityKind.PLAN_TEMPLATE,
            data={
                "template_id": template.id,
                "template_name": template.name,
                "enterprise_ids": [e.id for e in touched],
            },
            by=by,
        )
    return result


def move_members(cohort: Cohort, member_ids: Iterable[int], request: Any, *, by: Any, now: datetime | None = None):
    """The same pipeline move for several members, each judged by its own guards (``move_many``).

    Returns the pipeline's ``BulkMoveResult``; the timeline records which moved and why the others did not.
    """
    from crm.pipeline.services import move_many

    result = move_many(member_ids, request, by=by, now=now)
    record_activity(
        cohort,
        ActivityKind.TRANSITION,
        data={
            "to": request.to,
            "moved": [e.id for e in result.moved],
            "refused": {str(i): failures for i, _e, failures in result.refused},
        },
        by=by,
    )
    return result
