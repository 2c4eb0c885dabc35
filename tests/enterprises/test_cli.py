"""``flask crm import-enterprises FILE [--dry-run] [--commit-valid] [--as USERNAME]``."""

from sqlalchemy import func, select

from crm.enterprises.models import Enterprise, EnterpriseImport, ImportStatus
from crm.extensions import db
from tests.enterprises.conftest import corrupt_check_character, csv_bytes, new_uscc, xlsx_bytes


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def count():
    return db.session.scalar(select(func.count()).select_from(Enterprise))


def test_dry_run_reports_every_row_and_writes_nothing(app, tmp_path):
    data = xlsx_bytes(
        [
            ["企业名称", "统一社会信用代码"],
            ["命令行甲有限公司", new_uscc()],
            ["命令行乙有限公司", corrupt_check_character(new_uscc())],
        ],
        title="名单",
        merge_title_over=2,
    )
    result = app.test_cli_runner().invoke(
        args=["crm", "import-enterprises", write(tmp_path, "a.xlsx", data), "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    assert "heading row 3" in result.output and "row 5" in result.output and "校验码" in result.output
    assert count() == 0 and db.session.scalar(select(func.count()).select_from(EnterpriseImport)) == 0


def test_all_or_nothing_then_commit_valid(app, tmp_path):
    good = new_uscc()
    data = csv_bytes(
        [
            ["企业名称", "统一社会信用代码"],
            ["命令行丙有限公司", good],
            ["命令行丁有限公司", corrupt_check_character(new_uscc())],
        ],
        "gb18030",
    )
    path = write(tmp_path, "b.csv", data)
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["crm", "import-enterprises", path])
    assert refused.exit_code == 1 and count() == 0
    record = db.session.scalars(select(EnterpriseImport)).one()
    assert record.status == ImportStatus.REFUSED and record.error_report_id is not None
    done = runner.invoke(args=["crm", "import-enterprises", path, "--commit-valid"])
    assert done.exit_code == 0, done.output
    assert "1 created" in done.output and "1 rejected" in done.output
    assert db.session.scalars(select(Enterprise.uscc)).all() == [good]


def test_as_a_user_limits_the_import_to_their_jurisdiction(app, tmp_path, make_user):
    user = make_user("bureau", username="qz.import", areas=["350500"])
    data = csv_bytes(
        [
            ["企业名称", "统一社会信用代码"],
            ["泉州命令行有限公司", new_uscc("350502")],
            ["福州命令行有限公司", new_uscc("350102")],
        ]
    )
    path = write(tmp_path, "c.csv", data)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["crm", "import-enterprises", path, "--commit-valid", "--as", "qz.import"])
    assert result.exit_code == 0, result.output
    created = db.session.scalars(select(Enterprise)).one()
    assert created.name == "泉州命令行有限公司" and created.created_by_id == user.id
    unknown = runner.invoke(args=["crm", "import-enterprises", path, "--as", "nobody"])
    assert unknown.exit_code != 0 and "nobody" in unknown.output


def test_unreadable_files_are_refused_with_a_message(app, tmp_path):
    result = app.test_cli_runner().invoke(
        args=["crm", "import-enterprises", write(tmp_path, "d.xlsx", b"PK\x03\x04junk")]
    )
    assert result.exit_code != 0 and "损坏" in result.output
