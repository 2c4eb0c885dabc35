"""The notification centre's pages at any depth: ids from an index ending in (created_at, id), then the rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, inspect, select, text
from sqlalchemy.orm import joinedload

from crm.core.models import utcnow
from crm.core.pagination import paginate
from crm.extensions import db
from crm.notifications.models import Notification, OutboxMessage
from crm.notifications.services import notify, unread_count_column, user_notifications
from tests.query_plans import plan_of_last_statement


@pytest.fixture
def reader(make_user):
    """A user with 23 notifications (every third read), several of them created at the same instant."""
    user = make_user("bureau", areas=["350100"])
    other = make_user("bureau", areas=["350100"])
    moment = utcnow() - timedelta(days=1)
    for n in range(23):
        created = moment + timedelta(minutes=n // 4)  # four at a time share their instant
        db.session.add(
            Notification(user_id=user.id, title=f"提醒{n}", created_at=created, read_at=created if n % 3 == 0 else None)
        )
        db.session.add(Notification(user_id=other.id, title=f"别人的{n}", created_at=created))
    db.session.commit()
    return user


@pytest.mark.parametrize("unread_only", [False, True])
def test_pages_by_ids_hold_the_same_notifications_in_the_same_order(reader, unread_only):
    stmt = user_notifications(reader, unread_only=unread_only)
    for page in range(1, 6):
        expected = paginate(stmt, page, 5)
        got = paginate(stmt, page, 5, id_column=Notification.id)
        assert [n.id for n in got.items] == [n.id for n in expected.items]
        assert got.total == expected.total
    beyond = paginate(stmt, 99, 5, id_column=Notification.id)
    assert beyond.items == [] and beyond.total == (15 if unread_only else 23)


def test_the_page_reads_only_ids_then_only_its_rows(reader):
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(" ".join(statement.split()))

    engine = db.session.get_bind()
    event.listen(engine, "before_cursor_execute", record)
    try:
        page = paginate(user_notifications(reader), 3, 5, id_column=Notification.id)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len(page.items) == 5
    ids_query, rows_query = statements[-2:]
    assert ids_query.startswith("SELECT notifications.id FROM notifications") and "OFFSET" in ids_query
    assert "OFFSET" not in rows_query and "IN" in rows_query


def test_loader_options_apply_to_the_rows(reader):
    for n in range(3):
        notify(reader, f"消息{n}")
    db.session.commit()
    stmt = select(OutboxMessage).options(joinedload(OutboxMessage.user)).order_by(OutboxMessage.id.desc())
    page = paginate(stmt, 2, 2, id_column=OutboxMessage.id)
    assert [m.subject for m in page.items] == ["消息0"]
    assert all("user" not in inspect(message).unloaded for message in page.items)


@pytest.fixture
def long_read(reader):
    """The reader has also read 400 older notifications, with the table's statistics up to date: the planner
    then sees what a real table holds, most notifications read."""
    moment = utcnow() - timedelta(days=30)
    db.session.add_all(
        [Notification(user_id=reader.id, title=f"旧{n}", created_at=moment, read_at=moment) for n in range(400)]
    )
    db.session.flush()
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("ANALYZE notifications"))
    return reader


@pytest.mark.parametrize(
    ("reads", "index"),
    [
        (lambda user: user_notifications(user), "ix_notifications_user_id_created_at_id"),
        (lambda user: user_notifications(user, unread_only=True), "ix_notifications_unread_user_id_created_at_id"),
    ],
    ids=["all", "unread"],
)
def test_a_deep_page_reads_its_ids_from_the_index_alone(long_read, reads, index):
    ids = reads(long_read).with_only_columns(Notification.id).limit(50).offset(10_000)
    if db.session.get_bind().dialect.name == "postgresql":
        # A test table is small enough to sort whole: ask which index gives the order without a sort.
        db.session.execute(text("SET LOCAL enable_sort = off"))
        db.session.execute(text("SET LOCAL enable_bitmapscan = off"))
    plan = plan_of_last_statement(lambda: db.session.scalars(ids).all())
    assert index in plan and "Sort" not in plan


def test_the_unread_badge_counts_from_the_unread_index(long_read):
    plan = plan_of_last_statement(lambda: db.session.scalar(select(unread_count_column(long_read.id))))
    assert "ix_notifications_unread_user_id_created_at_id" in plan
