"""The ``flask crm`` command group; each command lives next to the code it operates on."""

from __future__ import annotations

from crm.auth.cli import create_token_command, create_user_command
from crm.core.cli import (
    AuditedGroup,
    backup_command,
    compile_translations_command,
    restore_command,
    update_translations_command,
)
from crm.demo.cli import seed_demo_command
from crm.enterprises.cli import import_enterprises_command
from crm.notifications.cli import run_reminders_command
from crm.operations.cli import run_job_command
from crm.reference.cli import seed_reference_command

#: Every command added here runs as "cli:<command>" in the audit trail.
crm_cli = AuditedGroup("crm", help="AEO Cultivation CRM commands.")

for command in (
    create_user_command,
    create_token_command,
    seed_reference_command,
    seed_demo_command,
    import_enterprises_command,
    update_translations_command,
    compile_translations_command,
    run_reminders_command,
    run_job_command,
    backup_command,
    restore_command,
):
    crm_cli.add_command(command)
