"""A training event: an enterprise's staff register through the invitation's link on a phone, and an officer
checks the attendee in by scanning the QR code of the confirmation."""

import io
import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE
from tests.browser.helpers import assert_no_horizontal_scroll

pytestmark = pytest.mark.browser


def read_qr_code(qr_png: bytes, scanner_page) -> str:
    """Decode a screenshot of a QR code with the jsQR the check-in page loads (as its camera scanner does)."""
    from PIL import Image

    image = Image.open(io.BytesIO(qr_png)).convert("RGBA")
    width, height = image.size
    text = scanner_page.evaluate(
        """([pixels, width, height]) => {
            const code = window.jsQR(new Uint8ClampedArray(pixels), width, height);
            return code ? code.data : null;
        }""",
        [list(image.tobytes()), width, height],
    )
    assert text, "the QR code on the confirmation page could not be read"
    return text


def test_register_through_the_link_and_check_in_with_the_qr_code(new_page, facts):
    event = facts["event"]
    guest = new_page(viewport=PHONE)  # the enterprise's staff: no account, a phone
    guest.goto(event["registration_url"])
    expect(guest.get_by_role("heading", level=1)).to_contain_text(event["title"])
    expect(guest.locator("main")).to_contain_text(event["enterprise"])
    assert_no_horizontal_scroll(guest)

    guest.get_by_label("姓名").fill("林晓关")
    guest.get_by_label("企业内职务").fill("关务经理")
    guest.get_by_label("手机").fill("138 0013 8000")
    guest.get_by_label(re.compile(r"^电子邮箱")).fill("linxg@qz-trade.cn")
    guest.get_by_role("button", name="报名", exact=True).click()

    expect(guest.get_by_role("heading", name="报名成功")).to_be_visible()
    expect(guest.get_by_text("林晓关 报名成功。")).to_be_visible()
    qr = guest.locator(".qr-box svg")
    expect(qr).to_be_visible()
    assert_no_horizontal_scroll(guest)
    qr_png = qr.screenshot()

    officer = new_page("bureau")  # the organising bureau's staff at the entrance
    officer.goto(event["check_in_url"])
    expect(officer.get_by_role("heading", name="签到", exact=True)).to_be_visible()
    row = officer.locator("tr", has_text="林晓关")
    expect(row).to_be_visible()
    expect(row.get_by_role("button", name="撤销签到")).to_have_count(0)

    scan_form = officer.locator("form[action$='/checkin/scan']")
    payload = read_qr_code(qr_png, officer)
    assert re.fullmatch(r"AEOEV1\.\d+\.\d+\.\S+", payload), payload
    scan_form.get_by_label("或输入、扫描二维码内容（适用于扫码枪）").fill(payload)
    scan_form.get_by_role("button", name="签到", exact=True).click()

    expect(officer.get_by_text(re.compile(r"林晓关（.+）已签到。"))).to_be_visible()
    row = officer.locator("tr", has_text="林晓关")
    expect(row.get_by_role("button", name="撤销签到")).to_be_visible()

    # The same code again only says so.
    scan_form.get_by_label("或输入、扫描二维码内容（适用于扫码枪）").fill(payload)
    scan_form.get_by_role("button", name="签到", exact=True).click()
    expect(officer.get_by_text(re.compile(r"林晓关 已于 .+ 签到。"))).to_be_visible()

    # The attendee's confirmation page now shows the check-in.
    guest.reload()
    expect(guest.locator("main")).to_contain_text("签到")
