"""Message catalogs: extract each package's strings into its own catalog, and compile them.

A package's strings are those of ``crm/<package>/`` and ``templates/<package>/``; the core catalog also
takes the shared templates (``base.html``, ``_macros/``, ``errors/``) and the top-level modules.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
from babel.messages.catalog import Catalog
from babel.messages.extract import extract
from babel.messages.pofile import read_po, write_po
from flask.cli import AppGroup

from crm.core.audit import acting_as
from crm.core.collector import application_frozen, skip_final_collections
from crm.core.i18n import PACKAGE_ROOT, PROJECT_ROOT, compile_catalogs


class AuditedGroup(AppGroup):
    """A command group whose every command (and sub-command) runs as ``acting_as("cli:<name>")``, so each
    change it makes is attributed to the command in the audit trail. A command may narrow the label itself."""

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        _audit_command(cmd, name or cmd.name or "command")
        super().add_command(cmd, name)


def _audit_command(cmd: click.Command, name: str) -> None:
    if cmd.callback is not None and not getattr(cmd.callback, "crm_audited", False):
        cmd.callback = _acting(cmd.callback, f"cli:{name}")
    if isinstance(cmd, click.Group):
        for sub_name, sub in cmd.commands.items():
            _audit_command(sub, f"{name} {sub_name}")


def _acting(callback: Callable, label: str) -> Callable:
    @functools.wraps(callback)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        skip_final_collections()
        with acting_as(label), application_frozen():
            return callback(*args, **kwargs)

    wrapper.crm_audited = True  # type: ignore[attr-defined]
    return wrapper


#: No ngettext: Chinese has one plural form, and English strings are phrased to need none ("Enterprises: 5").
KEYWORDS = {"_": None, "gettext": None, "lazy_gettext": None, "_l": None}
TEMPLATES = PROJECT_ROOT / "templates"
SHARED_TEMPLATE_DIRS = ("_macros", "errors")
#: Catalogs live under ``zh``: Babel resolves zh_CN to zh_Hans_CN, and gettext falls back from that to zh.
TARGET_LOCALE = "zh"


def packages() -> list[str]:
    return sorted(
        p.name for p in PACKAGE_ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists() and p.name != "migrations"
    )


def _files(package: str) -> Iterator[tuple[Path, str]]:
    roots: list[Path] = [PACKAGE_ROOT / package]
    if (TEMPLATES / package).is_dir():
        roots.append(TEMPLATES / package)
    if package == "core":
        roots.extend(sorted(TEMPLATES.glob("*.html")))
        roots.extend(TEMPLATES / name for name in SHARED_TEMPLATE_DIRS)
        roots.extend(p for p in PACKAGE_ROOT.glob("*.py"))
    for root in roots:
        candidates = [root] if root.is_file() else sorted(root.rglob("*"))
        for path in candidates:
            if "migrations" in path.parts or "translations" in path.parts:
                continue
            if path.suffix == ".py":
                yield path, "python"
            elif path.suffix in (".html", ".txt", ".ics") and TEMPLATES in path.parents:
                yield path, "jinja2"


def extract_messages(package: str) -> dict[str, list[tuple[str, int]]]:
    """Every translatable string of a package, with where it occurs."""
    messages: dict[str, list[tuple[str, int]]] = {}
    for path, method in _files(package):
        extractor = "jinja2.ext:babel_extract" if method == "jinja2" else "python"
        options = {"extensions": "jinja2.ext.do", "trimmed": "true"} if method == "jinja2" else {}
        with path.open("rb") as fh:
            for lineno, message, _comments, _context in extract(
                extractor, fh, keywords=KEYWORDS, options=options, strip_comment_tags=True
            ):
                if message:
                    messages.setdefault(message, []).append((str(path.relative_to(PROJECT_ROOT)), lineno))
    return messages


def catalog_path(package: str, locale: str = TARGET_LOCALE) -> Path:
    return PACKAGE_ROOT / package / "translations" / locale / "LC_MESSAGES" / "messages.po"


def read_catalog(path: Path, locale: str = TARGET_LOCALE) -> Catalog:
    if not path.exists():
        return Catalog(locale=locale)
    with path.open("rb") as fh:
        return read_po(fh, locale=locale)


def update_catalog(package: str) -> tuple[int, int]:
    """Rewrite a package's catalog with its current strings, keeping known translations.

    Returns (strings, untranslated)."""
    messages = extract_messages(package)
    path = catalog_path(package)
    if not messages and not path.exists():
        return 0, 0
    old = read_catalog(path)
    new = Catalog(locale=TARGET_LOCALE, project="AEO Cultivation CRM", charset="utf-8")
    untranslated = 0
    for msgid in sorted(messages):
        existing = old.get(msgid)
        string = existing.string if existing is not None else ""
        if not string:
            untranslated += 1
        new.add(msgid, string, locations=sorted(set(messages[msgid]))[:5])
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        write_po(fh, new, width=120, sort_output=True, omit_header=False, include_previous=False)
    return len(messages), untranslated


def missing_translations() -> dict[str, list[str]]:
    """Strings used anywhere in the code or templates that no zh_CN catalog translates, by package."""
    translated: set[str] = set()
    for package in packages():
        catalog = read_catalog(catalog_path(package))
        translated.update(m.id for m in catalog if m.id and m.string and not m.fuzzy)
    missing: dict[str, list[str]] = {}
    for package in packages():
        for msgid in extract_messages(package):
            if msgid not in translated:
                missing.setdefault(package, []).append(msgid)
    return missing


@click.command("update-translations")
@click.argument("package_names", nargs=-1)
def update_translations_command(package_names):
    """Extract the strings of each package (or the named ones) into its zh_CN catalog."""
    for package in package_names or packages():
        total, untranslated = update_catalog(package)
        if total:
            click.echo(f"{package}: {total} strings, {untranslated} untranslated -> {catalog_path(package)}")


@click.command("compile-translations")
def compile_translations_command():
    """Compile every catalog (start-up does this too when a catalog changed)."""
    click.echo(f"Compiled {compile_catalogs(force=True)} catalog(s).")


@click.command("backup")
@click.option(
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="A folder or a .tar.gz file name (default: instance/backups/).",
)
def backup_command(output):
    """Back up the database and the attachment store into one archive with a manifest."""
    from crm.core.backup import BackupError, create_backup

    try:
        result = create_backup(output)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    manifest = result.manifest
    click.echo(
        f"{result.path}\n  {manifest['dialect']} database: {sum(manifest['tables'].values())} rows in "
        f"{len(manifest['tables'])} tables; {manifest['files']['count']} files ({manifest['files']['bytes']} bytes)"
    )


@click.command("restore")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="Replace a database that is not empty, and move current files aside.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation before replacing.")
def restore_command(archive, replace, yes):
    """Restore a backup archive into the configured (empty) database and file store, and check every table."""
    from crm.core.backup import BackupError, read_manifest, restore_backup

    try:
        manifest = read_manifest(archive)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Backup of {manifest['created_at']} ({manifest['dialect']}, {sum(manifest['tables'].values())} rows)")
    if replace and not yes:
        click.confirm("Replace the current database and move the current files aside?", abort=True)
    try:
        restore_backup(archive, replace=replace)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Restored; every table has the row count of the backup ({len(manifest['tables'])} tables).")
