"""Watching a recording while it records, over HTTP: `live.mp4` (the stream the
page feeds to Media Source Extensions), `live.m3u8` (HLS of byte ranges) and
`spool.mp4` (the spool's complete bytes, with Range), checked against the spool
on disk as it grows, with ffprobe, and through kill -9 and SIGTERM. The page's
live view in Chromium is in test_live_page.py.
"""

from __future__ import annotations

import re
import socket
import subprocess
import threading
import time
from pathlib import Path

import requests

from conftest import HTTP_TIMEOUT, assert_error, create, finish_ok, fixture_bytes, metric_samples, poll, wait_stored

FPS = 27
FRAMES = [fixture_bytes(f"frame-1280x720-420-{n}.jpg") for n in (1, 2, 3)] + [fixture_bytes("progressive-1280x720.jpg")]
SEGMENT = re.compile(r"#EXTINF:([0-9.]+),\n#EXT-X-BYTERANGE:(\d+)@(\d+)\n(\S+)\n")
MAP = re.compile(r'#EXT-X-MAP:URI="([^"]+)",BYTERANGE="(\d+)@0"')


class Camera(threading.Thread):
    """Sends real JPEG frames to one recording at 27 fps, as a camera would, until stopped."""

    def __init__(self, srv, rid: str, frames: int | None = None):
        super().__init__(daemon=True)
        self.srv, self.rid, self.limit = srv, rid, frames
        self.sent = 0
        self.halt = threading.Event()
        self.error: Exception | None = None

    def run(self):
        session = requests.Session()
        start = time.monotonic()
        try:
            while not self.halt.is_set() and (self.limit is None or self.sent < self.limit):
                r = session.post(self.srv.url(f"/video/video_upload?id={self.rid}"), data=FRAMES[self.sent % len(FRAMES)],
                                 headers={"Content-Type": "image/jpeg", **self.srv.headers()}, timeout=HTTP_TIMEOUT)
                if r.status_code != 200:
                    raise AssertionError(f"frame {self.sent}: {r.status_code} {r.text}")
                self.sent += 1
                self.halt.wait(max(0.0, start + self.sent / FPS - time.monotonic()))
        except Exception as error:  # the test reads it
            self.error = error

    def stop(self) -> int:
        self.halt.set()
        self.join(timeout=30)
        return self.sent


def recording_with_camera(srv, seconds: float = 0) -> tuple[str, Camera]:
    """A recording and its camera sending at 27 fps, once `seconds` of frames are in."""
    rid = create(srv)
    camera = Camera(srv, rid)
    camera.start()
    if seconds:
        poll(lambda: camera.sent > seconds * FPS, timeout=30, what=f"{seconds:g} s of frames")
    return rid, camera


def boxes(data: bytes) -> list[str] | None:
    """The top-level boxes of `data`, or None when the last one is cut short."""
    names, offset = [], 0
    while offset < len(data):
        if offset + 8 > len(data):
            return None
        size = int.from_bytes(data[offset:offset + 4], "big")
        if size < 8 or offset + size > len(data):
            return None
        names.append(data[offset + 4:offset + 8].decode("latin-1"))
        offset += size
    return names


