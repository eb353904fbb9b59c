"""The web page at `/` in a real browser: Debian's Chromium, headless, driven by
Selenium through Debian's chromedriver, with Chromium's fake camera (a moving
1280x720 test picture at 20 fps) standing in for a webcam.

Set REEL_SCREENSHOT=path to keep the screenshot the recording test takes (the
README's picture comes from it: `make screenshot`).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from conftest import FIXTURES, assert_error, create, finish, finish_ok, fixture_bytes, poll, upload_ok
from conftest import record as record_frames
from test_supabase import standin, supabase_server  # noqa: F401 (standin is a fixture)

# Installed by scripts/setup.sh: a missing Selenium is a failure, never a silent skip.
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FPS = 27


def new_browser(width: int = 1280, height: int = 900, phone: bool = False) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    if phone:
        options.add_experimental_option("mobileEmulation", {
            "deviceMetrics": {"width": width, "height": height, "pixelRatio": 3.0, "touch": True}})
    for argument in (
        "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
        f"--window-size={width},{height}",
        "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
        "--autoplay-policy=no-user-gesture-required",
        # Loopback only: no proxy, none of the browser's own background traffic.
        "--no-proxy-server", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-default-apps", "--disable-domain-reliability", "--no-first-run",
        "--disable-features=Translate,OptimizationHints,MediaRouter",
    ):
        options.add_argument(argument)
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    browser.set_script_timeout(30)
    return browser


@pytest.fixture
def browser():
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail("chromium and chromium-driver are needed: scripts/setup.sh installs them")
    driver = new_browser()
    yield driver
    driver.quit()


def metrics(srv) -> dict[tuple[str, tuple], float]:
    """Every sample of /metrics, parsed as Prometheus text, by (name, labels)."""
    r = requests.get(srv.url("/metrics"), headers=srv.headers(), timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/plain"), r.headers
    samples = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def counter(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def wait_for_list(browser, what: str = "the list of recordings to render"):
    poll(lambda: browser.execute_script("return document.body.dataset.listRendered === 'true'"), 30, what=what)


def open_page(browser, srv):
    """Opens the page of a server (anything with a `base` URL) and waits for its list."""
    browser.get(srv.base + "/")
    wait_for_list(browser)


def text(browser, element_id: str) -> str:
    return browser.find_element(By.ID, element_id).text


def record(browser, seconds: float) -> tuple[int, int, float]:
    """Presses Record, waits, presses Stop; returns (sent, dropped, seconds recorded)."""
    browser.find_element(By.ID, "record").click()
    poll(lambda: browser.find_element(By.ID, "stop").is_enabled(), 20, what="the recording to start")
    started = time.monotonic()
    time.sleep(seconds)
    browser.find_element(By.ID, "stop").click()
    elapsed = time.monotonic() - started
    poll(lambda: browser.find_element(By.ID, "record").is_enabled(), 60, what="the recording to finish")
    return int(text(browser, "sent")), int(text(browser, "dropped")), elapsed


def wait_for_video(browser, what: str, ready: int = 3):
    poll(lambda: browser.execute_script(
        "const v = document.getElementById('playback'); return v.readyState >= arguments[0] || v.error?.message || false;",
        ready) is True, 30, what=what)


def test_record_in_the_browser_then_play_and_seek(server, browser, tmp_path):
    srv = server()
    open_page(browser, srv)
    assert text(browser, "empty") == "No recordings yet."
    # Two earlier recordings, from the API, so the list has neighbours.
    for frame in ("webcam-640x480-422.jpg", "frame-1280x720-420-3.jpg"):
        rid = create(srv)
        for _ in range(27):
            upload_ok(srv, fixture_bytes(frame), rid, raw=True)
        finish_ok(srv, rid)
    browser.refresh()
    poll(lambda: len(browser.find_elements(By.CSS_SELECTOR, ".card")) == 2, 20, what="the earlier recordings")
    before = metrics(srv)

    sent, dropped, elapsed = record(browser, 3.0)
    message = text(browser, "message")
    assert message.startswith(f"Stored {sent} frames"), message
    assert sent >= 20, f"only {sent} frames sent in {elapsed:.1f} s ({dropped} dropped)"
    # One tick per frame interval, by the page's own clock, each sent or dropped.
    page_seconds = float(text(browser, "elapsed").split()[0])
    assert sent + dropped <= page_seconds * FPS + 2, (sent, dropped, page_seconds)

    # Counters moved by exactly the frames the page sent, and nothing was refused.
    after = metrics(srv)
    assert counter(after, "reel_frames_received_total") - counter(before, "reel_frames_received_total") == sent
    assert counter(after, "reel_frames_encoded_total") - counter(before, "reel_frames_encoded_total") == sent
    refused = sum(v for (name, _), v in after.items() if name == "reel_frames_refused_total")
    assert refused == 0
    assert counter(after, "reel_frames_received_total") == sent + 2 * 27
    def moved(name, **labels):
        return counter(after, name, **labels) - counter(before, name, **labels)

    assert moved("reel_uploads_total", result="succeeded") == 1
    assert counter(after, "reel_recordings_active") == 0
    assert moved("reel_frame_encode_seconds_count") == sent
    assert moved("reel_finish_seconds_count") == 1
    assert moved("reel_stored_bytes_total") == srv.stored_videos()[-1].stat().st_size

    # The new recording is listed, stored, with its thumbnail loaded.
    cards = poll(lambda: (c := browser.find_elements(By.CSS_SELECTOR, ".card[data-state='stored']")) and len(c) == 3 and c,
                 20, what="the stored recording at the top of the list")
    card = cards[0]
    poll(lambda: browser.execute_script(
        "const i = arguments[0].querySelector('img'); return !i.hidden && i.complete && i.naturalWidth === 320;", card),
        20, what="the thumbnail to load")
    assert f"{sent} frames" in card.text
    listed = requests.get(srv.url("/video/recordings"), timeout=10).json()["recordings"]
    assert [r["frames"] for r in listed] == [sent, 27, 27]
    assert card.get_attribute("data-id") == listed[0]["id"]

    # It plays, lasts as long as the recording did (the page asks for arrival
    # timing: a dropped frame leaves the one before on screen), and seeks to the middle.
    card.find_element(By.CSS_SELECTOR, ".play").click()
    wait_for_video(browser, "the recording to be playable")
    duration = browser.execute_script("return document.getElementById('playback').duration")
    assert abs(duration - page_seconds) <= 0.1 * page_seconds, (duration, page_seconds)
    assert abs(duration - listed[0]["duration"]) < 0.05
    middle = duration / 2
    browser.execute_script("""
        const video = document.getElementById('playback');
        video.pause();
        video.dataset.seeked = '';
        video.addEventListener('seeked', () => { video.dataset.seeked = 'yes'; }, { once: true });
        video.currentTime = arguments[0];""", middle)
    poll(lambda: browser.execute_script("return document.getElementById('playback').dataset.seeked === 'yes'"),
         20, what="the seek to finish")
    wait_for_video(browser, "the picture at the middle", ready=2)
    position = browser.execute_script("return document.getElementById('playback').currentTime")
    assert abs(position - middle) < 0.1, (position, middle)

    shot = Path(os.environ.get("REEL_SCREENSHOT") or tmp_path / "page.png")
    browser.execute_script("document.getElementById('playback').currentTime = arguments[0]", middle)
    time.sleep(0.5)
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000


def test_leaving_the_page_mid_recording_finishes_it(server, browser):
    srv = server()  # idle finish after 60 s: far longer than this test waits
    open_page(browser, srv)
    browser.find_element(By.ID, "record").click()
    poll(lambda: browser.find_element(By.ID, "stop").is_enabled(), 20, what="the recording to start")
    poll(lambda: int(text(browser, "sent")) >= 10, 20, what="ten frames sent")
    rid = requests.get(srv.url("/video/recordings"), timeout=10).json()["recordings"][0]["id"]
    browser.get("about:blank")
    stored = poll(lambda: (s := requests.get(srv.url(f"/video/recordings/{rid}"), timeout=10).json())["state"] == "stored" and s,
                  15, interval=0.2, what="the recording finished when the page was left")
    assert stored["frames"] >= 10
    assert "reason=finish" in srv.log()


def test_a_refused_upload_shows_the_servers_message(server, browser):
    srv = server(max_frames=10)
    open_page(browser, srv)
    before = metrics(srv)
    sent, _, _ = record(browser, 2.5)
    message = text(browser, "message")
    assert "reached its limit of 10 frames; finish it" in message, message
    assert sent == 10
    after = metrics(srv)
    refused = counter(after, "reel_frames_refused_total", reason="recording_closed") - \
        counter(before, "reel_frames_refused_total", reason="recording_closed")
    assert refused >= 1
    received = counter(after, "reel_frames_received_total") - counter(before, "reel_frames_received_total")
    assert received == sent + refused
    assert counter(after, "reel_frames_encoded_total") - counter(before, "reel_frames_encoded_total") == 10


def test_the_page_asks_for_the_token_once_and_keeps_it_for_the_tab(server, browser):
    srv = server(token="page-secret")
    assert requests.get(srv.url("/metrics"), timeout=10).status_code == 401
    assert requests.get(srv.url("/"), timeout=10).status_code == 200
    rid = create(srv)
    upload_ok(srv, fixture_bytes("frame-1280x720-420-1.jpg"), rid, raw=True)
    finish_ok(srv, rid)

    browser.get(srv.base + "/")
    dialog = browser.find_element(By.ID, "token-dialog")
    poll(lambda: dialog.get_attribute("open") is not None, 20, what="the token dialog")
    browser.find_element(By.ID, "token-input").send_keys("wrong")
    dialog.find_element(By.CSS_SELECTOR, "button").click()
    poll(lambda: text(browser, "token-problem") == "That token was refused.", 20, what="the refusal")
    browser.find_element(By.ID, "token-input").send_keys("page-secret")
    dialog.find_element(By.CSS_SELECTOR, "button").click()
    wait_for_list(browser, "the list after the token")
    card = browser.find_element(By.CSS_SELECTOR, ".card[data-state='stored']")
    poll(lambda: browser.execute_script("return arguments[0].querySelector('img').naturalWidth", card) == 320, 20,
         what="the thumbnail, fetched with the token")

    # Kept for the tab: a reload does not ask again.
    browser.refresh()
    wait_for_list(browser, "the list after a reload")
    assert browser.find_element(By.ID, "token-dialog").get_attribute("open") is None
    card = browser.find_element(By.CSS_SELECTOR, ".card .play")
    card.click()
    wait_for_video(browser, "the recording to play with the token in its URL")


@pytest.mark.parametrize("width,height,phone", [(390, 844, True), (1366, 900, False)])
def test_the_page_fits_a_phone_and_a_desktop(server, width, height, phone):
    srv = server()
    for frame in ("frame-1280x720-420-1.jpg", "webcam-640x480-422.jpg"):
        rid = create(srv)
        upload_ok(srv, fixture_bytes(frame), rid, raw=True)
        finish_ok(srv, rid)
    in_progress = create(srv)
    upload_ok(srv, fixture_bytes("frame-1280x720-420-2.jpg"), in_progress, raw=True)
    driver = new_browser(width, height, phone)
    try:
        open_page(driver, srv)
        assert len(driver.find_elements(By.CSS_SELECTOR, ".card")) == 3
        # A recording without a thumbnail yet says so, with no broken image.
        recording = driver.find_element(By.CSS_SELECTOR, f".card[data-id='{in_progress}']")
        assert recording.find_element(By.CSS_SELECTOR, ".no-picture").text == "no picture yet"
        assert not recording.find_element(By.CSS_SELECTOR, "img").is_displayed()
        assert "1 frame" in recording.text and "RECORDING" in recording.text
        if phone:
            assert driver.execute_script("return window.innerWidth") == width
        width = driver.execute_script("return window.innerWidth")
        overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{overflow} px wider than a {width} px window"
        for element_id in ("record", "stop", "recordings"):
            box = driver.find_element(By.ID, element_id).rect
            assert box["x"] >= 0 and box["x"] + box["width"] <= width, (element_id, box)
    finally:
        driver.quit()


def test_the_list_pages_through_many_recordings(server, browser):
    srv = server(size="320x180", preset="ultrafast")
    jpeg = (FIXTURES / "frame-1280x720-420-2.jpg").read_bytes()
    ids = []
    for _ in range(55):
        rid = create(srv)
        upload_ok(srv, jpeg, rid, raw=True)
        finish_ok(srv, rid)
        ids.append(rid)
    newest_first = list(reversed(ids))

    first = requests.get(srv.url("/video/recordings"), timeout=10).json()
    assert first["total"] == 55 and len(first["recordings"]) == 50
    assert [r["id"] for r in first["recordings"]] == newest_first[:50]
    rest = requests.get(srv.url("/video/recordings"), params={"before": first["next"]}, timeout=10).json()
    assert [r["id"] for r in rest["recordings"]] == newest_first[50:] and rest["next"] is None

    open_page(browser, srv)
    assert len(browser.find_elements(By.CSS_SELECTOR, ".card")) == 50
    assert text(browser, "total") == "(55)"
    browser.find_element(By.ID, "more").click()
    poll(lambda: len(browser.find_elements(By.CSS_SELECTOR, ".card")) == 55, 20, what="the second page")
    shown = [c.get_attribute("data-id") for c in browser.find_elements(By.CSS_SELECTOR, ".card")]
    assert shown == newest_first
    assert not browser.find_element(By.ID, "more").is_displayed()


def test_a_pending_upload_shows_its_error_then_plays_from_storage(server, standin, browser):
    srv = supabase_server(server, standin, bucket="private-videos")
    rid = record_frames(srv, 27)
    standin.control("POST", "faults", {"down": True})
    assert_error(finish(srv, rid), 500)
    last_error = requests.get(srv.url(f"/video/recordings/{rid}"), timeout=10).json()["last error"]
    assert last_error
    samples = metrics(srv)
    assert counter(samples, "reel_uploads_pending") == 1
    assert counter(samples, "reel_uploads_total", result="failed") >= 1
    assert counter(samples, "reel_uploads_total", result="succeeded") == 0

    open_page(browser, srv)
    card = browser.find_element(By.CSS_SELECTOR, f".card[data-id='{rid}']")
    assert card.get_attribute("data-state") == "pending"
    assert card.find_element(By.CSS_SELECTOR, ".state").text.lower() == "waiting for upload"
    assert last_error in card.find_element(By.CSS_SELECTOR, ".error").text
    assert not card.find_element(By.CSS_SELECTOR, ".play").is_enabled(), "nothing to play yet"

    # Storage comes back: the page, refreshing while something is pending, shows it stored.
    standin.control("POST", "faults", {"down": False})
    poll(lambda: browser.find_elements(By.CSS_SELECTOR, f".card[data-id='{rid}'][data-state='stored']"),
         30, interval=0.3, what="the page to show the recording stored")
    browser.find_element(By.CSS_SELECTOR, f".card[data-id='{rid}'] .play").click()
    wait_for_video(browser, "the recording to play from the signed URL")
    source = browser.execute_script("return document.getElementById('playback').currentSrc")
    assert source.startswith(f"{standin.url}/storage/v1/object/sign/private-videos/"), source
    samples = metrics(srv)
    assert counter(samples, "reel_uploads_pending") == 0
    assert counter(samples, "reel_uploads_total", result="succeeded") == 1
