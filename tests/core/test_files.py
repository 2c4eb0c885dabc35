"""The file store: kinds by content, size limits, zip bombs, storage and deletion after commit."""

import io
import zipfile

import pytest
from werkzeug.datastructures import FileStorage

from crm.core import files
from crm.core.files import UploadError, check_upload, save_upload
from crm.extensions import db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def xlsx_bytes(extra: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "name", "kind"),
    [
        (b"%PDF-1.7\n...", "a.pdf", "pdf"),
        (PNG, "x.png", "png"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 20, "p.jpg", "jpeg"),
        (xlsx_bytes(), "list.xlsx", "xlsx"),
        ("企业名称,统一社会信用代码\n".encode("gb18030"), "list.csv", "csv"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 40, "old.xls", "xls"),
    ],
)
def test_kinds_are_detected_by_content(data, name, kind):
    assert check_upload(io.BytesIO(data), name, allowed=[kind])[0] == kind


def test_a_renamed_file_is_judged_by_its_content():
    with pytest.raises(UploadError):
        check_upload(io.BytesIO(b"MZ\x90\x00 executable"), "photo.png", allowed=files.IMAGES)
    with pytest.raises(UploadError):
        check_upload(io.BytesIO(PNG), "list.xlsx", allowed=files.SPREADSHEETS)


def test_size_limit_and_empty_files(app):
    with pytest.raises(UploadError):
        check_upload(io.BytesIO(b""), "a.pdf", allowed=["pdf"])
    with pytest.raises(UploadError):
        check_upload(io.BytesIO(b"%PDF-" + b"x" * 2000), "a.pdf", allowed=["pdf"], max_bytes=1000)


def test_zip_bombs_are_refused():
    bomb = xlsx_bytes({"xl/worksheets/sheet1.xml": b"0" * (30 * 1024 * 1024)})
    with pytest.raises(UploadError):
        check_upload(io.BytesIO(bomb), "bomb.xlsx", allowed=files.SPREADSHEETS)


def test_store_serve_and_delete_after_commit(app, client, make_user):
    upload = FileStorage(stream=io.BytesIO(PNG), filename="../../etc/photo.png")
    stored = save_upload(upload, owner_type="test", owner_id=1, enterprise_id=None, allowed=files.IMAGES)
    db.session.commit()
    assert stored.filename == "photo.png" and stored.kind == "png" and stored.path.exists()
    assert ".." not in str(stored.path.relative_to(files.store_root()))
    with app.test_request_context():
        response = files.send_stored(stored)
        assert response.headers["Cache-Control"] == "private, no-store"
        response.close()
    files.delete_stored(stored)
    assert stored.path.exists()
    db.session.commit()
    assert not stored.path.exists()
