"""Watching a recording while it is made: the page's live view (Media Source
Extensions on `live.mp4`) and Chromium's own HLS player on `live.m3u8`, in
Debian's Chromium, headless, driven by Selenium as in test_page.py.

Frames are realistic moving footage (scripts/make-footage.sh) sent in real time
at 27 fps with arrival timing: frame i carries `X-Reel-Timestamp` = the ms from
the first frame's wall time t0 to its own, so a frame at media time m was taken
at t0 + m. The page's frames, as Chromium presents them, then give the
glass-to-glass delay: the time of presentation minus t0 + m.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By

from conftest import REPO, assert_error, finish_ok, metric_samples, poll, recording_status, stored
from test_page import browser, text, wait_for_list  # noqa: F401 (browser is a fixture)
from test_supabase import standin, supabase_server  # noqa: F401 (standin is a fixture)

FPS = 27
FOOTAGE_FRAMES = 81  # 3 s, sent forwards then backwards, over and over
DELAY_BOUND_MS = 3000  # glass-to-glass p95; see the figures this prints
SETTLE_S = 6.0  # the page catches up with the newest frame in this time, before the delay is measured
MEDIA_TIMEOUT = 60  # any wait for the player or the server, generous for a loaded machine


# --- footage, sent in real time -------------------------------------------------


@pytest.fixture(scope="module")
def footage(tmp_path_factory) -> list[bytes]:
    """81 realistic 1280x720 JPEGs: the benchmark's footage when it is there, else made now (~3 s)."""
    folder = REPO / "bench-data" / "frames-720p"
    if not (folder / f"frame-{FOOTAGE_FRAMES:06d}.jpg").exists():
        folder = tmp_path_factory.mktemp("footage")
        subprocess.run([str(REPO / "scripts" / "make-footage.sh"), str(FOOTAGE_FRAMES), str(folder)],
                       check=True, capture_output=True, timeout=300)
    frames = [(folder / f"frame-{i:06d}.jpg").read_bytes() for i in range(1, FOOTAGE_FRAMES + 1)]
    return frames + frames[-2:0:-1]  # back and forth: no jump where the cycle starts again


class Sender:
    """Sends frames at 27 fps from a thread, each stamped with its wall time since t0."""

    def __init__(self, srv, frames: list[bytes]):
        self.srv = srv
        self.frames = frames
        r = requests.get(srv.url("/video/create_video"), params={"timing": "arrival"},
                         headers=srv.headers(), timeout=10)
        assert r.status_code == 200, r.text
        self.id = r.json()["id"]
        self.t0: float | None = None  # wall time of the first frame, in seconds
        self.last = 0.0  # ... and of the last one sent
        self.sent = 0
        self.problem: str | None = None
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        poll(lambda: self.sent >= 1 or self.problem, 30, what="the first frame to be accepted")
        assert not self.problem, self.problem

    @property
    def t0_ms(self) -> float:
        return self.t0 * 1000

    def run(self):
        session = requests.Session()
        started = time.monotonic()
        i = 0
        while not self.stopping.is_set():
            delay = started + i / FPS - time.monotonic()  # frame i at i/27 s, or at once when behind
            if delay > 0:
                time.sleep(delay)
            now = time.time()
            if self.t0 is None:
                self.t0 = now
            headers = {"Content-Type": "image/jpeg", "X-Reel-Timestamp": str(round((now - self.t0) * 1000)),
                       **self.srv.headers()}
            try:
                r = session.post(self.srv.url("/video/video_upload"), params={"id": self.id},
                                 data=self.frames[i % len(self.frames)], headers=headers, timeout=10)
            except requests.RequestException as error:
                self.problem = f"frame {i}: {error}"
                return  # the server is gone
            if r.status_code != 200:
                self.problem = f"frame {i}: {r.status_code} {r.text[:200]}"
                return
            self.sent += 1
            self.last = now
            i += 1

    def stop(self, server_gone: bool = False) -> float:
        """Stops sending; returns the seconds from the first frame to the last.
        Every frame must have been accepted, unless the server was killed."""
        self.stopping.set()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "the frame sender did not stop"
        assert server_gone or self.problem is None, self.problem
        return self.last - self.t0


