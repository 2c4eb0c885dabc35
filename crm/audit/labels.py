"""How audit rows are named on screen: actions and record types in the user's language."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from crm.core.audit import AuditAction

ACTION_LABELS: dict[str, Any] = {
    AuditAction.CREATE: _l("Created"),
    AuditAction.UPDATE: _l("Changed"),
    AuditAction.DELETE: _l("Deleted"),
    AuditAction.LOGIN: _l("Logged in"),
    AuditAction.LOGIN_FAILED: _l("Failed login"),
    AuditAction.LOGOUT: _l("Logged out"),
    AuditAction.EXPORT: _l("Exported"),
    AuditAction.TOKEN_USE: _l("API token used"),
    AuditAction.IMPORT: _l("Imported"),
    AuditAction.MERGE: _l("Merged"),
    AuditAction.BACKUP: _l("Backup made"),
    AuditAction.RESTORE: _l("Backup restored"),
}

#: Names of the audited models; a model missing here shows its ``__audit_label__`` or its class name.
RECORD_TYPE_LABELS: dict[str, Any] = {
    "Enterprise": _l("Enterprise"),
    "Contact": _l("Contact"),
    "Recommendation": _l("Recommendation"),
    "CreditStatusChange": _l("Credit status change"),
    "Stage": _l("Pipeline stage"),
    "StageChange": _l("Stage change"),
    "StandardVersion": _l("Standard version"),
    "Assessment": _l("Assessment"),
    "AssessmentResult": _l("Assessment result"),
    "Plan": _l("Cultivation plan"),
    "CultivationTask": _l("Cultivation task"),
    "PlanTemplate": _l("Plan template"),
    "PlanTemplateTask": _l("Plan template task"),
    "User": _l("User"),
    "ApiToken": _l("API token"),
    "Area": _l("Area"),
    "CustomsOffice": _l("Customs office"),
    "BusinessType": _l("Business type"),
    "KeyCategory": _l("Key-enterprise category"),
    "RecommendingUnit": _l("Recommending unit"),
    "SupportMeasure": _l("Support measure"),
    "MraPartner": _l("Mutual-recognition partner"),
    "Setting": _l("Setting"),
    "StoredFile": _l("File"),
}


def action_label(action: str | None) -> str:
    return str(ACTION_LABELS.get(action or "", action or ""))


def record_type_label(record_type: str | None) -> str:
    if not record_type:
        return ""
    if record_type in RECORD_TYPE_LABELS:
        return str(RECORD_TYPE_LABELS[record_type])
    from crm.audit.queries import audited_models

    model = audited_models().get(record_type)
    label = getattr(model, "__audit_label__", None) if model is not None else None
    return str(label) if label else record_type
