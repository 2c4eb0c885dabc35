"""Email through a real SMTP server on loopback: a failed send is kept and retried with back-off, never lost."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from email.header import decode_header, make_header

import pytest
from aiosmtpd.controller import Controller

from crm.core import jobs
from crm.core.models import utcnow
from crm.extensions import db
from crm.notifications import delivery
from crm.notifications.models import OutboxMessage, OutboxStatus
from crm.notifications.services import queue_email


class Inbox:
    """An aiosmtpd handler keeping what it receives; refuses addresses at refused.test."""

    def __init__(self) -> None:
        self.messages: list = []

    async def handle_RCPT(  # noqa: N802 (aiosmtpd hook name)
        self, server, session, envelope, address, rcpt_options
    ):
        if address.endswith("@refused.test"):
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd hook name)
        self.messages.append(envelope)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_port(app, monkeypatch) -> int:
    """Mail configured to a loopback port where (for now) nothing listens."""
    port = free_port()
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", port)
    return port


@pytest.fixture
def start_smtp(smtp_port) -> Iterator:
    controllers: list[Controller] = []

    def start() -> Inbox:
        inbox = Inbox()
        controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
        controller.start()
        controllers.append(controller)
        return inbox

    yield start
    for controller in controllers:
        controller.stop()


def reload(message: OutboxMessage) -> OutboxMessage:
    db.session.refresh(message)
    return message


def subject_of(envelope) -> str:
    return str(make_header(decode_header(message_from_bytes(envelope.content)["Subject"])))


def test_smtp_down_then_up_delivers_the_kept_message(app, start_smtp):
    message = queue_email("officer@customs.test", "复核提醒：厦门某某进出口有限公司", "请于30天内完成复核准备。")
    db.session.commit()
    jobs.dispatch_ready()  # the first attempt: nothing listens on the port

    reload(message)
    assert message.status == OutboxStatus.PENDING
    assert message.attempts == 1 and "Connection" in message.last_error
    assert message.next_attempt_at - utcnow() > timedelta(seconds=30)  # back-off: about a minute

    inbox = start_smtp()
    # Not due yet: the periodic delivery leaves it alone until its next attempt.
    assert delivery.deliver_pending(utcnow())["sent"] == 0
    assert inbox.messages == []

    counts = delivery.deliver_pending(message.next_attempt_at + timedelta(seconds=1))
    assert counts == {"sent": 1, "retry": 0, "failed": 0}
    reload(message)
    assert message.status == OutboxStatus.SENT and message.attempts == 2 and message.last_error is None
    [envelope] = inbox.messages
    assert envelope.rcpt_tos == ["officer@customs.test"]
    assert subject_of(envelope) == "复核提醒：厦门某某进出口有限公司"


def test_a_message_that_keeps_failing_becomes_failed_for_good(app, smtp_port, client, make_user):
    message = queue_email("officer@customs.test", "提醒", "正文")
    db.session.commit()
    jobs.dispatch_ready()
    now = utcnow()
    while reload(message).status == OutboxStatus.PENDING:
        now = message.next_attempt_at + timedelta(seconds=1)
        delivery.deliver_pending(now)
    assert message.status == OutboxStatus.FAILED and message.attempts == delivery.MAX_ATTEMPTS
    assert message.last_error

    # Administrators see it: a badge in the navigation and the failed list of the outbox.
    client.login(make_user("admin"))
    home = client.get("/").get_data(as_text=True)
    assert "/admin/operations/outbox?status=failed" in home
    page = client.get("/admin/operations/outbox?status=failed").get_data(as_text=True)
    assert "提醒" in page and "officer@customs.test" in page


def test_an_address_the_server_refuses_fails_at_once(app, start_smtp):
    start_smtp()
    message = queue_email("nobody@refused.test", "提醒", "正文")
    db.session.commit()
    jobs.dispatch_ready()
    reload(message)
    assert message.status == OutboxStatus.FAILED and message.attempts == 1
    assert "refused" in message.last_error


def test_backoff_grows_and_is_capped():
    delays = [delivery.backoff(n) for n in range(1, 10)]
    assert delays[0] == timedelta(minutes=1) and delays[1] == timedelta(minutes=5)
    assert delays == sorted(delays) and delays[-1] == timedelta(hours=12)


def test_an_email_without_an_address_fails_at_once(app, smtp_port):
    message = queue_email("", "提醒", "正文")
    db.session.commit()
    jobs.dispatch_ready()
    assert reload(message).status == OutboxStatus.FAILED and "no email address" in message.last_error


def test_without_a_mail_server_periodic_delivery_leaves_email_alone(app):
    message = queue_email("officer@customs.test", "提醒", "正文")
    db.session.commit()
    jobs.dispatch_ready()
    assert reload(message).attempts == 1
    delivery.deliver_pending(utcnow() + timedelta(days=1))
    assert reload(message).attempts == 1 and message.status == OutboxStatus.PENDING
    assert message.last_error == delivery.MAIL_NOT_CONFIGURED