@pytest.fixture
def senders():
    """Every Sender a test makes is stopped at its end, whatever happened."""
    made: list[Sender] = []
    yield made
    for sender in made:
        sender.stopping.set()
    for sender in made:
        sender.thread.join(timeout=30)


def send(senders, srv, footage) -> Sender:
    sender = Sender(srv, footage)
    senders.append(sender)
    return sender


# --- the page ------------------------------------------------------------------


def origin(srv) -> str:
    """Where the browser finds a server's page (its own origin)."""
    return srv.base


def player(browser, expression: str, *args):
    """`expression` evaluated with `video` the page's #playback (and `arguments`)."""
    return browser.execute_script(f"const video = document.getElementById('playback'); return {expression};", *args)


def click_card(browser, rid: str, live: bool = False):
    """Clicks a recording's card (checking its Live badge first, if `live`).
    The page renders its list again every few seconds: a card found just
    before that is stale, and is found again."""
    def click():
        try:
            card = browser.find_element(By.CSS_SELECTOR, f".card[data-id='{rid}']")
            if live:
                badge = card.find_element(By.CSS_SELECTOR, ".live")
                assert badge.is_displayed() and badge.text.lower() == "live", badge.text
            button = card.find_element(By.CSS_SELECTOR, ".play")
            assert button.is_enabled(), f"the card of {rid} cannot be played"
            button.click()
            return True
        except (NoSuchElementException, StaleElementReferenceException):
            return False
    poll(click, 30, interval=0.2, what=f"the card of {rid} to be clicked")


def watch_live(browser, rid: str):
    """Clicks the recording's card, which must say Live, and waits for the live picture."""
    click_card(browser, rid, live=True)
    assert player(browser, "video.dataset.id") == rid
    assert player(browser, "video.dataset.mode") == "live"
    poll(lambda: player(browser, "video.error?.message || (video.readyState >= 2 && video.currentTime > 0)"),
         MEDIA_TIMEOUT, interval=0.1, what="the live view to show a picture")
    assert player(browser, "video.error") is None, player(browser, "video.error.message")
    assert text(browser, "message").startswith("Live · " + rid[:8]), text(browser, "message")


def sample_delays(browser, t0_ms: float):
    """From now on, each frame the player presents in live mode records
    Date.now() - (t0 + its media time): its glass-to-glass delay in ms."""
    browser.execute_script("""
        const video = document.getElementById('playback');
        const t0 = arguments[0];
        window.reelDelays = [];
        window.reelAhead = [];
        const frame = (now, metadata) => {
            if (video.dataset.mode === 'live') {
                window.reelDelays.push(Date.now() - (t0 + metadata.mediaTime * 1000));
                const b = video.buffered;
                if (b.length) window.reelAhead.push(b.end(b.length - 1) - video.currentTime);
            }
            video.requestVideoFrameCallback(frame);
        };
        video.requestVideoFrameCallback(frame);""", t0_ms)


def assert_advances(browser, seconds: float) -> float:
    """Watches currentTime for `seconds`: it must move on, with no error and no
    stall over 3 s. Returns how far it moved."""
    first = last = player(browser, "video.currentTime")
    moved_at = started = time.monotonic()
    while time.monotonic() - started < seconds:
        time.sleep(0.25)
        error = player(browser, "video.error?.message ?? null")
        assert error is None, f"the video failed: {error}"
        now = player(browser, "video.currentTime")
        if now > last:
            moved_at = time.monotonic()
        assert time.monotonic() - moved_at < 3, f"currentTime stuck at {now:.2f} s for 3 s"
        last = now
    assert last - first >= seconds * 0.6, f"currentTime moved {last - first:.2f} s in {seconds} s"
    return last - first


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def wait_stored_playing(browser, video_url: str):
    """The page has switched to the stored video, and it plays (or has played to its end)."""
    poll(lambda: player(browser, "video.dataset.mode") == "stored", MEDIA_TIMEOUT, interval=0.1,
         what="the page to switch to the stored video")
    source = player(browser, "video.currentSrc || video.src")
    assert urlsplit(source).path == urlsplit(video_url).path, (source, video_url)
    poll(lambda: player(browser, "video.error?.message || video.readyState >= 2"), MEDIA_TIMEOUT, interval=0.1,
         what="the stored video to load")
    assert player(browser, "video.error") is None, player(browser, "video.error.message")
    position = player(browser, "video.currentTime")
    poll(lambda: player(browser, "video.ended || video.currentTime > arguments[0] + 0.2", position), MEDIA_TIMEOUT,
         interval=0.1, what="the stored video to play on")
    # And from its start, the whole stored video plays.
    player(browser, "(video.currentTime = 0, video.play(), true)")
    poll(lambda: player(browser, "!video.paused && video.currentTime > 0.5"), MEDIA_TIMEOUT, interval=0.1,
         what="the stored video to play from its start")
    assert player(browser, "video.error") is None


