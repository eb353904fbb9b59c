"""Recordings that end without /video/finish_video: idle timeout, SIGTERM, kill -9 and restart."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from conftest import (
    HTTP_TIMEOUT, assert_error, create, decode_errors, ffprobe, finish, fixture_bytes, poll, upload_ok,
)

FRAMES = [fixture_bytes(f"frame-1280x720-420-{i}.jpg") for i in (1, 2, 3)]
FPS = 27
LOSS_FRAMES = 35  # encoder look-ahead + one open fragment, at most


def check_stored(path, frames: int | None = None) -> dict:
    info = ffprobe(path)
    assert info["codec"] == "h264", info
    assert info["pix_fmt"] == "yuv420p", info
    assert (info["width"], info["height"]) == (1280, 720), info
    if frames is not None:
        assert info["frames"] == frames, info
    assert info["duration"] == pytest.approx(info["frames"] / FPS, abs=0.01), info
    assert decode_errors(path) == ""
    return info


def test_idle_recording_is_stored(server):
    srv = server(idle_seconds=1)
    rid = create(srv)
    for i in range(10):
        assert upload_ok(srv, FRAMES[i % 3], rid) == i + 1
    sent = time.monotonic()
    videos = poll(srv.stored_videos, timeout=15, what="the idle recording in the storage folder")
    waited = time.monotonic() - sent
    assert waited >= 0.9, f"stored {waited:.2f} s after the last frame, before --idle-seconds 1"
    assert len(videos) == 1, videos
    check_stored(videos[0], 10)
    # It was finished by the server: finishing it now is a conflict, as is a new frame.
    assert_error(finish(srv, rid), 409)
    r = requests.post(srv.url("/video/video_upload"), params={"id": rid},
                      files={"image": ("image.jpg", FRAMES[0], "image/jpeg")}, timeout=HTTP_TIMEOUT)
    assert_error(r, 409)
    # And no recording is left to be the "most recent" one.
    assert_error(finish(srv), 404)
    assert poll(lambda: srv.spool_files() == [], timeout=5, what="an empty spool")


def test_sigterm_stores_recordings_in_progress(server):
    srv = server()
    first, second = create(srv), create(srv)
    for i in range(20):
        assert upload_ok(srv, FRAMES[i % 3], first) == i + 1
        if i < 7:
            assert upload_ok(srv, FRAMES[(i + 1) % 3], second) == i + 1
    assert srv.terminate(timeout=60) == 0, srv.log()
    videos = srv.stored_videos()
    assert len(videos) == 2, (videos, srv.log())
    counts = sorted(ffprobe(v)["frames"] for v in videos)
    assert counts == [7, 20], counts
    for video in videos:
        check_stored(video)
    assert srv.spool_files() == []


def test_kill_9_then_restart_recovers_spool(server):
    """kill -9 while frames stream in real time; the next start recovers the spool."""
    srv = server()
    rid = create(srv)
    accepted: list[float] = []  # monotonic time each accepted frame's answer arrived
    stop = threading.Event()
    failures: list[str] = []

    def stream():
        session = requests.Session()
        start = time.monotonic()
        i = 0
        while not stop.is_set():
            # Real time: frame i goes out at start + i/27, or at once when behind.
            delay = start + i / FPS - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            try:
                # Raw image/jpeg bodies: the debug build parses a multipart form of
                # a 100 kB frame in ~60 ms (MultipartKit at -Onone), too slow for 27 fps.
                r = session.post(srv.url("/video/video_upload"), params={"id": rid}, data=FRAMES[i % 3],
                                 headers={"Content-Type": "image/jpeg"}, timeout=10)
            except requests.RequestException:
                return  # the server is gone
            if r.status_code != 200:
                failures.append(f"frame {i}: {r.status_code} {r.text}")
                return
            accepted.append(time.monotonic())
            if r.json()["frames"] != len(accepted):
                failures.append(f"frame {i}: {r.text}")
                return
            i += 1

    sender = threading.Thread(target=stream)
    sender.start()
    time.sleep(1.0)
    created = requests.get(srv.url(f"/video/recordings/{rid}"), timeout=10).json()["created"]
    time.sleep(3.0)
    killed_at = time.monotonic()
    srv.kill()
    stop.set()
    sender.join(timeout=30)
    assert not failures, failures
    total = len(accepted)
    before = sum(1 for t in accepted if t <= killed_at - 1.5)
    rate = (total - 1) / (accepted[-1] - accepted[0])
    # What a crash may lose: the frames x264 holds back (~20) plus the open
    # fragment (0.5 s of video, 13.5 frames): ~35 frames, 1.3 s at 27 fps. So
    # every frame accepted more than 1.5 s before the kill must survive; if a
    # loaded machine made the stream slower than 27 fps, 35 frames is the bound.
    required = min(before, total - LOSS_FRAMES)
    print(f"accepted {total} frames at {rate:.1f} fps, {before} of them 1.5 s before the kill")
    assert total >= 60 and rate >= 15, f"only {total} frames at {rate:.1f} fps: not a real-time stream"

    spool = srv.spool_files()
    assert srv.spool_dir / f"{rid}.spool.mp4" in spool, spool
    assert srv.stored_videos() == []

    again = server(storage_dir=srv.storage_dir, spool_dir=srv.spool_dir, workdir=srv.workdir)
    videos = poll(again.stored_videos, timeout=30, what="the recovered video in the storage folder")
    assert len(videos) == 1, videos
    # Stored whole (a link or a rename): it probes at once.
    info = check_stored(videos[0])
    print(f"recovered {info['frames']} frames of {total}")
    # (+1: a frame in flight at the kill may have been encoded without its answer arriving.)
    assert required <= info["frames"] <= total + 1, (
        f"recovered {info['frames']} frames; {total} were accepted, {before} of them 1.5 s before the kill")
    assert poll(lambda: again.spool_files() == [], timeout=5, what="an empty spool after recovery")
    # The recovered recording counts as finished, keeps its place in the list,
    # and has a thumbnail decoded from the recovered video.
    assert_error(finish(again, rid), 409)
    status = requests.get(again.url(f"/video/recordings/{rid}"), timeout=10).json()
    assert status["state"] == "stored" and status["created"] == created, status
    assert status["frames"] == info["frames"], status
    thumbnail = requests.get(status["thumbnail url"], timeout=10)
    assert thumbnail.status_code == 200 and thumbnail.headers["Content-Type"] == "image/jpeg"
    assert thumbnail.content[:2] == b"\xff\xd8" and len(thumbnail.content) > 2000

    # A third start finds nothing more to recover (it recovers before it stops).
    assert again.terminate() == 0
    third = server(storage_dir=srv.storage_dir, spool_dir=srv.spool_dir)
    assert third.terminate() == 0
    assert third.stored_videos() == videos
