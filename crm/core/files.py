"""The file store: uploads checked by content (not extension), size-limited, kept under ``CRM_FILE_STORE``
with random names, and served only by views that checked access to the record they belong to.

Every stored file has a ``StoredFile`` row saying what it belongs to (``owner_type``/``owner_id``, and the
enterprise for scope checks). Views call ``save_upload`` to store and ``send_stored`` to serve.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import zipfile
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from flask import current_app, send_file
from flask_babel import gettext as _
from sqlalchemy import ForeignKey, Index, String, event
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship
from werkzeug.datastructures import FileStorage

from crm.core.models import UTCDateTime, utcnow
from crm.extensions import db

logger = logging.getLogger(__name__)

#: Kinds of file a feature may accept, detected from their content.
PDF, PNG, JPEG, GIF, WEBP, XLSX, DOCX, PPTX, XLS, CSV, TEXT = (
    "pdf",
    "png",
    "jpeg",
    "gif",
    "webp",
    "xlsx",
    "docx",
    "pptx",
    "xls",
    "csv",
    "text",
)
IMAGES = frozenset({PNG, JPEG, GIF, WEBP})
OFFICE = frozenset({XLSX, DOCX, PPTX, XLS})
DOCUMENTS = frozenset({PDF}) | IMAGES | OFFICE
SPREADSHEETS = frozenset({XLSX, CSV})

CONTENT_TYPES = {
    PDF: "application/pdf",
    PNG: "image/png",
    JPEG: "image/jpeg",
    GIF: "image/gif",
    WEBP: "image/webp",
    XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    PPTX: "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    XLS: "application/vnd.ms-excel",
    CSV: "text/csv",
    TEXT: "text/plain",
}

#: Zip archives (XLSX, DOCX, PPTX) are refused when they would expand past these limits.
MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
MAX_COMPRESSION_RATIO = 200
MAX_ZIP_ENTRIES = 10_000


_DELETE_KEY = "crm_files_to_delete"


class UploadError(ValueError):
    """A file that cannot be accepted; the message is shown to the user."""


class StoredFile(db.Model):
    __tablename__ = "stored_files"
    __table_args__ = (Index("ix_stored_files_owner", "owner_type", "owner_id"),)
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    #: What the file belongs to, e.g. ("assessment_result", 12), ("visit", 3), ("export", 7).
    owner_type: Mapped[str] = mapped_column(String(40))
    owner_id: Mapped[int | None] = mapped_column()
    #: The enterprise the file concerns, for scope checks; NULL for files that belong to no enterprise.
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id", ondelete="SET NULL"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(10))
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column()
    sha256: Mapped[str] = mapped_column(String(64))
    #: The random name under CRM_FILE_STORE; never derived from user input.
    storage_key: Mapped[str] = mapped_column(String(64), unique=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    uploaded_by = relationship("User")

    @property
    def audit_enterprise_id(self) -> int | None:
        return self.enterprise_id

    @property
    def path(self) -> Path:
        return store_root() / self.storage_key[:2] / self.storage_key

    def __str__(self) -> str:
        return self.filename


def store_root() -> Path:
    root = Path(current_app.config["CRM_FILE_STORE"])
    root.mkdir(parents=True, exist_ok=True)
    return root


def sniff_kind(head: bytes, filename: str = "", fh: IO[bytes] | None = None) -> str | None:
    """The kind of a file from its first bytes (and, for zip containers, its entries)."""
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        # OLE2: legacy Office, or an encrypted OOXML file (which is an OLE2 wrapper).
        return XLS
    if head.startswith(b"PK\x03\x04") and fh is not None:
        try:
            fh.seek(0)
            with zipfile.ZipFile(fh) as archive:
                names = set(archive.namelist())
        except zipfile.BadZipFile:
            return None
        finally:
            fh.seek(0)
        if "xl/workbook.xml" in names:
            return XLSX
        if "word/document.xml" in names:
            return DOCX
        if "ppt/presentation.xml" in names:
            return PPTX
        return None
    if _looks_like_text(head):
        return CSV if filename.lower().endswith(".csv") else TEXT
    return None


def _looks_like_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    for encoding in ("utf-8", "gb18030"):
        try:
            head.decode(encoding)
            return True
        except UnicodeDecodeError as exc:
            # A multi-byte character cut at the end of the sample is still text.
            if exc.start >= len(head) - 4:
                return True
    return False


def check_zip_container(fh: IO[bytes]) -> None:
    """Refuse zip bombs and encrypted archives before anything parses them."""
    try:
        fh.seek(0)
        with zipfile.ZipFile(fh) as archive:
            infos = archive.infolist()
            if len(infos) > MAX_ZIP_ENTRIES:
                raise UploadError(_("The file contains too many parts to be processed safely."))
            total = 0
            for info in infos:
                if info.flag_bits & 0x1:
                    raise UploadError(_("The file is encrypted; remove the password and upload it again."))
                total += info.file_size
                ratio = info.file_size / max(info.compress_size, 1)
                if total > MAX_UNCOMPRESSED_BYTES or (info.file_size > 1024 * 1024 and ratio > MAX_COMPRESSION_RATIO):
                    raise UploadError(_("The file expands to an unreasonable size and was refused."))
    except zipfile.BadZipFile:
        raise UploadError(_("The file is damaged and cannot be read.")) from None
    finally:
        fh.seek(0)


def check_upload(
    fh: IO[bytes], filename: str, *, allowed: Iterable[str], max_bytes: int | None = None
) -> tuple[str, int]:
    """Check an uploaded stream: its size and its kind by content. Returns (kind, size) or raises UploadError."""
    max_bytes = max_bytes or current_app.config["MAX_CONTENT_LENGTH"]
    fh.seek(0, os.SEEK_END)
    size = fh.tell()
    fh.seek(0)
    if size == 0:
        raise UploadError(_("The file is empty."))
    if size > max_bytes:
        if max_bytes < 1024 * 1024:
            raise UploadError(_("The file is larger than %(kb)s KB.", kb=max_bytes // 1024))
        raise UploadError(_("The file is larger than %(mb)s MB.", mb=round(max_bytes / 1024 / 1024, 1)))
    head = fh.read(2048)
    fh.seek(0)
    kind = sniff_kind(head, filename, fh)
    allowed = frozenset(allowed)
    if kind in (XLSX, DOCX, PPTX):
        check_zip_container(fh)
    if kind is None or kind not in allowed:
        raise UploadError(_("This kind of file is not accepted here."))
    return kind, size


def save_upload(
    upload: FileStorage,
    *,
    owner_type: str,
    owner_id: int | None,
    enterprise_id: int | None,
    allowed: Iterable[str] = DOCUMENTS,
    max_bytes: int | None = None,
    uploaded_by: Any = None,
) -> StoredFile:
    """Check and store an uploaded file; the caller commits (a failed commit leaves an orphan file, never a
    row without its file)."""
    filename = os.path.basename(upload.filename or "upload")[:255] or "upload"
    kind, size = check_upload(upload.stream, filename, allowed=allowed, max_bytes=max_bytes)
    return store_bytes_from(
        upload.stream,
        filename=filename,
        kind=kind,
        size=size,
        owner_type=owner_type,
        owner_id=owner_id,
        enterprise_id=enterprise_id,
        uploaded_by=uploaded_by,
    )


def store_bytes_from(
    fh: IO[bytes],
    *,
    filename: str,
    kind: str,
    size: int | None = None,
    owner_type: str,
    owner_id: int | None,
    enterprise_id: int | None,
    uploaded_by: Any = None,
) -> StoredFile:
    """Write a stream into the store under a random key (for generated files as well as uploads)."""
    key = secrets.token_hex(20)
    stored = StoredFile(
        owner_type=owner_type,
        owner_id=owner_id,
        enterprise_id=enterprise_id,
        filename=filename,
        kind=kind,
        content_type=CONTENT_TYPES.get(kind, "application/octet-stream"),
        size=0,
        sha256="",
        storage_key=key,
        uploaded_by_id=getattr(uploaded_by, "id", None),
    )
    path = stored.path
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    written = 0
    tmp = path.with_suffix(".part")
    fh.seek(0)
    with tmp.open("wb") as out:
        for chunk in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(chunk)
            written += len(chunk)
            out.write(chunk)
    os.replace(tmp, path)
    stored.size = written if size is None else size
    stored.sha256 = digest.hexdigest()
    db.session.add(stored)
    db.session.flush()
    return stored


def send_stored(stored: StoredFile, *, as_attachment: bool = True):
    """Serve a stored file. Call only after checking the caller may see what it belongs to."""
    if not stored.path.exists():
        logger.error("Stored file %s is missing from the store at %s", stored.id, stored.path)
        from flask import abort

        abort(404)
    response = send_file(
        stored.path,
        mimetype=stored.content_type,
        as_attachment=as_attachment or stored.kind not in IMAGES | {PDF},
        download_name=stored.filename,
        max_age=0,
    )
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def delete_stored(stored: StoredFile) -> None:
    """Delete the row now and the file once the caller's transaction commits."""
    path = stored.path
    db.session.delete(stored)
    db.session.info.setdefault(_DELETE_KEY, []).append(str(path))


@event.listens_for(Session, "after_commit")
def _delete_files_after_commit(session: Session) -> None:
    for name in session.info.pop(_DELETE_KEY, []):
        try:
            Path(name).unlink(missing_ok=True)
        except OSError as exc:  # a file we cannot delete is logged, never fatal
            logger.warning("Could not delete stored file %s: %s", name, exc)


@event.listens_for(Session, "after_soft_rollback")
def _keep_files_after_rollback(session: Session, previous_transaction: Any) -> None:
    session.info.pop(_DELETE_KEY, None)
