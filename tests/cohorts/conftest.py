from __future__ import annotations

import pytest

from crm.extensions import db
from tests.standards.factories import make_assessment, version  # noqa: F401


@pytest.fixture
def make_cohort(make_enterprise):
    """``make_cohort(lead=None, members=[(enterprise, "subsidiary")], kind="group")``: a committed cohort."""
    from crm.cohorts import services

    def factory(*, lead=None, members=(), kind="group", name="福州集团 1+N", by=None, **values):
        lead = lead or make_enterprise(name="集团母公司")
        cohort = services.create_cohort(name=name, kind=kind, lead=lead, by=by, **values)
        for enterprise, relation in members:
            services.add_member(cohort, enterprise, relation, by=by)
        db.session.commit()
        return cohort

    return factory
