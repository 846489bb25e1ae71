"""The two screens and the API docs in headless Chromium: sign in, record a sale by keyboard
alone, see it on the dashboard, see Swagger UI render; nothing leaves 127.0.0.1."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from decimal import Decimal

import asyncpg
import pytest
from playwright.async_api import BrowserContext, Page, Route, expect

from tests.keys import ChainKeys
from tests.rows import one, pairs
from tests.screens.conftest import Traffic, screenshot_path

pytestmark = pytest.mark.browser


async def sign_in(page: Page, key: str) -> None:
    await expect(page.locator("#sign-in")).to_be_visible()
    await page.locator("#key").fill(key)
    await page.keyboard.press("Enter")
    await expect(page.locator("#app")).to_be_visible()


async def test_a_sale_by_keyboard_on_the_till_shows_on_the_dashboard(
    context: BrowserContext,
    servers: dict[str, str],
    keys: ChainKeys,
    catalog: asyncpg.Connection,
    traffic: Traffic,
) -> None:
    till = await context.new_page()
    await till.goto(servers["cash_register"] + "/")
    await sign_in(till, keys.tills["SMKT002"])
    await expect(till.locator("#who")).to_contain_text("SMKT002")
    search = till.locator("#search")
    await expect(search).to_be_focused()

    # A cashier types product names and Enter; twice milk, once bread.
    for name in ("milk", "milk", "bread"):
        await till.keyboard.type(name)
        await till.keyboard.press("Enter")
    prices = pairs(await catalog.fetch("SELECT name, unit_price FROM products"))
    expected_total = 2 * prices["milk"] + prices["bread"]
    await expect(till.locator("#basket tr")).to_have_count(2)
    total_on_screen = await till.locator("#total").inner_text()
    assert _amount(total_on_screen) == expected_total
    await till.screenshot(path=screenshot_path("till-basket"), full_page=True)

    await till.keyboard.press("Control+Enter")
    await expect(till.locator("#receipt-number")).to_be_visible()
    receipt_text = await till.locator("#receipt-number").inner_text()
    stored = one(
        await catalog.fetchrow(
            "SELECT id, supermarket_id, till_id, total_amount, purchased_at FROM purchases"
        )
    )
    assert f"Purchase {stored['id']}" in receipt_text
    chained = one(
        await catalog.fetchrow(
            "SELECT receipt_number, encode(entry_hash, 'hex') AS hash FROM till_entries "
            "WHERE purchase_id = $1",
            stored["id"],
        )
    )
    chain_text = await till.locator("#receipt-chain").inner_text()
    assert f"Receipt no. {chained['receipt_number']} of this till" in chain_text
    assert chained["hash"] in chain_text
    assert (stored["supermarket_id"], stored["till_id"]) == ("SMKT002", "till-smkt002")
    assert stored["total_amount"] == expected_total
    await till.screenshot(path=screenshot_path("till-receipt"), full_page=True)

    dashboard = await context.new_page()
    await dashboard.goto(servers["analytics"] + "/")
    await sign_in(dashboard, keys.owner)
    await expect(dashboard.locator("#purchases")).to_have_text("1")
    assert await dashboard.locator("#to").input_value() == datetime.now(UTC).date().isoformat()
    await expect(dashboard.locator("#top tr").first).to_contain_text("milk")
    assert _amount(await dashboard.locator("#revenue").inner_text()) == expected_total
    # The answers' X-Data-As-Of, shown: the sale is counted, so the moment is after it.
    freshness = re.search(r"up to (\S+ \S+) UTC", await dashboard.locator("#as-of").inner_text())
    assert freshness is not None
    shown = datetime.strptime(freshness.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    assert shown >= stored["purchased_at"].replace(microsecond=0)
    await expect(dashboard.locator("#refunds")).to_have_text("0")
    await expect(dashboard.locator("#returned")).to_contain_text("no refunds")
    # The till's open day: one receipt, never closed yet.
    await expect(dashboard.locator("#tills tr")).to_have_count(1)
    await expect(dashboard.locator("#tills tr").first).to_contain_text("till-smkt002")
    await expect(dashboard.locator("#tills tr").first).to_contain_text("never closed")
    # Every column of the per-store table is in sight at 1280 px.
    await dashboard.set_viewport_size({"width": 1280, "height": 900})
    last_column = await dashboard.locator("#stores-title ~ .table-wrap th").last.bounding_box()
    assert last_column is not None
    assert last_column["x"] + last_column["width"] <= 1280
    # Each table downloads as CSV, signed in by the session like the page.
    href = await dashboard.locator("#stores-csv").get_attribute("href")
    assert href is not None
    assert "format=csv" in href
    download = await dashboard.request.get(servers["analytics"] + href)
    assert download.ok
    lines = (await download.body()).decode("utf-8-sig").splitlines()
    assert lines[0].startswith("supermarket_id,")
    assert any(line.startswith("SMKT002,") for line in lines)
    await dashboard.screenshot(path=screenshot_path("dashboard"), full_page=True)

    assert traffic.seen, "the browser's requests were recorded"
    assert traffic.elsewhere() == []


async def test_a_wrong_key_is_refused_in_words_and_sign_out_forgets_the_session(
    context: BrowserContext, servers: dict[str, str], keys: ChainKeys, traffic: Traffic
) -> None:
    dashboard = await context.new_page()
    await dashboard.goto(servers["analytics"] + "/dashboard")
    await dashboard.locator("#key").fill(keys.tills["SMKT001"])
    await dashboard.keyboard.press("Enter")
    await expect(dashboard.locator("#status")).to_contain_text("does not sign in")
    await sign_in(dashboard, keys.owner)
    cookies = {c["name"]: c for c in await context.cookies()}
    assert cookies["owner_session"]["httpOnly"] is True
    assert cookies["owner_session"]["sameSite"] == "Strict"
    await dashboard.locator("#sign-out").click()
    await expect(dashboard.locator("#sign-in")).to_be_visible()
    await dashboard.reload()
    await expect(dashboard.locator("#sign-in")).to_be_visible()
    assert traffic.elsewhere() == []


async def test_swagger_ui_renders_from_the_service_itself(
    context: BrowserContext, servers: dict[str, str], traffic: Traffic
) -> None:
    for name, url in servers.items():
        page = await context.new_page()
        await page.goto(url + "/docs")
        await expect(page.locator(".swagger-ui .info .title")).to_be_visible()
        await expect(page.locator(".opblock").first).to_be_visible()
        await page.screenshot(path=screenshot_path(f"docs-{name}"))
    assert any("/static/docs/swagger-ui-bundle.js" in url for url in traffic.seen)
    assert traffic.elsewhere() == []


def _amount(shown: str) -> Decimal:
    """The number in a formatted amount such as '€4.20' or '4,20 €'."""
    digits = "".join(ch for ch in shown if ch.isdigit() or ch in ".,")
    return Decimal(digits.replace(",", "."))


async def test_goods_taken_back_at_the_till_by_keyboard_with_an_owners_approval(
    context: BrowserContext,
    servers: dict[str, str],
    keys: ChainKeys,
    catalog: asyncpg.Connection,
    traffic: Traffic,
) -> None:
    """Return mode: the receipt number, Enter, the units by keyboard, Ctrl+Enter; a refund
    above the approval threshold asks for an owner's key, then goes through, once."""
    till = await context.new_page()
    await till.goto(servers["cash_register"] + "/")
    await sign_in(till, keys.tills["SMKT003"])
    sold = await till.request.post(
        servers["cash_register"] + "/purchase",
        data={"supermarket_id": "SMKT003", "items": ["chicken"] * 9 + ["milk"]},
        headers={"Authorization": f"Bearer {keys.tills['SMKT003']}"},
    )
    assert sold.status == 201
    purchase = (await sold.json())["purchase_id"]

    await till.keyboard.press("Alt+r")
    await expect(till.locator("#return-receipt")).to_be_focused()
    await till.keyboard.type(str(purchase))
    await till.keyboard.press("Enter")
    await expect(till.locator("#return-lines tr")).to_have_count(2)
    # The first line (milk, by product order) has the focus; Tab to chicken: all nine back.
    await till.keyboard.press("Tab")
    await till.keyboard.type("9")
    await till.keyboard.press("Control+Enter")
    await expect(till.locator("#approval-key")).to_be_focused()
    await expect(till.locator("#status")).to_contain_text("approval")
    assert await catalog.fetchval("SELECT count(*) FROM refunds") == 0
    await till.keyboard.type(keys.owner)
    await till.keyboard.press("Control+Enter")
    await expect(till.locator("#refund-number")).to_be_visible()
    refund = one(await catalog.fetchrow("SELECT total_amount, approved_by, till_id FROM refunds"))
    prices = pairs(await catalog.fetch("SELECT name, unit_price FROM products"))
    assert refund["total_amount"] == 9 * prices["chicken"]
    assert (refund["approved_by"], refund["till_id"]) == ("test-owner", "till-smkt003")
    shown = (await till.locator("#refund-number").inner_text()).rsplit("·", 1)[1]
    assert _amount(shown) == refund["total_amount"]
    chained = await catalog.fetchval(
        "SELECT receipt_number FROM till_entries WHERE kind = 'refund' AND till_id = 'till-smkt003'"
    )
    chain_text = await till.locator("#refund-chain").inner_text()
    assert f"Receipt no. {chained} of this till" in chain_text
    await till.screenshot(path=screenshot_path("till-refund"), full_page=True)
    assert traffic.elsewhere() == []


async def test_alt_r_while_the_catalog_loads_keeps_the_cashier_in_the_return(
    context: BrowserContext, servers: dict[str, str], keys: ChainKeys, traffic: Traffic
) -> None:
    """The screen puts the cursor in the product search once the catalog has loaded; a
    cashier who pressed Alt+R meanwhile stays in the receipt number of a return."""
    till = await context.new_page()
    catalog_held = asyncio.Event()

    async def hold_catalog(route: Route) -> None:
        await catalog_held.wait()
        await route.continue_()

    await till.route("**/catalog", hold_catalog)
    await till.goto(servers["cash_register"] + "/")
    await sign_in(till, keys.tills["SMKT001"])
    await till.keyboard.press("Alt+r")
    await expect(till.locator("#return-receipt")).to_be_focused()
    async with till.expect_response("**/catalog"):
        catalog_held.set()
    await till.wait_for_timeout(200)  # the screen's own step after the catalog arrives
    await expect(till.locator("#return-receipt")).to_be_focused()