def watching_live(server, browser, footage, senders):
    """A server, a recording sending frames, and the page watching it live for 3 s."""
    srv = server()
    sender = send(senders, srv, footage)
    browser.get(origin(srv) + "/")
    wait_for_list(browser)
    watch_live(browser, sender.id)
    assert_advances(browser, 3.0)
    return srv, sender


# --- the tests -----------------------------------------------------------------


def test_the_page_watches_a_recording_live_then_plays_it_stored(server, browser, footage, senders):
    srv = server()
    sender = send(senders, srv, footage)
    browser.get(origin(srv) + "/")
    wait_for_list(browser)
    watch_live(browser, sender.id)
    # The first seconds: the stream starts at its latest keyframe and the page
    # catches up with the newest frame. The delay is measured after them.
    sample_delays(browser, sender.t0_ms)
    assert_advances(browser, SETTLE_S)
    start = browser.execute_script("const d = window.reelDelays; window.reelDelays = []; window.reelAhead = []; "
                                   "return d")
    moved = assert_advances(browser, 6.0)
    delays, ahead = browser.execute_script("return [window.reelDelays, window.reelAhead]")
    # A loaded machine presents fewer than 27 a second: only enough for the figures is asked.
    assert len(delays) >= 10, f"only {len(delays)} frames presented in 6 s"
    p50, p95 = percentile(delays, 50), percentile(delays, 95)
    print(f"\nlive view glass-to-glass over {len(delays)} frames: p50 {p50:.0f} ms, p95 {p95:.0f} ms "
          f"(min {min(delays):.0f}, max {max(delays):.0f}; buffered ahead p50 {percentile(ahead, 50):.2f} s; "
          f"currentTime moved {moved:.1f} s in 6 s; "
          f"in the first {SETTLE_S:.0f} s: {percentile(start, 50) if start else float('nan'):.0f} ms "
          f"→ {start[-1] if start else float('nan'):.0f} ms)")
    assert min(delays) > -100, f"a frame shown {-min(delays):.0f} ms before it was taken: the clocks disagree"
    assert p95 < DELAY_BOUND_MS, f"glass-to-glass p95 {p95:.0f} ms (p50 {p50:.0f} ms)"

    # The recording is finished: the page follows it into storage on its own.
    sender.stop()
    finish_ok(srv, sender.id)
    entry = poll(lambda: (s := recording_status(srv, sender.id)).get("video url") and s, MEDIA_TIMEOUT,
                 interval=0.2, what="the recording to be stored")
    wait_stored_playing(browser, entry["video url"])
    assert text(browser, "message").startswith("Stored"), text(browser, "message")


def hls(browser, expression: str, *args):
    """`expression` evaluated with `video` the test's HLS video element (and `arguments`)."""
    return browser.execute_script(f"const video = document.getElementById('hls'); return {expression};", *args)


def poll_hls(browser, expression: str, timeout: float, what: str, *args):
    """Polls `expression` on the HLS video; a timeout tells where it stood and what happened."""
    try:
        return poll(lambda: hls(browser, expression, *args), timeout, interval=0.2, what=what)
    except AssertionError as error:
        state = hls(browser, "[video.currentTime, video.duration, video.readyState, video.dataset.events]")
        raise AssertionError(f"{error}; currentTime {state[0]}, duration {state[1]}, readyState {state[2]}, "
                             f"events:{state[3]}") from None


