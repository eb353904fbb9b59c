"""`reel capture` from its camera-less sources (test pattern, folder of JPEGs)
to a real `reel serve`, over loopback. The V4L2 camera path runs against the
kernel's vivid driver in a VM (Tests/Vivid)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from conftest import FIXTURES, REEL_BIN, download, ffprobe, poll


def capture(*args, timeout=120):
    return subprocess.run([str(REEL_BIN), "capture", *map(str, args)], capture_output=True, text=True, timeout=timeout)


def counts(stderr: str) -> dict:
    match = re.search(r"captured (\d+), sent (\d+), dropped (\d+), broken (\d+)", stderr)
    assert match, stderr
    return dict(zip(("captured", "sent", "dropped", "broken"), map(int, match.groups())))


def test_a_test_pattern_becomes_a_recording(server, tmp_path):
    srv = server()
    result = capture("--source", "pattern", "--size", "640x360", "--fps", "30", "--frames", "20", "--server", srv.base)
    assert result.returncode == 0, result.stderr
    url = result.stdout.strip()
    assert url.startswith(srv.base + "/videos/video-"), result.stdout
    assert counts(result.stderr) == {"captured": 20, "sent": 20, "dropped": 0, "broken": 0}
    info = ffprobe(download(url, tmp_path / "v.mp4"))
    assert info["frames"] == 20 and info["width"] == 1280, info


def test_a_folder_passes_its_jpegs_through_unchanged(tmp_path):
    frames = tmp_path / "in"
    frames.mkdir()
    names = [f"frame-1280x720-420-{i}.jpg" for i in (1, 2, 3)]
    for name in names:
        (frames / name).write_bytes((FIXTURES / name).read_bytes())
    (frames / "zz-broken.jpg").write_bytes((FIXTURES / "truncated.jpg").read_bytes())
    out = tmp_path / "out"
    result = capture("--source", frames, "--output-dir", out)
    assert result.returncode == 0, result.stderr
    written = sorted(out.iterdir())
    assert [p.read_bytes() for p in written] == [(FIXTURES / n).read_bytes() for n in names]
    assert counts(result.stderr)["broken"] == 1


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "systemd-stop"])
def test_ctrl_c_or_sigterm_finishes_the_recording_and_prints_its_url(server, tmp_path, stop):
    srv = server()
    proc = subprocess.Popen([str(REEL_BIN), "capture", "--source", "pattern", "--size", "320x240", "--server", srv.base],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2)
    proc.send_signal(stop)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    sent = counts(stderr)["sent"]
    assert sent >= 5, stderr
    info = ffprobe(download(stdout.strip(), tmp_path / "v.mp4"))
    assert info["frames"] == sent


def test_a_server_that_refuses_is_a_clear_error(server):
    srv = server(token="secret")
    result = capture("--source", "pattern", "--size", "320x240", "--frames", "3", "--server", srv.base)
    assert result.returncode != 0
    assert "refused (401)" in result.stderr, result.stderr
    ok = capture("--source", "pattern", "--size", "320x240", "--frames", "3", "--server", srv.base, "--token", "secret")
    assert ok.returncode == 0, ok.stderr


def test_a_stalled_server_makes_frames_drop_not_the_camera_stall(tmp_path):
    """Uploads that take 1 s each: the bounded queue fills, new frames are
    dropped and counted, and capture keeps its pace."""

    class Slow(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def answer(self, body: dict):
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path.startswith("/video/create_video"):
                self.answer({"status": "success", "id": "slow"})
            else:
                self.answer({"status": "success", "video url": "http://127.0.0.1/slow.mp4"})

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            time.sleep(1)
            self.answer({"status": "success"})

    http = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    try:
        started = time.monotonic()
        result = capture("--source", "pattern", "--size", "320x240", "--fps", "20", "--duration", "3",
                         "--server", f"http://127.0.0.1:{http.server_address[1]}")
        elapsed = time.monotonic() - started
    finally:
        http.shutdown()
    assert result.returncode == 0, result.stderr
    c = counts(result.stderr)
    assert c["captured"] >= 50, c  # ~60 at 20 fps for 3 s: the camera side was never held up
    assert c["dropped"] >= 30 and c["sent"] + c["dropped"] == c["captured"], c
    assert elapsed < 12, elapsed


def test_a_missing_device_or_an_absent_server_is_a_clear_error(tmp_path):
    missing = capture("--device", "/dev/video-none", "--frames", "1")
    assert missing.returncode != 0
    assert "/dev/video-none" in missing.stderr and "No such file" in missing.stderr, missing.stderr

    # A server that is not there: retried for --retry-seconds, then a clear error.
    started = time.monotonic()
    absent = capture("--source", "pattern", "--size", "320x240", "--frames", "3",
                     "--server", "http://127.0.0.1:9", "--retry-seconds", "1")
    assert absent.returncode != 0
    assert "connect" in absent.stderr.lower(), absent.stderr
    assert time.monotonic() - started > 0.5, "it retried before giving up"