def playlist(srv, rid: str, token: str | None = None) -> tuple[str, requests.Response]:
    query = f"?token={token}" if token else ""
    r = requests.get(srv.url(f"/video/recordings/{rid}/live.m3u8{query}"), headers=srv.headers() if not token else {},
                     timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/vnd.apple.mpegurl"
    return r.text, r


def segments(text: str) -> list[tuple[float, int, int, str]]:
    return [(float(d), int(length), int(offset), uri) for d, length, offset, uri in SEGMENT.findall(text)]


def spool_path(srv, rid: str) -> Path:
    return srv.spool_dir / f"{rid}.spool.mp4"


def ffprobe_packets(url: str, *extra: str, count: bool = True) -> dict:
    """What ffprobe reads of a URL; counting packets reads to the end, which a live playlist has not."""
    entries = "stream=codec_name,width,height" + (",nb_read_packets" if count else "")
    out = subprocess.run(["ffprobe", "-v", "error", *extra, *(["-count_packets"] if count else []), "-show_entries",
                          entries, "-of", "default=nw=1", url], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return dict(line.split("=", 1) for line in out.stdout.split())


def test_the_playlist_names_only_complete_fragments_while_the_spool_grows(server):
    srv = server()
    rid, camera = recording_with_camera(srv)
    listed: list[tuple[float, int, int, str]] = []
    polls = 0
    began = time.monotonic()
    # At least 8 s, and three segments (a loaded machine encodes behind the camera).
    while time.monotonic() < began + 8 or (len(listed) < 3 and time.monotonic() < began + 60):
        text, _ = playlist(srv, rid)
        on_disk = spool_path(srv, rid).read_bytes()
        polls += 1
        assert text.startswith("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXT-X-MEDIA-SEQUENCE:0\n")
        uri, init_length = MAP.search(text).groups()
        assert uri == "spool.mp4" and boxes(on_disk[:int(init_length)]) == ["ftyp", "moov"]
        assert "#EXT-X-ENDLIST" not in text
        now = segments(text)
        # An EVENT playlist only grows: what was listed stays as it was.
        assert now[:len(listed)] == listed
        listed = now
        expected_offset = int(init_length)
        for duration, length, offset, seg_uri in now:
            assert offset == expected_offset and seg_uri == "spool.mp4"
            expected_offset += length
            # Every byte it names was on disk when the playlist was answered, as whole fragments.
            assert len(on_disk) >= offset + length
            names = boxes(on_disk[offset:offset + length])
            assert names and names == ["moof", "mdat"] * (len(names) // 2), names
            assert 0 < duration and round(duration) <= 2
        time.sleep(0.1)
    assert camera.error is None, camera.error
    assert len(listed) >= 3, f"segments after 8 s, a keyframe every 2 s: {listed}"

    # Segments come back from spool.mp4 as players ask for them: one byte range each.
    _, length, offset, _ = listed[-1]
    r = requests.get(srv.url(f"/video/recordings/{rid}/spool.mp4"), headers={"Range": f"bytes={offset}-{offset + length - 1}"},
                     timeout=HTTP_TIMEOUT)
    assert r.status_code == 206 and r.content == spool_path(srv, rid).read_bytes()[offset:offset + length]
    assert r.headers["Content-Range"].startswith(f"bytes {offset}-{offset + length - 1}/")
    complete = int(r.headers["Content-Range"].rsplit("/", 1)[1])
    head = requests.head(srv.url(f"/video/recordings/{rid}/spool.mp4"), timeout=HTTP_TIMEOUT)
    assert head.status_code == 200 and int(head.headers["Content-Length"]) >= complete
    past = requests.get(srv.url(f"/video/recordings/{rid}/spool.mp4"), headers={"Range": "bytes=999999999-"},
                        timeout=HTTP_TIMEOUT)
    assert past.status_code == 416 and past.headers["Content-Range"].startswith("bytes */")

    # ffprobe reads the playlist of the recording in progress.
    live = ffprobe_packets(srv.url(f"/video/recordings/{rid}/live.m3u8"), count=False)
    assert live["codec_name"] == "h264" and (live["width"], live["height"]) == ("1280", "720")

    sent = camera.stop()
    done = finish_ok(srv, rid)
    assert done["frames"] == sent
    text, _ = playlist(srv, rid)
    assert text.endswith("#EXT-X-ENDLIST\n") and segments(text)[:len(listed)] == listed
    # The spool is gone from the folder, but its bytes stay watchable: every frame, read through the playlist.
    assert not spool_path(srv, rid).exists()
    assert ffprobe_packets(srv.url(f"/video/recordings/{rid}/live.m3u8"))["nb_read_packets"] == str(sent)
    assert metric_samples(srv)[("reel_live_playlists_total", ())] >= polls
    print(f"\nlive playlist: {polls} polls while recording, {len(listed)} segments listed")


def read_stream(response: requests.Response, into: bytearray, done: threading.Event):
    try:
        for chunk in response.iter_content(chunk_size=None):
            into.extend(chunk)
    except requests.RequestException:
        pass
    finally:
        done.set()


def watch(srv, rid: str) -> tuple[requests.Response, bytearray, threading.Event]:
    """Opens live.mp4 and reads it from a thread: the response, the bytes so far, and whether it ended."""
    r = requests.get(srv.url(f"/video/recordings/{rid}/live.mp4"), stream=True, timeout=HTTP_TIMEOUT)
    received, ended = bytearray(), threading.Event()
    threading.Thread(target=read_stream, args=(r, received, ended), daemon=True).start()
    return r, received, ended


def test_live_mp4_streams_from_the_latest_keyframe_to_the_end(server, tmp_path):
    srv = server()
    rid, camera = recording_with_camera(srv, seconds=3)
    r, received, ended = watch(srv, rid)
    assert r.status_code == 200 and r.headers["Content-Type"] == "video/mp4"
    assert r.headers["Cache-Control"] == "no-store"
    time.sleep(2)
    # Fragments arrive as they complete: whole boxes, the init segment first.
    assert not ended.is_set()
    names = boxes(bytes(received))
    if names is None:  # a fragment may be on its way: what came before it is whole
        names = []
    assert (names[:2] if names else ["ftyp", "moov"]) == ["ftyp", "moov"]
    assert metric_samples(srv)[("reel_live_streams", ())] == 1
    sent = camera.stop()
    finish_ok(srv, rid)
    assert ended.wait(15), "the stream ends once the recording has"
    poll(lambda: metric_samples(srv)[("reel_live_streams", ())] == 0, timeout=10, what="the stream to be counted out")
    names = boxes(bytes(received))
    assert names[:2] == ["ftyp", "moov"] and names[2:] == ["moof", "mdat"] * ((len(names) - 2) // 2), names
    video = tmp_path / "live.mp4"
    video.write_bytes(bytes(received))
    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "frame=key_frame",
                            "-read_intervals", "%+#1", "-of", "csv=p=0", str(video)], capture_output=True, text=True,
                           timeout=60)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.splitlines()[0].split(",")[0] == "1", "it starts at a keyframe"
    decoded = subprocess.run(["ffmpeg", "-v", "error", "-i", str(video), "-f", "null", "-"], capture_output=True, text=True,
                             timeout=120)
    assert decoded.returncode == 0 and decoded.stderr == "", decoded.stderr
    frames = int(subprocess.run(["ffprobe", "-v", "error", "-count_packets", "-show_entries", "stream=nb_read_packets",
                                 "-of", "csv=p=0", str(video)], capture_output=True, text=True, timeout=60).stdout)
    # From the keyframe before the viewer came (a keyframe every 2 s) to the last frame.
    assert sent - 3 * FPS - 2 * FPS <= frames <= sent, (frames, sent)


def test_live_routes_say_what_is_wrong(server):
    srv = server()
    for route in ("live.mp4", "live.m3u8", "spool.mp4"):
        body = assert_error(requests.get(srv.url(f"/video/recordings/no-such-id/{route}"), timeout=HTTP_TIMEOUT), 404)
        assert "no-such-id" in body["message"]
    rid = create(srv)
    for _ in range(30):
        requests.post(srv.url(f"/video/video_upload?id={rid}"), data=FRAMES[0], timeout=HTTP_TIMEOUT)
    # Watched while it records: still watchable to its end once finished.
    playlist(srv, rid)
    finish_ok(srv, rid)
    text, _ = playlist(srv, rid)
    assert text.endswith("#EXT-X-ENDLIST\n")
    # Nobody watched it: its spool is let go of at finish.
    unwatched = create(srv)
    requests.post(srv.url(f"/video/video_upload?id={unwatched}"), data=FRAMES[0], timeout=HTTP_TIMEOUT)
    finish_ok(srv, unwatched)
    body = assert_error(requests.get(srv.url(f"/video/recordings/{unwatched}/live.m3u8"), timeout=HTTP_TIMEOUT), 409)
    assert body["message"].startswith(f"recording {unwatched} is not live any more (it is stored)")
    # A server started again knows it only as stored.
    srv.terminate()
    again = server(port=srv.port, storage_dir=srv.storage_dir, spool_dir=srv.spool_dir, workdir=srv.workdir)
    for route in ("live.mp4", "live.m3u8", "spool.mp4"):
        body = assert_error(requests.get(again.url(f"/video/recordings/{rid}/{route}"), timeout=HTTP_TIMEOUT), 409)
        assert body["message"] == f"recording {rid} is not live any more (it is stored); watch its stored video instead"


def test_a_token_is_needed_and_travels_into_the_playlist(server):
    srv = server(token="s3cret/+")
    rid = create(srv)
    camera = Camera(srv, rid, frames=4 * FPS)
    camera.start()
    for route in ("live.mp4", "live.m3u8", "spool.mp4"):
        assert_error(requests.get(srv.url(f"/video/recordings/{rid}/{route}"), timeout=HTTP_TIMEOUT), 401)
    playlist(srv, rid, token="s3cret%2F%2B")  # watched while it records
    camera.join(timeout=60)
    assert camera.error is None, camera.error
    finish_ok(srv, rid)
    text, _ = playlist(srv, rid, token="s3cret%2F%2B")
    escaped = "spool.mp4?token=s3cret%2F%2B"
    assert MAP.search(text).group(1) == escaped and {s[3] for s in segments(text)} == {escaped}
    r = requests.get(srv.url(f"/video/recordings/{rid}/{escaped}"), headers={"Range": "bytes=0-99"}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 206 and len(r.content) == 100
    # ffprobe follows the URIs with the token (it checks extensions, and these end in ".mp4?token=…").
    url = srv.url(f"/video/recordings/{rid}/live.m3u8?token=s3cret%2F%2B")
    assert ffprobe_packets(url, "-allowed_extensions", "ALL")["nb_read_packets"] == str(4 * FPS)


def test_a_viewer_of_a_server_killed_with_kill_9_is_cut_off_and_the_recording_recovered(server):
    srv = server()
    rid, camera = recording_with_camera(srv, seconds=2)
    _, received, ended = watch(srv, rid)
    time.sleep(1.5)
    srv.kill()
    camera.stop()
    assert ended.wait(10), "the viewer's stream ends when the server dies"
    again = server(port=srv.port, storage_dir=srv.storage_dir, spool_dir=srv.spool_dir, workdir=srv.workdir)
    status = wait_stored(again, rid, timeout=60)
    assert status["frames"] > 0
    assert_error(requests.get(again.url(f"/video/recordings/{rid}/live.m3u8"), timeout=HTTP_TIMEOUT), 409)


def test_sigterm_ends_live_streams_and_stores_the_recording(server):
    srv = server()
    rid, camera = recording_with_camera(srv, seconds=1)
    streams = []
    for _ in range(3):
        _, received, ended = watch(srv, rid)
        streams.append((received, ended))
    time.sleep(1)
    began = time.monotonic()
    assert srv.terminate(timeout=30) == 0
    stopped = time.monotonic() - began
    camera.stop()
    for received, ended in streams:
        assert ended.wait(5)
        assert boxes(bytes(received))[:2] == ["ftyp", "moov"], "each viewer got whole boxes up to the end"
    assert "1 stored" in srv.log()
    print(f"\nSIGTERM with 3 live viewers: stopped in {stopped:.1f} s")


def test_a_viewer_that_stops_reading_is_let_go_and_does_not_hold_up_a_stop(server):
    srv = server(connection_idle_seconds=2)
    rid, camera = recording_with_camera(srv)
    # A viewer that asks and then never reads: its small receive buffer fills within seconds.
    stalled = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.connect(("127.0.0.1", srv.port))
    stalled.sendall(f"GET /video/recordings/{rid}/live.mp4 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    poll(lambda: metric_samples(srv)[("reel_live_streams", ())] == 1, timeout=10, what="the viewer to be counted")
    poll(lambda: metric_samples(srv)[("reel_live_streams", ())] == 0, timeout=60,
         what="the stalled viewer to be let go (its writes wait longer than --connection-idle-seconds)")
    assert camera.error is None, camera.error
    # And a stop is not held up by one that stalls now.
    again = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    again.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    again.connect(("127.0.0.1", srv.port))
    again.sendall(f"GET /video/recordings/{rid}/live.mp4 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    time.sleep(3)
    began = time.monotonic()
    assert srv.terminate(timeout=60) == 0
    camera.stop()
    print(f"\nstop with a stalled live viewer: {time.monotonic() - began:.1f} s")
    assert "1 stored" in srv.log()
    stalled.close()
    again.close()
