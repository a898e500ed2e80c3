"""The API docs pages in headless Chromium (Debian's `chromium` + `chromium-driver`, Selenium),
served by the app `proofdesk serve` builds, with every host but 127.0.0.1 unresolvable: the
pages must render the operations from the app's own assets (no CDN)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.wait import WebDriverWait

from tests.fixtures.browser import CHROMEDRIVER, CHROMIUM, FLAGS
from tests.fixtures.credentials import Keys
from tests.fixtures.served_lockers import Served, served_app

OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"


@pytest.fixture(scope="module")
def served(keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served_app(keys, tmp_path_factory.mktemp("docs-browser")) as app:
        yield app


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    assert CHROMIUM.is_file() and CHROMEDRIVER.is_file(), (
        "the browser test needs Debian's chromium and chromium-driver "
        "(apt-get install chromium chromium-driver)"
    )
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, OFFLINE, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


def _texts(driver: WebDriver, css: str) -> list[str]:
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, css)]


def test_swagger_ui_renders_the_operations_offline(served: Served, browser: WebDriver) -> None:
    browser.get(f"{served.url}/docs")
    wait = WebDriverWait(browser, 60)
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock")) >= 10)
    paths = _texts(browser, ".opblock-summary-path")
    for path in ("/v1/chat", "/v1/chat/completions", "/v1/models", "/v1/sources"):
        assert path in paths, paths
    assert "Proofdesk" in browser.find_element(By.CSS_SELECTOR, ".info .title").text


def test_redoc_renders_the_operations_offline(served: Served, browser: WebDriver) -> None:
    browser.get(f"{served.url}/redoc")
    wait = WebDriverWait(browser, 60)
    wait.until(lambda d: "Ask a question" in d.find_element(By.TAG_NAME, "body").text)
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "OpenAI-compatible model list" in body
