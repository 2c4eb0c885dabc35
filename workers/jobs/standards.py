"""Jobs of the standards package: re-evaluating assessments after a version's pass rule changed."""

from __future__ import annotations

import logging

from celery import shared_task

from crm.extensions import db
from crm.standards.services import reevaluate_version

logger = logging.getLogger(__name__)


@shared_task(name="standards.reevaluate_version", ignore_result=True)
def reevaluate_version_job(version_id: int) -> int:
    """Evaluate every assessment of a standard version again; safe to run twice."""
    count = reevaluate_version(version_id)
    db.session.commit()
    logger.info("Re-evaluated %d assessment(s) of standard version %s", count, version_id)
    return count
