"""End to end in headless Chromium (Debian's `chromium` + `chromium-driver`, driven by Selenium)
against the audit page served by uvicorn on 127.0.0.1: sign in, pick an answer, review it with
the keyboard, review the next one key by key, and see both counted in the report.

Interactions are counted from the moment a review page is ready: one key press is one
interaction. An answer with five citations that all hold takes two (`a`, `s`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.wait import WebDriverWait

from tests.fixtures.audit_app import AuditKeys, audit_app, make_authenticator
from tests.fixtures.audit_reviews import AuditWorld, build_world
from tests.fixtures.browser import CHROMEDRIVER, CHROMIUM, FLAGS
from tests.fixtures.kb_index import KbIndex
from tests.fixtures.live_server import LiveServer, serve

SCREENSHOT = Path(__file__).resolve().parents[2] / "reports" / "screenshots" / "audit-review.png"


@pytest.fixture
def world(tmp_path: Path, kb_index: KbIndex) -> Iterator[AuditWorld]:
    built = build_world(tmp_path, kb_index)
    yield built
    built.close()


@pytest.fixture
def live(world: AuditWorld) -> Iterator[tuple[LiveServer, AuditKeys]]:
    authenticator, keys = make_authenticator(world.kb.policy)
    server = serve(audit_app(world.service, authenticator))
    yield server, keys
    server.stop()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    assert CHROMIUM.is_file() and CHROMEDRIVER.is_file(), (
        "the browser test needs Debian's chromium and chromium-driver "
        "(apt-get install chromium chromium-driver)"
    )
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


class Keyboard:
    """Key presses to the focused element, counted."""

    def __init__(self, driver: WebDriver) -> None:
        self._driver = driver
        self.presses = 0

    def press(self, *keys: str) -> None:
        for key in keys:
            ActionChains(self._driver).send_keys(key).perform()
            self.presses += 1


def wait(driver: WebDriver) -> WebDriverWait[WebDriver]:
    return WebDriverWait(driver, 30)


def ready(driver: WebDriver, page: str) -> None:
    """Wait until a page of that kind has loaded and its key handler is installed."""
    wait(driver).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, f'body[data-page="{page}"][data-ready]'))
    )


def on_review_of(driver: WebDriver, answer_id: str) -> None:
    wait(driver).until(ec.url_contains(f"/audit/answers/{answer_id}"))
    ready(driver, "review")


def test_review_with_the_keyboard_and_see_it_in_the_report(
    browser: WebDriver,
    live: tuple[LiveServer, AuditKeys],
    world: AuditWorld,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server, keys = live
    five, weak = world.answers["five"], world.answers["weak"]

    # Sign in (the queue page sends us to the sign-in form and back).
    browser.get(f"{server.url}/audit")
    ready(browser, "login")
    browser.find_element(By.ID, "credential").send_keys(keys.oscar, Keys.ENTER)
    ready(browser, "queue")
    assert browser.find_elements(By.ID, f"q-{weak}")  # weakly supported: queued already

    # Pick the five-citation answer by id: it jumps to its review page.
    keyboard = Keyboard(browser)
    keyboard.press("p")
    browser.switch_to.active_element.send_keys(five, Keys.ENTER)
    on_review_of(browser, five)
    assert len(browser.find_elements(By.CSS_SELECTOR, "section.citation mark")) == 5

    # All five citations hold: "a" marks them and the answer, "s" submits.
    keyboard = Keyboard(browser)
    keyboard.press("a")
    checked = browser.find_elements(By.CSS_SELECTOR, "input[type=radio]:checked")
    assert [c.get_attribute("value") for c in checked] == ["supports"] * 5 + ["correct"]
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOT))
    keyboard.press("s")
    assert keyboard.presses == 2 <= 3

    # Saved; the next answer in the queue opens by itself.
    on_review_of(browser, weak)
    flash = wait(browser).until(ec.visibility_of_element_located((By.ID, "flash")))
    assert five[:12] in flash.text
    [saved] = world.service.history(five, world.oscar)
    assert (
        set(saved.citation_verdicts.values()) == {"supports"} and len(saved.citation_verdicts) == 5
    )

    # Key by key: [1] supports, [2] does not support, the answer partially correct, a note.
    keyboard = Keyboard(browser)
    keyboard.press("1", "3", "2", "e")
    browser.switch_to.active_element.send_keys("Citation 2 is about hotels, not booking.")
    keyboard.press(Keys.ESCAPE, "s")
    ready(browser, "queue")
    wait(browser).until(ec.presence_of_element_located((By.ID, "queue-empty")))
    [second] = world.service.history(weak, world.oscar)
    assert dict(second.citation_verdicts) == {1: "supports", 2: "does_not_support"}
    assert second.answer_verdict == "partially_correct" and second.note

    # The report counts both reviews: 6 of 7 citations support.
    keyboard.press("r")
    ready(browser, "report")
    assert browser.find_element(By.ID, "review-count").text == "2"
    assert browser.find_element(By.ID, "overall-precision").text == "85.7%"
    weeks = browser.find_elements(By.CSS_SELECTOR, "#by-week tbody tr")
    assert [w.get_attribute("data-key") for w in weeks] == ["2026-W46"]

    assert SCREENSHOT.stat().st_size > 10_000
    with capsys.disabled():
        print(f"\naudit review screenshot: {SCREENSHOT}")  # noqa: T201
