"""Uploads are judged by their content, not their name; oversized files and zip bombs are refused before
anything parses them, and a refused upload leaves nothing behind."""

from __future__ import annotations

import io
import zipfile

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from crm.core import files
from crm.core.files import StoredFile, UploadError, check_upload, save_upload
from crm.extensions import db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << >> endobj\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 48


def office_zip(entries: dict[str, bytes], *, kind: str = "xlsx", encrypted: str | None = None) -> bytes:
    """A zip container shaped like an Office file (XLSX by default) with extra entries."""
    marker = {"xlsx": "xl/workbook.xml", "docx": "word/document.xml", "pptx": "ppt/presentation.xml"}[kind]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(marker, "<workbook/>")
        for name, content in entries.items():
            archive.writestr(name, content)
    data = bytearray(buffer.getvalue())
    if encrypted:
        # zipfile cannot write encrypted entries: set the "encrypted" flag in the entry's central directory
        # record, which is what a reader (and the upload check) trusts.
        record = data.find(b"PK\x01\x02")
        name = encrypted.encode()
        while record != -1:
            name_length = int.from_bytes(data[record + 28 : record + 30], "little")
            if data[record + 46 : record + 46 + name_length] == name:
                data[record + 8] |= 0x1
            record = data.find(b"PK\x01\x02", record + 4)
    return bytes(data)


def upload(data: bytes, filename: str) -> FileStorage:
    return FileStorage(stream=io.BytesIO(data), filename=filename)


def stored_count() -> int:
    return db.session.scalar(select(func.count()).select_from(StoredFile)) or 0


# --- zip bombs -------------------------------------------------------------------------------------------


def test_a_highly_compressed_entry_is_refused():
    bomb = office_zip({"xl/worksheets/sheet1.xml": b"0" * (20 * 1024 * 1024)})
    assert len(bomb) < 100 * 1024  # tiny on the wire ...
    with pytest.raises(UploadError, match="体积异常"):  # ... refused before it is expanded
        check_upload(io.BytesIO(bomb), "report.xlsx", allowed=files.SPREADSHEETS)


def test_too_much_content_in_total_is_refused(monkeypatch):
    # Many entries, each compressed reasonably, adding up past the limit (lowered so the test stays small).
    monkeypatch.setattr(files, "MAX_UNCOMPRESSED_BYTES", 200 * 1024)
    entries = {f"xl/worksheets/sheet{n}.xml": bytes(range(256)) * 400 for n in range(5)}
    with pytest.raises(UploadError, match="体积异常"):
        check_upload(io.BytesIO(office_zip(entries)), "big.xlsx", allowed=files.SPREADSHEETS)


def test_too_many_entries_are_refused(monkeypatch):
    monkeypatch.setattr(files, "MAX_ZIP_ENTRIES", 50)
    entries = {f"xl/media/image{n}.png": PNG for n in range(60)}
    with pytest.raises(UploadError, match="部件过多"):
        check_upload(io.BytesIO(office_zip(entries)), "many.xlsx", allowed=files.SPREADSHEETS)


def test_encrypted_office_files_are_refused():
    locked = office_zip({"xl/worksheets/sheet1.xml": b"<sheet/>"}, encrypted="xl/worksheets/sheet1.xml")
    with pytest.raises(UploadError, match="已加密"):
        check_upload(io.BytesIO(locked), "locked.xlsx", allowed=files.SPREADSHEETS)


def test_a_damaged_zip_is_refused():
    damaged = office_zip({"xl/worksheets/sheet1.xml": b"<sheet/>"})[:-40]
    with pytest.raises(UploadError):
        check_upload(io.BytesIO(damaged), "damaged.xlsx", allowed=files.SPREADSHEETS)


def test_docx_and_pptx_bombs_are_refused_too():
    for kind in ("docx", "pptx"):
        bomb = office_zip({"payload.xml": b"A" * (10 * 1024 * 1024)}, kind=kind)
        with pytest.raises(UploadError):
            check_upload(io.BytesIO(bomb), f"doc.{kind}", allowed=files.DOCUMENTS)


# --- wrong types -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "filename", "allowed"),
    [
        (EXE, "photo.png", files.IMAGES),  # a program renamed as a picture
        (EXE, "report.pdf", files.DOCUMENTS),
        (b"<html><script>alert(1)</script></html>", "photo.jpg", files.IMAGES),  # a web page as a picture
        (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "logo.png", files.IMAGES),
        (PNG, "list.xlsx", files.SPREADSHEETS),  # a picture renamed as a spreadsheet
        (PDF, "list.csv", files.SPREADSHEETS),
        (b"PK\x03\x04" + b"\x00" * 60, "list.xlsx", files.SPREADSHEETS),  # zip magic, not a workbook
    ],
)
def test_a_renamed_file_is_judged_by_its_content(data, filename, allowed):
    with pytest.raises(UploadError):
        check_upload(io.BytesIO(data), filename, allowed=allowed)


def test_a_plain_zip_named_xlsx_is_not_a_spreadsheet():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("notes.txt", "hello")
    with pytest.raises(UploadError):
        check_upload(io.BytesIO(buffer.getvalue()), "list.xlsx", allowed=files.SPREADSHEETS)


def test_the_right_content_under_the_wrong_name_is_accepted_as_what_it_is():
    assert check_upload(io.BytesIO(PDF), "scan.png", allowed=files.DOCUMENTS)[0] == "pdf"


# --- sizes -----------------------------------------------------------------------------------------------


def test_oversized_and_empty_files_are_refused(app):
    with pytest.raises(UploadError, match="文件超过"):
        check_upload(io.BytesIO(PDF + b"x" * 5000), "big.pdf", allowed=files.DOCUMENTS, max_bytes=4096)
    with pytest.raises(UploadError, match="文件为空"):
        check_upload(io.BytesIO(b""), "empty.pdf", allowed=files.DOCUMENTS)


def test_the_configured_upload_limit_applies_by_default(app, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024)
    with pytest.raises(UploadError, match="文件超过"):
        check_upload(io.BytesIO(PDF + b"x" * 2048), "big.pdf", allowed=files.DOCUMENTS)


def test_a_request_body_over_the_limit_is_refused_with_413(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 2048)
    response = client.post(
        "/login",
        data={"username": "x", "password": "y", "file": (io.BytesIO(b"x" * 4096), "big.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413


# --- nothing left behind ---------------------------------------------------------------------------------


def test_a_refused_upload_stores_nothing(app):
    before = stored_count()
    root = files.store_root()
    on_disk = {p for p in root.rglob("*") if p.is_file()}
    bomb = office_zip({"xl/worksheets/sheet1.xml": b"0" * (20 * 1024 * 1024)})
    for data, name in ((bomb, "bomb.xlsx"), (EXE, "photo.png")):
        with pytest.raises(UploadError):
            save_upload(upload(data, name), owner_type="test", owner_id=1, enterprise_id=None, allowed=files.DOCUMENTS)
    assert stored_count() == before
    assert {p for p in root.rglob("*") if p.is_file()} == on_disk


def test_an_accepted_upload_keeps_a_safe_name_and_its_sniffed_type(app):
    stored = save_upload(upload(PNG, "../../<script>x</script>.png"), owner_type="test", owner_id=1, enterprise_id=None)
    assert stored.kind == "png" and stored.content_type == "image/png"
    assert "/" not in stored.filename and ".." not in stored.storage_key
    assert stored.path.is_relative_to(files.store_root())