def test_chromium_plays_the_live_hls_playlist(server, browser, footage, senders):
    srv = server()
    sender = send(senders, srv, footage)
    browser.get(origin(srv) + "/")
    wait_for_list(browser)
    answer = browser.execute_script(
        "return document.createElement('video').canPlayType('application/vnd.apple.mpegurl')")
    assert answer in ("maybe", "probably"), (
        f"this Chromium ({browser.capabilities.get('browserVersion')}) does not play HLS itself "
        f"(canPlayType said {answer!r}); native HLS shipped in Chromium 142")
    playlist_url = origin(srv) + f"/video/recordings/{sender.id}/live.m3u8"
    # Chromium starts a live playlist a few segments before its end, and gives
    # up when the segments it holds run out before its next reload: it is
    # started once the playlist holds a few.
    playlist = poll(lambda: (t := requests.get(playlist_url, timeout=10).text).count("#EXTINF:") >= 4 and t, 30,
                    interval=0.2, what="four segments in the live playlist")
    # Chromium plays a playlist without a media sequence as a finished video:
    # its duration fixed at the first load, never loaded again (hls_rendition.cc).
    assert "#EXT-X-MEDIA-SEQUENCE:" in playlist, f"no #EXT-X-MEDIA-SEQUENCE: Chromium will not reload it\n{playlist}"
    browser.execute_script("""
        const video = document.createElement('video');
        video.id = 'hls';
        video.muted = true;
        video.autoplay = true;
        video.dataset.events = '';
        for (const name of ['loadedmetadata', 'playing', 'waiting', 'ended', 'error']) {
            video.addEventListener(name, () => {
                const error = video.error ? ` ${video.error.message}` : '';
                video.dataset.events += ` ${name}@${video.currentTime.toFixed(2)}${error}`;
            });
        }
        document.body.append(video);
        video.src = arguments[0];""", f"/video/recordings/{sender.id}/live.m3u8")
    poll_hls(browser, "video.error?.message || video.currentTime > 0.5", MEDIA_TIMEOUT, "the HLS video to play")
    first = hls(browser, "video.currentTime")
    poll_hls(browser, "video.error?.message || video.currentTime > arguments[0] + 3", MEDIA_TIMEOUT,
             "the HLS video to play on for 3 s", first)
    state = hls(browser, "[video.error?.message ?? null, video.currentTime, video.dataset.events]")
    assert state[0] is None, f"HLS error: {state[0]}; events:{state[2]}"
    print(f"\nHLS in progress: currentTime {first:.1f} → {state[1]:.1f} s; events:{state[2]}")

    # Finished: the playlist ends, and Chromium plays to its end.
    seconds = sender.stop()
    finish_ok(srv, sender.id)
    playlist = requests.get(playlist_url, timeout=10)
    assert playlist.status_code == 200 and "#EXT-X-ENDLIST" in playlist.text, playlist.text[-300:]
    ended = poll_hls(browser, "video.error?.message || (video.ended && 'ended') || (Number.isFinite(video.duration)"
                     " && video.currentTime >= video.duration - 0.05 && 'at the end')",
                     MEDIA_TIMEOUT + seconds, "the HLS video to play to its end")
    state = hls(browser, "[video.currentTime, video.duration, video.dataset.events]")
    print(f"HLS finished: {ended} at {state[0]:.2f} s of {state[1]:.2f} s ({seconds:.2f} s recorded, "
          f"{sender.sent} frames); events:{state[2]}")
    assert ended in ("ended", "at the end"), f"HLS error: {ended}; events:{state[2]}"


def test_the_live_view_waits_for_the_upload_then_plays_from_storage(server, standin, browser, footage, senders):
    srv = supabase_server(server, standin, bucket="private-videos")
    sender = send(senders, srv, footage)
    browser.get(origin(srv) + "/")
    wait_for_list(browser)
    watch_live(browser, sender.id)
    assert_advances(browser, 3.0)

    # Storage is down when the recording finishes: the page says what it waits for.
    standin.control("POST", "faults", {"down": True})
    sender.stop()
    r = requests.get(srv.url("/video/finish_video"), params={"id": sender.id}, timeout=MEDIA_TIMEOUT)
    assert r.status_code == 500, r.text
    last_error = recording_status(srv, sender.id)["last error"]
    assert last_error
    poll(lambda: text(browser, "message").startswith("Waiting for upload: "), 30, interval=0.1,
         what="the page to say it waits for the upload")
    print(f"\nthe page said: {text(browser, 'message')!r} (last error: {last_error!r})")
    assert browser.find_element(By.ID, "message").get_attribute("data-kind") == "error"
    assert player(browser, "video.dataset.mode") == "live"

    # Storage comes back: the page plays the video from there, by itself.
    standin.control("POST", "faults", {"down": False})
    entry = poll(lambda: (s := recording_status(srv, sender.id)).get("video url") and s, MEDIA_TIMEOUT,
                 interval=0.2, what="the recording to be uploaded")
    assert entry["video url"].startswith(f"{standin.url}/storage/v1/object/sign/private-videos/"), entry
    wait_stored_playing(browser, entry["video url"])


