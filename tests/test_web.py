"""The web page in a real browser: Debian's Chromium, driven by Selenium through
chromedriver, against the real running service (embedded Tansu and Valkey, ``dmdt ingest``,
``dmdt worker``, ``dmdt serve``) after two real CSS stars were streamed through it as alerts.
Skipped, with the reason, where no browser can be installed."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import httpx
import pytest

from classifier.bundle import load_bundle
from classifier.defaults import DEFAULT_MODEL
from classifier.registry import DEFAULT_MODELS_DIR
from services.devtools.embedded import free_port
from services.devtools.harness import running_service
from sources.replay import replay, survey_messages
from stream.kafka import producer_config

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER),
    reason="no browser: apt-get install chromium chromium-driver (make test does it as root)",
)
SAMPLES = Path(__file__).resolve().parents[1] / "classifier" / "samples"
STARS = {
    "CSS1001006032764": ("css_1001006032764-RRab.csv", "RRab", 260),
    "CSS1001009050644": ("css_1001009050644-LPV.csv", "LPV", 250),
}
TIMEOUT_S = 120


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    logs = tmp_path_factory.mktemp("web")
    with running_service(logs, free_port(), lsst_topic=None) as running:
        from confluent_kafka import Producer  # noqa: PLC0415

        files = [SAMPLES / name for name, _, _ in STARS.values()]
        producer = Producer(producer_config(running.settings.kafka_bootstrap))
        replay(producer, running.settings.alert_topic, list(survey_messages(files)))
        deadline = time.monotonic() + TIMEOUT_S
        while not all(_scored(running.api_url, oid, n) for oid, (_, _, n) in STARS.items()):
            assert time.monotonic() < deadline, f"stars not scored in {TIMEOUT_S} s; {logs}"
            time.sleep(0.5)
        yield running


def _scored(url: str, object_id: str, points: int) -> bool:
    answer = httpx.get(f"{url}/objects/{object_id}")
    return (
        answer.status_code == 200 and (answer.json().get("result") or {}).get("n_points") == points
    )


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    options = Options()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1300,1700",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def _until(browser, condition, what: str):
    return WebDriverWait(browser, TIMEOUT_S).until(condition, message=what)


def _text(browser, selector: str) -> str:
    found = browser.find_elements(By.CSS_SELECTOR, selector)
    return found[0].text if found else ""


def test_the_live_view_lists_the_latest_classifications(service, browser):
    browser.get(f"{service.api_url}/#live")
    rows = _until(
        browser,
        lambda b: (
            [r.text for r in b.find_elements(By.CSS_SELECTOR, "#live-table tbody tr")]
            if len(b.find_elements(By.CSS_SELECTOR, "#live-table tbody tr")) >= 2
            else None
        ),
        "two rows in the live table",
    )
    text = "\n".join(rows)
    for object_id, (_, label, points) in STARS.items():
        assert object_id in text and f"{points} {label}" in text


def test_an_object_shows_its_curve_images_probabilities_and_history(service, browser):
    browser.get(f"{service.api_url}/#object/CSS1001006032764")
    _until(browser, lambda b: _text(b, "#object-view .label") == "RRab", "the label RRab")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#object-view svg circle")) == 260
    backgrounds = len(load_bundle(DEFAULT_MODELS_DIR / DEFAULT_MODEL).backgrounds)
    pictures = browser.find_elements(By.CSS_SELECTOR, "#object-view img")
    assert len(pictures) == 2 + backgrounds  # the image, the card's backgrounds, the survey's
    assert any("minus its survey's background" in p.get_attribute("alt") for p in pictures)
    assert all(
        browser.execute_script("return arguments[0].naturalWidth", p) > 100 for p in pictures
    )
    assert all(p.get_attribute("alt") for p in pictures)
    history = browser.find_elements(By.CSS_SELECTOR, "#object-view table tbody tr")
    assert history and "RRab" in history[0].text
    bars = _text(browser, "#object-view .bars")
    assert "RRab" in bars and "LPV" in bars
    shot = browser.get_screenshot_as_png()
    assert shot.startswith(b"\x89PNG") and len(shot) > 20_000
    if os.environ.get("DMDT_RENDER_DIR"):
        Path(os.environ["DMDT_RENDER_DIR"], "object.png").write_bytes(shot)
    browser.get(f"{service.api_url}/#object/ZTFnothing")
    _until(browser, lambda b: "not in the stream" in _text(b, "#status"), "the refusal")


def test_a_pasted_and_an_uploaded_light_curve_are_classified(service, browser):
    browser.get(f"{service.api_url}/#classify")
    _until(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "#curve-model option"), "models")
    text = (SAMPLES / "css_1001009050644-LPV.csv").read_text()
    browser.execute_script("document.querySelector('#curve-text').value = arguments[0]", text)
    browser.find_element(By.CSS_SELECTOR, "#classify-form button").click()
    _until(browser, lambda b: _text(b, "#classify-view .label") == "LPV", "the label LPV")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#classify-view svg circle")) == 250
    upload = browser.find_element(By.CSS_SELECTOR, "#curve-file")
    upload.send_keys(str(SAMPLES / "css_1001006032764-RRab.csv"))
    _until(
        browser,
        lambda b: (
            "1001006032764"
            in b.execute_script("return document.querySelector('#curve-text').value")
        ),
        "the file read",
    )
    browser.find_element(By.CSS_SELECTOR, "#classify-form button").click()
    _until(browser, lambda b: _text(b, "#classify-view .label") == "RRab", "the label RRab")
    browser.execute_script("document.querySelector('#curve-text').value = 'when,flux\\n1,2'")
    browser.find_element(By.CSS_SELECTOR, "#classify-form button").click()
    _until(browser, lambda b: "no time column" in _text(b, "#status"), "the refusal")


def test_the_page_is_labelled_for_assistive_technology(service, browser):
    browser.get_log("browser")  # what earlier tests left (their deliberate 404s)
    browser.get(f"{service.api_url}/#models")
    _until(browser, lambda b: "css-hybrid" in _text(b, "#models-view"), "the model cards")
    unlabelled = browser.execute_script(
        "return [...document.querySelectorAll('input, textarea, select')]"
        ".filter(e => !document.querySelector(`label[for='${e.id}']`)).map(e => e.id)"
    )
    assert unlabelled == []
    current = browser.find_element(By.CSS_SELECTOR, "nav a[aria-current='page']")
    assert current.text == "Models"
    assert browser.find_element(By.CSS_SELECTOR, "#status").get_attribute("aria-live") == "polite"
    problems = [entry["message"] for entry in browser.get_log("browser")]
    assert problems == []  # no script error, no policy violation, no failed load
