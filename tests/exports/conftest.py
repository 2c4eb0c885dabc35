"""Fixtures of the export tests: a few enterprises in and out of a scoped user's area, and export jobs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from crm.exports import services
from crm.exports.models import ExportJob
from crm.extensions import db


@pytest.fixture
def listed(make_enterprise) -> dict[str, Any]:
    """Two enterprises in Quanzhou (350500) and one in Fuzhou (350100)."""
    return {
        "quanzhou": [
            make_enterprise(name="泉州甲导出有限公司", area="350500", office="xm-quanzhou"),
            make_enterprise(name="泉州乙导出有限公司", area="350500", office="xm-quanzhou"),
        ],
        "fuzhou": [make_enterprise(name="福州丙导出有限公司", area="350100", office="fz-mawei")],
    }


@pytest.fixture
def run_job() -> Callable[..., ExportJob]:
    """``run_job(user, "enterprises", "xlsx", {...})``: record an export job and run it here, as the worker does."""

    def factory(user: Any, kind: str = "enterprises", fmt: str = "xlsx", params: dict | None = None) -> ExportJob:
        job = services.new_job(user, kind, fmt, params or {})
        db.session.commit()
        services.run_export(job.id)
        db.session.expire_all()
        return db.session.get(ExportJob, job.id)

    return factory
