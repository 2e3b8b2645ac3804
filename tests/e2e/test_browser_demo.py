"""The demo page (web/) in a real browser: Debian's Chromium driven by Playwright, against the local stack.

The test acts as the user at the Jekimo sandbox (approve with risk, with a PIN it chooses) and as the user
on the demo page (types the PIN from the email: a wrong one first, then the right one)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Response, expect, sync_playwright

from tests.e2e.client import Api, act_as_user
from tests.e2e.helpers import mail_to, new_pin, unique_email
from tests.e2e.stack import RunningStack

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
#: The page polls every 2 s; a Jekimo verdict takes up to one poll interval (1 s) more to land.
STATUS_TIMEOUT_MS = 15_000


@pytest.fixture
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        # Never a skip: the browser test is part of `make test`, which installs Chromium first.
        pytest.fail(
            f"{CHROMIUM} is missing: run scripts/ensure-chromium.sh (or apt-get install -y chromium); "
            f"chromium on PATH: {shutil.which('chromium')}"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()


def test_demo_page_runs_a_two_factor_verification_to_approved(
    page: Page, stack: RunningStack, api: Api
) -> None:
    problems: list[str] = []
    failed: list[tuple[int, str]] = []  # HTTP errors the page met, besides the console's note of them
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            problems.append(f"console error: {message.text}")

    page.on("console", on_console)

    def on_response(response: Response) -> None:
        if response.status >= 400:
            failed.append((response.status, urlsplit(response.url).path))

    page.on("response", on_response)
    email = unique_email("browser")
    pin = new_pin()
    wrong_pin = new_pin(unlike=pin)

    # 1. Start a two-factor verification from the page (with its publishable key).
    page.goto(stack.web)
    # The form is built from GET /v1/providers: Jekimo (the first provider) may send a PIN by email.
    expect(page.locator("#provider")).to_have_value("jekimo")
    expect(page.locator("#email-field")).to_be_visible()
    page.locator("#jekimo-two-factor").check()
    page.locator("#email").fill(email)
    page.locator("#jekimo-min-age").fill("18")
    page.locator("#start").click()

    # 2. The QR code and the link to Jekimo's login page appear.
    expect(page.locator("#session")).to_be_visible()
    expect(page.locator("#qr")).to_be_visible()
    expect(page.locator("#qr")).to_have_attribute("src", re.compile(r"^data:image/png;base64,"))
    link = page.locator("#verification-link")
    expect(link).to_be_visible()
    expect(link).to_have_attribute("href", re.compile("^" + re.escape(stack.providers["jekimo"]) + "/"))
    expect(page.locator("#status")).to_have_text("pending")
    expect(page.locator("#pin-form")).to_be_hidden()
    session_id = page.locator("#session-id").inner_text()
    assert session_id.startswith("ses_"), session_id
    verification_url = link.get_attribute("href")
    assert verification_url is not None

    # 3. The user approves at Jekimo, which flags a risk and gives a PIN: the page asks for it.
    act_as_user(verification_url, {"outcome": "approved", "risk": True, "pin": int(pin)})
    expect(page.locator("#status")).to_have_text("awaiting_pin", timeout=STATUS_TIMEOUT_MS)
    expect(page.locator("#pin-form")).to_be_visible()
    assert pin in mail_to(stack, email), "the PIN was emailed to the address typed on the page"

    # 4. A wrong PIN: the page shows the error, with the tries left, and still asks for the PIN.
    page.locator("#pin").fill(wrong_pin)
    page.locator("#submit-pin").click()
    error = page.locator("#error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("pin_incorrect")
    expect(error).to_contain_text("Tries left: 4")
    expect(page.locator("#status")).to_have_text("awaiting_pin")
    expect(page.locator("#pin-form")).to_be_visible()

    # 5. The right PIN: approved, and the result is shown.
    page.locator("#pin").fill(pin)
    page.locator("#submit-pin").click()
    expect(page.locator("#status")).to_have_text("approved", timeout=STATUS_TIMEOUT_MS)
    expect(page.locator("#error")).to_be_hidden()
    expect(page.locator("#pin-form")).to_be_hidden()
    result = page.locator("#result")
    expect(result).to_be_visible()
    expect(result.locator(".decision")).to_have_text("approved")
    expect(result).to_contain_text("second_factor_verified")
    expect(result).to_contain_text("risk_flagged")
    expect(result).to_contain_text("min_age_verified")

    # The server, with its secret key, sees the same verdict the page showed.
    session = api.get(session_id).json()
    assert session["status"] == "approved"
    assert session["result"]["reasons"] == ["risk_flagged", "second_factor_verified"]
    assert not problems, problems
    # The one HTTP error is the wrong PIN's 422 (and the browser's own favicon request).
    assert [f for f in failed if f[1] != "/favicon.ico"] == [(422, f"/v1/sessions/{session_id}/pin")], failed


def test_demo_page_runs_an_okid_verification_in_select_mode(
    page: Page, stack: RunningStack, api: Api
) -> None:
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.goto(stack.web)

    # okID's own options replace Jekimo's.
    page.locator("#provider").select_option("okid")
    expect(page.locator("fieldset[data-provider='okid']")).to_be_visible()
    expect(page.locator("fieldset[data-provider='jekimo']")).to_be_hidden()
    expect(page.locator("#email-field")).to_be_hidden()
    page.locator("#okid-mode").select_option("select")
    page.locator("#okid-return-url").fill("https://localhost/done")
    page.locator("#start").click()

    link = page.locator("#verification-link")
    expect(link).to_have_attribute(
        "href", re.compile("^" + re.escape(stack.providers["okid"]) + r"/\?verification_id=.+&mode=select$")
    )
    expect(page.locator("#qr")).to_have_attribute("src", re.compile(r"^data:image/png;base64,"))
    expect(page.locator("#status")).to_have_text("pending")
    verification_url = link.get_attribute("href")
    assert verification_url is not None

    act_as_user(verification_url, {"outcome": "verified"})
    expect(page.locator("#status")).to_have_text("approved", timeout=STATUS_TIMEOUT_MS)
    expect(page.locator("#result .decision")).to_have_text("approved")
    session = api.get(page.locator("#session-id").inner_text()).json()
    assert session["result"]["provider_status"] == "verified"
    assert not problems, problems


def test_demo_page_runs_a_datakeen_approval_with_a_minimum_age(
    page: Page, stack: RunningStack, api: Api
) -> None:
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.goto(stack.web)

    # Datakeen's options come from its schema: a number for the age, a date for the birth date.
    page.locator("#provider").select_option("datakeen")
    expect(page.locator("fieldset[data-provider='datakeen']")).to_be_visible()
    expect(page.locator("#datakeen-birth-date")).to_have_attribute("type", "date")
    page.locator("#datakeen-min-age").fill("18")
    page.locator("#start").click()

    link = page.locator("#verification-link")
    expect(link).to_have_attribute(
        "href", re.compile("^" + re.escape(stack.providers["datakeen"].removesuffix("/backend")) + "/client/")
    )
    expect(page.locator("#qr")).to_have_attribute("src", re.compile(r"^data:image/png;base64,"))
    verification_url = link.get_attribute("href")
    assert verification_url is not None

    # The user, at Datakeen's page, presses "approved".
    user = page.context.new_page()
    user.goto(verification_url)
    user.locator("#approved").click()
    expect(page.locator("#status")).to_have_text("approved", timeout=STATUS_TIMEOUT_MS)
    expect(page.locator("#result .decision")).to_have_text("approved")
    session = api.get(page.locator("#session-id").inner_text()).json()
    assert session["result"]["data"] == {"min_age_verified": 18}
    assert not problems, problems


def test_demo_page_runs_a_faceki_review_to_the_reviewers_approval(
    page: Page, stack: RunningStack, api: Api
) -> None:
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.goto(stack.web)

    # FACEKI's options come from its schema: a number for the link's minutes, a checkbox.
    page.locator("#provider").select_option("faceki")
    expect(page.locator("fieldset[data-provider='faceki']")).to_be_visible()
    expect(page.locator("#faceki-expiry-minutes")).to_have_attribute("type", "number")
    expect(page.locator("#faceki-document-optional")).to_have_attribute("type", "checkbox")
    page.locator("#faceki-expiry-minutes").fill("30")
    page.locator("#start").click()

    link = page.locator("#verification-link")
    expect(link).to_have_attribute(
        "href", re.compile("^" + re.escape(stack.providers["faceki"]) + "/kycverify/")
    )
    verification_url = link.get_attribute("href")
    assert verification_url is not None

    # The user, at FACEKI's page, lands in review; then the reviewer accepts.
    user = page.context.new_page()
    user.goto(verification_url)
    expect(user.locator("#faceki-tokens")).to_have_text(re.compile(r"\d+"))
    user.locator("#faceki-review").click()
    expect(page.locator("#status")).to_have_text("review", timeout=STATUS_TIMEOUT_MS)
    user.goto(verification_url)
    user.locator("#faceki-reviewer-accept").click()
    expect(page.locator("#status")).to_have_text("approved", timeout=STATUS_TIMEOUT_MS)
    expect(page.locator("#result .decision")).to_have_text("approved")
    session = api.get(page.locator("#session-id").inner_text()).json()
    assert session["result"]["provider_status"] == "ACCEPTED"
    assert not problems, problems


def test_demo_page_registers_the_local_receiver_and_shows_verified_deliveries_and_retries(
    page: Page, stack: RunningStack
) -> None:
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.goto(stack.web)

    # 3. The webhooks card: the page asks the local receiver to register (the receiver holds the secret).
    card = page.locator("#webhooks")
    expect(card).to_be_visible()
    page.locator("#hooks-register").click()
    expect(page.locator("#hooks-registered")).to_be_visible()
    expect(page.locator("#hooks-endpoint")).to_have_text(re.compile(r"^we_"))

    # A verification from the page ends approved: its delivery shows, its signature verified.
    page.locator("#provider").select_option("jekimo")
    page.locator("#start").click()
    link = page.locator("#verification-link")
    expect(link).to_be_visible()
    session_id = page.locator("#session-id").inner_text()
    verification_url = link.get_attribute("href")
    assert verification_url is not None
    act_as_user(verification_url, {"outcome": "approved"})
    finalized = page.locator(
        f"#hooks-deliveries tr[data-session='{session_id}'][data-type='session.finalized']"
    )
    expect(finalized.first).to_have_attribute("data-verified", "true", timeout=STATUS_TIMEOUT_MS)
    expect(finalized.first).to_have_attribute("data-answered", "204")

    # Told to fail, the receiver answers 503, and once it answers again the retry is acknowledged.
    page.locator("#hooks-failing").check()
    page.locator("#start").click()
    expect(page.locator("#session-id")).not_to_have_text(session_id)
    second = page.locator("#session-id").inner_text()
    act_as_user(str(page.locator("#verification-link").get_attribute("href")), {"outcome": "declined"})
    rows = page.locator(f"#hooks-deliveries tr[data-session='{second}'][data-type='session.finalized']")
    expect(rows.and_(page.locator("[data-answered='503']")).first).to_be_attached(timeout=STATUS_TIMEOUT_MS)
    page.locator("#hooks-failing").uncheck()
    acknowledged = rows.and_(page.locator("[data-answered='204']"))
    expect(acknowledged.first).to_have_attribute("data-verified", "true", timeout=30_000)
    assert not problems, problems


def test_demo_page_offers_any_provider_for_a_check_and_shows_which_was_chosen(
    page: Page, stack: RunningStack, api: Api
) -> None:
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.goto(stack.web)

    # On the deployment's policy (the fuzzer may have left the dev client one of its own).
    assert api.call("PUT", "/v1/routing", json={}, key=api.secret_key).status_code == 200
    # The check's options come from its schema, as a provider's do.
    page.locator("#provider").select_option("auto-identity")
    expect(page.locator("fieldset[data-provider='auto-identity']")).to_be_visible()
    page.locator("#auto-identity-last-name").fill("Dupont")
    page.locator("#start").click()

    expect(page.locator("#routing")).to_have_text("identity check: datakeen chosen")
    session = api.get(page.locator("#session-id").inner_text()).json()
    assert (session["provider"], session["routing"]["chosen"]) == ("datakeen", "datakeen")
    assert not problems, problems