def test_the_live_view_outlives_a_killed_server(server, browser, footage, senders):
    srv, sender = watching_live(server, browser, footage, senders)

    srv.kill()
    sender.stop(server_gone=True)
    poll(lambda: text(browser, "message").startswith("Live view lost: "), 30, interval=0.05,
         what="the page to say the live view was lost")
    print(f"\nthe page said: {text(browser, 'message')!r}")
    assert browser.find_element(By.ID, "message").get_attribute("data-kind") == "error"
    time.sleep(3)  # the page keeps asking while nothing answers, and says so each time
    poll(lambda: text(browser, "message").startswith("Live view lost: "), 10, interval=0.05,
         what="the page to go on saying the live view is lost")
    assert player(browser, "video.dataset.id") == sender.id

    again = server(port=srv.port, storage_dir=srv.storage_dir, spool_dir=srv.spool_dir, workdir=srv.workdir)
    entry = poll(lambda: (s := recording_status(again, sender.id)).get("video url") and s, MEDIA_TIMEOUT,
                 interval=0.2, what="the recording to be recovered")
    assert entry["state"] == "stored", entry
    wait_stored_playing(browser, entry["video url"])


def test_the_live_view_with_a_token(server, browser, footage, senders):
    secret = "live-secret"
    srv = server(token=secret)
    sender = send(senders, srv, footage)
    browser.get(origin(srv) + "/")
    dialog = browser.find_element(By.ID, "token-dialog")
    poll(lambda: dialog.get_attribute("open") is not None, 20, what="the token dialog")
    browser.find_element(By.ID, "token-input").send_keys(secret)
    dialog.find_element(By.CSS_SELECTOR, "button").click()
    wait_for_list(browser, "the list after the token")
    watch_live(browser, sender.id)
    assert_advances(browser, 3.0)

    base = srv.url(f"/video/recordings/{sender.id}")
    for name in ("live.mp4", "live.m3u8", "spool.mp4"):
        with requests.get(f"{base}/{name}", stream=True, timeout=10) as r:
            assert_error(r, 401)
        with requests.get(f"{base}/{name}", params={"token": "wrong"}, stream=True, timeout=10) as r:
            assert_error(r, 401)

    playlist = requests.get(f"{base}/live.m3u8", params={"token": secret}, timeout=10)
    assert playlist.status_code == 200, playlist.text
    uris = re.findall(r'URI="([^"]+)"', playlist.text) + [
        line for line in playlist.text.splitlines() if line and not line.startswith("#")]
    assert len(uris) >= 2, playlist.text
    for uri in uris:
        assert parse_qs(urlsplit(uri).query).get("token") == [secret], (uri, playlist.text)
    # A segment, by the playlist's own URI and byte range, is a movie fragment.
    lines = playlist.text.splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith("#EXT-X-BYTERANGE:"))
    length, offset = map(int, lines[index].split(":", 1)[1].split("@"))
    uri = next(line for line in lines[index:] if line and not line.startswith("#"))
    r = requests.get(requests.compat.urljoin(playlist.url, uri),
                     headers={"Range": f"bytes={offset}-{offset + length - 1}"}, timeout=10)
    assert r.status_code == 206, (r.status_code, r.text[:200])
    assert len(r.content) == length and r.content[4:8] == b"moof", r.content[:16]

    with requests.get(f"{base}/live.mp4", headers=srv.headers(), stream=True, timeout=10) as r:
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("video/mp4"), r.headers
        assert r.raw.read(8)[4:8] == b"ftyp"
    # The page watched with the token: no dialog again, and still live.
    assert browser.find_element(By.ID, "token-dialog").get_attribute("open") is None
    assert player(browser, "video.dataset.mode") == "live"
    sender.stop()


