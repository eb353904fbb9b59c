#!/usr/bin/env python3
"""Benchmark of the web page at `/` against a release `reel serve` on loopback.

Usage: scripts/bench_page.py [--recordings 1000] [--seconds 10]

PRINTS figures, asserts nothing:
1. Page weight: bytes of the HTML, JS and CSS (and gzipped, for reference).
2. Time to the first list render with N recordings on the server (made through
   the real API: create, one frame, finish), from navigation start to the
   page's `reel:list-rendered` mark, in headless Chromium; and the list route's
   own time for a page of 50 and of 500.
3. The fps the browser recorder sustains to a local server: Record for a while
   at 1280x720 and 27 fps (then 640x360) with Chromium's fake camera; frames
   sent and dropped per second, and the frames the stored MP4 holds.

Chromium and the server share the machine's 2 cores, as they would on a small
box recording from its own browser. Needs chromium, chromium-driver, selenium,
requests, ffprobe.
"""
import argparse
import gzip
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REEL = os.path.join(ROOT, ".build", "release", "reel")
sys.path.insert(0, os.path.join(ROOT, "Tests", "Live"))
from test_page import new_browser, open_page  # noqa: E402  (the tests' browser and page loading)
from selenium.webdriver.common.by import By  # noqa: E402

os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, folder, *options):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(folder, "server.log"), "ab")
        self.proc = subprocess.Popen(
            [REEL, "serve", "--host", "127.0.0.1", "--port", str(self.port), *options],
            cwd=folder, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(self.base + "/healthz", timeout=1).ok:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit(f"reel serve did not start (see {folder}/server.log)")
            time.sleep(0.05)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=60)
        self.log.close()


def page_weight(server):
    print("1. Page weight")
    total = total_gzip = 0
    for path in ("/", "/assets/app.js", "/assets/style.css"):
        body = requests.get(server.base + path, timeout=10).content
        packed = len(gzip.compress(body, 9))
        total += len(body)
        total_gzip += packed
        print(f"   {path:<20} {len(body):>7,} bytes  ({packed:,} gzipped)")
    print(f"   {'all three':<20} {total:>7,} bytes  ({total_gzip:,} gzipped); no other request but the list's JSON")


def first_render(folder, count, browser):
    print(f"\n2. First list render with {count:,} recordings")
    server = Server(folder, "--size", "320x180", "--preset", "ultrafast", "--threads", "1")
    try:
        jpeg = open(os.path.join(ROOT, "fixtures", "frame-1280x720-420-1.jpg"), "rb").read()
        session = requests.Session()
        started = time.monotonic()
        for _ in range(count):
            rid = session.get(server.base + "/video/create_video", timeout=30).json()["id"]
            session.post(server.base + "/video/video_upload", params={"id": rid}, data=jpeg,
                         headers={"Content-Type": "image/jpeg"}, timeout=30).raise_for_status()
            session.get(server.base + "/video/finish_video", params={"id": rid}, timeout=30).raise_for_status()
        made = time.monotonic() - started
        print(f"   made {count:,} recordings through the API in {made:.1f} s ({made / count * 1000:.1f} ms each)")
        for limit in (50, 500):
            times = []
            for _ in range(10):
                t = time.monotonic()
                r = session.get(server.base + "/video/recordings", params={"limit": limit}, timeout=30)
                times.append((time.monotonic() - t) * 1000)
            print(f"   GET /video/recordings?limit={limit}: median {statistics.median(times):.1f} ms, "
                  f"{len(r.content):,} bytes")
        renders = []
        for _ in range(6):
            open_page(browser, server)
            renders.append(browser.execute_script(
                "return performance.getEntriesByName('reel:list-rendered')[0].startTime"))
            cards = len(browser.find_elements(By.CSS_SELECTOR, ".card"))
        print(f"   navigation start to list rendered: first load {renders[0]:.0f} ms, "
              f"then median {statistics.median(renders[1:]):.0f} ms of {len(renders) - 1} reloads "
              f"({cards} cards shown, the rest a click away)")
    finally:
        server.stop()


def recorder_fps(folder, browser, seconds, size):
    server = Server(folder)
    try:
        open_page(browser, server)
        browser.execute_script("document.getElementById('size').value = arguments[0]", size)
        browser.find_element(By.ID, "record").click()
        while not browser.find_element(By.ID, "stop").is_enabled():
            time.sleep(0.01)
        started = time.monotonic()
        time.sleep(seconds)
        browser.find_element(By.ID, "stop").click()
        elapsed = time.monotonic() - started
        while not browser.find_element(By.ID, "record").is_enabled():
            time.sleep(0.05)
        sent = int(browser.find_element(By.ID, "sent").text)
        dropped = int(browser.find_element(By.ID, "dropped").text)
        stored = requests.get(server.base + "/video/recordings", timeout=10).json()["recordings"][0]
        print(f"   {size} at 27 fps: {sent / elapsed:.1f} fps sent, {dropped / elapsed:.1f} fps dropped "
              f"over {elapsed:.1f} s; the MP4 holds {stored['frames']} frames ({stored['duration']:.2f} s)")
    finally:
        server.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recordings", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    if not os.path.exists(REEL):
        raise SystemExit(f"no release build at {REEL}: run `swift build -c release`")
    browser = new_browser()
    try:
        with tempfile.TemporaryDirectory(prefix="reel-bench-page-") as folder:
            server = Server(folder)
            page_weight(server)
            server.stop()
        with tempfile.TemporaryDirectory(prefix="reel-bench-page-") as folder:
            first_render(folder, args.recordings, browser)
        print(f"\n3. Browser recorder, {args.seconds:.0f} s each (fake camera: 1280x720 at 20 fps)")
        for size in ("1280x720", "640x360"):
            with tempfile.TemporaryDirectory(prefix="reel-bench-page-") as folder:
                recorder_fps(folder, browser, args.seconds, size)
    finally:
        browser.quit()


if __name__ == "__main__":
    main()
