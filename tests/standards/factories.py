"""Factories shared by the standards and plans tests."""

from __future__ import annotations

from datetime import date

import pytest

from crm.extensions import db
from crm.standards import services
from crm.standards.models import Judgement

CODE = "aeo-advanced-2026"


@pytest.fixture
def version():
    return services.version_by_code(CODE)


@pytest.fixture
def make_assessment(version):
    """``make_assessment(enterprise, {13: "fail"}, default="pass", kind="officer", draft=False)``: every applicable
    item judged ``default`` (bonus items 不适用) except those given; committed."""

    def factory(enterprise, judgements=None, *, default="pass", kind="officer", draft=False, on=None, by=None):
        assessment = services.create_assessment(
            enterprise, version=version, kind=kind, assessed_on=on or date(2026, 6, 1), by=by, is_draft=True
        )
        changes = {}
        for item in services.applicable_items(version, enterprise):
            value = (judgements or {}).get(item.number)
            if value is None:
                value = "na" if item.is_bonus else default
            changes[item.number] = (Judgement(value), "")
        services.record_judgements(assessment, changes, by=by)
        services.update_assessment(assessment, is_draft=draft)
        db.session.commit()
        return assessment

    return factory