def live_streams(srv) -> float:
    """`reel_live_streams`: the live.mp4 answers the server is sending now."""
    return metric_samples(srv).get(("reel_live_streams", ()), 0.0)


def test_leaving_the_live_view_ends_its_stream(server, browser, footage, senders):
    srv = server()
    other, _ = stored(srv)
    sender = send(senders, srv, footage)
    browser.get(origin(srv) + "/")
    wait_for_list(browser)
    watch_live(browser, sender.id)
    poll(lambda: live_streams(srv) == 1, 10, interval=0.2, what="the server to count one live stream")

    # Another recording: the live stream is let go, and the live view's status with it.
    click_card(browser, other)
    poll(lambda: live_streams(srv) == 0, 10, interval=0.2, what="the live stream to end after another card was picked")
    assert player(browser, "video.dataset.id") == other
    assert player(browser, "video.dataset.mode") == "stored"
    assert text(browser, "message") == ""

    # Record: the camera takes the screen, the live stream ends, nothing retries it.
    watch_live(browser, sender.id)
    poll(lambda: live_streams(srv) == 1, 10, interval=0.2, what="the live stream again")
    browser.find_element(By.ID, "record").click()
    poll(lambda: browser.find_element(By.ID, "stop").is_enabled(), 20, what="the recording to start")
    poll(lambda: live_streams(srv) == 0, 10, interval=0.2, what="the live stream to end when Record was pressed")
    assert player(browser, "video.hidden && !video.getAttribute('src')")
    time.sleep(3)  # longer than the live view's retry interval
    assert live_streams(srv) == 0
    assert not text(browser, "message").startswith("Live"), text(browser, "message")
    browser.find_element(By.ID, "stop").click()
    poll(lambda: browser.find_element(By.ID, "record").is_enabled(), 60, what="the recording to finish")
    sender.stop()


def test_pausing_or_going_back_in_the_live_view_keeps_the_viewers_place(server, browser, footage, senders):
    srv, sender = watching_live(server, browser, footage, senders)
    behind = "video.buffered.end(video.buffered.length - 1) - video.currentTime"
    # Paused: the picture stays while the stream goes on arriving behind it.
    player(browser, "(video.pause(), true)")
    paused_at = player(browser, "video.currentTime")
    time.sleep(5)
    assert player(browser, "video.paused") and player(browser, "video.currentTime") == paused_at
    assert player(browser, behind) > 4, "the stream arrives while paused"
    # Played again: it follows the newest frame again.
    player(browser, "(video.play(), true)")
    poll(lambda: player(browser, behind) < 3, MEDIA_TIMEOUT, interval=0.2, what="the live view to catch up after play")
    # Gone back while playing: it plays on from there, not snatched back to the newest frame.
    player(browser, "(video.currentTime = video.buffered.start(0) + 0.1, true)")
    poll(lambda: player(browser, "!video.seeking && video.readyState >= 2"), MEDIA_TIMEOUT, interval=0.1,
         what="the seek to land")
    went_back_to = player(browser, "video.currentTime")
    time.sleep(4)
    now = player(browser, "video.currentTime")
    assert went_back_to < now < went_back_to + 6, (went_back_to, now)
    assert player(browser, behind) > 3, "the viewer's place is kept"
    assert player(browser, "video.error") is None


def test_a_browser_without_media_source_extensions_watches_over_hls(server, browser, footage, senders):
    srv = server()
    # As on an iPhone's Safari: no Media Source Extensions, an HLS player of its own.
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                            {"source": "delete window.MediaSource; delete window.ManagedMediaSource;"})
    sender = send(senders, srv, footage)
    browser.get(origin(srv) + "/")
    wait_for_list(browser)
    assert browser.execute_script("return window.MediaSource === undefined")
    poll(lambda: sender.sent >= 4 * 2 * FPS, MEDIA_TIMEOUT, interval=0.2, what="four segments of frames")
    click_card(browser, sender.id, live=True)
    assert player(browser, "video.dataset.mode") == "live"
    assert urlsplit(player(browser, "video.src")).path == f"/video/recordings/{sender.id}/live.m3u8"
    poll(lambda: player(browser, "video.error?.message || (video.readyState >= 2 && video.currentTime > 0)"),
         MEDIA_TIMEOUT, interval=0.1, what="the browser's HLS player to show a picture")
    assert_advances(browser, 4.0)
