"""The enterprise list's "add to a cohort" bulk action (``crm.enterprises.bulk.BULK_ACTIONS``)."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select

from crm.cohorts import queries, services
from crm.enterprises.bulk import BulkOutcome, BulkRequest
from crm.enterprises.models import Enterprise
from crm.extensions import db


def add_to_cohort(request: BulkRequest) -> BulkOutcome:
    """Add the selected enterprises (already limited to the caller's scope) to a cohort the caller can see."""
    cohort = queries.scoped_cohort(request.form.cohort.data, request.user)
    if cohort is None:
        return BulkOutcome(_("Choose a cohort."), "danger")
    enterprises = list(
        db.session.scalars(select(Enterprise).where(Enterprise.id.in_(request.ids)).order_by(Enterprise.id))
    )
    result = services.add_members(cohort, enterprises, request.form.relation.data, by=request.user)
    message = _("%(n)s enterprises added to “%(cohort)s”.", n=len(result.added), cohort=cohort.name)
    if result.already:
        message += " " + _("%(n)s were already members.", n=len(result.already))
    if result.lead_refused:
        message += " " + _("The lead enterprise cannot be a member of its own cohort.")
    return BulkOutcome(message, "success" if result.added else "warning")
