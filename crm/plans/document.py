"""The printable 一企一策培育方案: one template rendered in Chinese, as a print-friendly page and as a PDF.

The PDF is made by WeasyPrint (text stays text, so it can be selected and searched). It needs Pango and a
CJK font on the machine: on Debian ``fonts-wqy-zenhei`` (or ``fonts-noto-cjk``); the stylesheet names both.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from typing import Any

from flask import current_app, render_template
from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from crm.core.timeutil import local_today
from crm.extensions import db
from crm.plans.models import Plan
from crm.plans.queries import plan_tasks
from crm.plans.services import is_overdue, progress
from crm.standards.models import AssessmentResult, Judgement, StandardItem

STYLESHEET = "css/plan-document.css"
# WeasyPrint reports each layout step at INFO; keep the application's log for what matters.
logging.getLogger("weasyprint").setLevel(logging.WARNING)
logging.getLogger("fontTools").setLevel(logging.WARNING)


def zh_date(value: date | None, empty: str = "—") -> str:
    """2025年6月5日, whatever the reader's language (the document is Chinese)."""
    return f"{value.year}年{value.month}月{value.day}日" if value else empty


def document_context(plan: Plan) -> dict[str, Any]:
    from crm.standards.services import evaluate_assessment, latest_assessment

    enterprise = plan.enterprise
    assessment = latest_assessment(plan.enterprise_id)
    evaluation = evaluate_assessment(assessment) if assessment is not None else None
    gaps = []
    if assessment is not None:
        gaps = db.session.scalars(
            select(AssessmentResult)
            .join(StandardItem, AssessmentResult.item_id == StandardItem.id)
            .where(
                AssessmentResult.assessment_id == assessment.id,
                AssessmentResult.judgement.in_([Judgement.FAIL, Judgement.BASIC]),
            )
            .options(selectinload(AssessmentResult.item))
            .order_by(StandardItem.number)
        ).all()
    tasks = plan_tasks(plan)
    today = local_today()
    return {
        "plan": plan,
        "enterprise": enterprise,
        "assessment": assessment,
        "evaluation": evaluation,
        "gaps": gaps,
        "tasks": tasks,
        "overdue": {t.id for t in tasks if is_overdue(t, today)},
        "progress": progress(plan, today),
        "today": today,
        "zh_date": zh_date,
    }


def render_document_html(plan: Plan, *, for_pdf: bool = False) -> str:
    """The plan document as HTML, always in Chinese (it is an official document)."""
    with force_locale("zh_CN"):
        return render_template("plans/document.html", for_pdf=for_pdf, **document_context(plan))


def render_pdf(plan: Plan) -> bytes:
    from weasyprint import CSS, HTML

    html = render_document_html(plan, for_pdf=True)
    static = Path(current_app.static_folder)
    return HTML(string=html, base_url=str(static)).write_pdf(stylesheets=[CSS(filename=str(static / STYLESHEET))])


def pdf_filename(plan: Plan) -> str:
    return f"一企一策培育方案-{plan.enterprise.name}-{local_today().isoformat()}.pdf"
