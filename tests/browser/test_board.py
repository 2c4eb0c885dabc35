"""The pipeline board: a card dragged to a stage whose guard asks for a date moves once the dialog is filled; a
card whose move the rules refuse stays put and says why."""

import re
from datetime import date
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import drag, guard_of

pytestmark = pytest.mark.browser


def card(page, enterprise_id: int):
    return page.locator(f"[data-card][data-enterprise-id='{enterprise_id}']")


def column(page, key: str):
    return page.locator(f"[data-column='{key}']")


def test_drag_to_a_stage_whose_guard_asks_for_the_application_date(new_page, facts):
    board = facts["board"]
    page = new_page("bureau")
    # The board asks the server, which answers 422 with what the move needs or why it is refused.
    guard_of(page).expect_console_error(r"status of 422")
    page.goto(f"/pipeline/?q={board['query']}")
    ready = card(page, board["ready"])
    expect(column(page, "ready").locator(ready)).to_be_visible()

    drag(page, ready, column(page, "applied"))
    dialog = page.locator("#move-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading")).to_contain_text("看板甲进出口有限公司")
    date_field = dialog.get_by_label("提交申请日期")
    expect(date_field).to_be_visible()
    date_field.fill(date.today().isoformat())
    dialog.get_by_role("button", name="移动", exact=True).click()

    expect(dialog).to_be_hidden()
    moved = column(page, "applied").locator(f"[data-enterprise-id='{board['ready']}']")
    expect(moved).to_be_visible()
    expect(column(page, "ready").locator(f"[data-enterprise-id='{board['ready']}']")).to_have_count(0)

    # The move is real: the enterprise's page says so after a reload.
    page.goto(f"/enterprises/{board['ready']}")
    expect(page.locator("main")).to_contain_text("已提交申请")


def test_a_refused_drag_leaves_the_card_and_says_why(new_page, facts):
    board = facts["board"]
    page = new_page("bureau")
    # The board asks the server, which answers 422 with what the move needs or why it is refused.
    guard_of(page).expect_console_error(r"status of 422")
    page.goto(f"/pipeline/?q={board['query']}")
    refused = card(page, board["refused"])
    expect(column(page, "cultivating").locator(refused)).to_be_visible()

    drag(page, refused, column(page, "ready"))
    reason = refused.get_by_role("alert")
    expect(reason).to_be_visible()
    expect(reason).to_contain_text(re.compile("未移动"))
    expect(reason).to_contain_text("一企一策")
    expect(page.locator("#move-dialog")).to_be_hidden()
    expect(column(page, "cultivating").locator(refused)).to_be_visible()
    expect(column(page, "ready").locator(f"[data-enterprise-id='{board['refused']}']")).to_have_count(0)


def test_load_more_brings_the_next_cards_of_a_column_in_place(new_page):
    page = new_page("bureau")
    page.goto("/pipeline/")
    more = page.locator("[data-column] [data-load-more]").first
    expect(more).to_be_visible()
    column_key = more.locator("xpath=ancestor::*[@data-column][1]").get_attribute("data-column")
    cards = column(page, column_key).locator("[data-card]")
    shown = cards.count()
    assert shown == 10
    more.click()
    expect(cards.nth(shown)).to_be_visible()
    assert cards.count() > shown
    assert urlsplit(page.url).path == "/pipeline/"  # the script loaded them; the link's list page was not opened
    # Every card appears once, and the new ones are cards like the others (draggable, with a move menu).
    ids = cards.evaluate_all("cards => cards.map(card => card.dataset.enterpriseId)")
    assert len(ids) == len(set(ids))
    expect(cards.nth(shown).locator("[data-move-menu]")).to_have_count(1)
