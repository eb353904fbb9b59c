"""The HTTP contract of `reel serve`, checked over a real socket against the real binary."""

from __future__ import annotations

import threading
import uuid

import pytest
import requests

from conftest import (
    HTTP_TIMEOUT, assert_error, create, decode_errors, download, ffprobe, finish, finish_ok,
    fixture_bytes, mean_abs_diff, mean_saturation, rgb_frames, top_level_boxes, upload, upload_ok,
    FIXTURES,
)

FRAMES = [fixture_bytes(f"frame-1280x720-420-{i}.jpg") for i in (1, 2, 3)]


def check_video(path, frames: int):
    info = ffprobe(path)
    assert info["codec"] == "h264", info
    assert info["pix_fmt"] == "yuv420p", info
    assert (info["width"], info["height"]) == (1280, 720), info
    assert info["frames"] == frames, info
    assert info["duration"] == pytest.approx(frames / 27, abs=0.01), info
    return info


def test_original_client(server, tmp_path):
    """The original webcam client, call for call: requests.get/post, no Session."""
    srv = server()
    base = srv.base

    r = requests.get(base + "/video/create_video")
    assert r.status_code == 200
    created = r.json()
    assert created["status"] == "success"
    uuid.UUID(created["id"])

    for i in range(27):
        r = requests.post(base + "/video/video_upload",
                          files={"image": ("image.jpg", FRAMES[i % 3], "image/jpeg")})
        assert r.status_code == 200, r.text
        assert r.json() == {"status": "success", "id": created["id"], "frames": i + 1}

    r = requests.get(base + "/video/finish_video")
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "success"
    assert done["id"] == created["id"]
    assert done["frames"] == 27
    assert done["duration"] == pytest.approx(1.0, abs=0.01)
    url = done["video url"]
    assert url.startswith(base + "/videos/video-") and url.endswith(".mp4"), url

    r = requests.get(url)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("video/mp4")
    assert len(r.content) == done["bytes"]
    video = tmp_path / "out.mp4"
    video.write_bytes(r.content)

    check_video(video, 27)
    boxes = top_level_boxes(video)
    assert "moov" in boxes and "mdat" in boxes, boxes
    assert boxes.index("moov") < boxes.index("mdat"), f"not faststart: {boxes}"
    assert "moof" not in boxes, f"stored file is still fragmented: {boxes}"
    assert decode_errors(video) == ""
    # The stored file is the one served.
    assert [p.name for p in srv.stored_videos()] == [url.rsplit("/", 1)[1]]
    assert srv.stored_videos()[0].read_bytes() == r.content
    assert srv.spool_files() == []


def test_raw_jpeg_body(server, tmp_path):
    srv = server()
    rid = create(srv)
    for i in range(9):
        assert upload_ok(srv, FRAMES[i % 3], raw=True) == i + 1
    # The X-Reel-Session header names the recording too.
    r = requests.post(srv.url("/video/video_upload"), data=FRAMES[0],
                      headers={"Content-Type": "image/jpeg", "X-Reel-Session": rid}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "success", "id": rid, "frames": 10}
    done = finish_ok(srv, rid)
    assert done["frames"] == 10
    assert done["duration"] == pytest.approx(10 / 27, abs=0.01)
    video = download(done["video url"], tmp_path / "raw.mp4")
    check_video(video, 10)
    boxes = top_level_boxes(video)
    assert boxes.index("moov") < boxes.index("mdat"), boxes


def test_two_clients_interleaved(server, tmp_path):
    """Two recordings at once, frames interleaved: each MP4 holds only its own frames."""
    srv = server()
    sources = {"ramp": "gray-ramp-1280x720.jpg", "bars": "colour-bars-1280x720.jpg"}
    counts = {"ramp": 14, "bars": 17}
    ids = {name: create(srv) for name in sources}
    assert ids["ramp"] != ids["bars"]
    data = {name: fixture_bytes(f) for name, f in sources.items()}
    turn = threading.Barrier(2, timeout=60)
    results: dict[str, list] = {name: [] for name in sources}
    errors: list[BaseException] = []

    def client(name: str):
        try:
            for i in range(max(counts.values())):
                if i < counts[name]:
                    # One request per call, as the original client does.
                    r = requests.post(srv.url("/video/video_upload"), params={"id": ids[name]},
                                      files={"image": ("image.jpg", data[name], "image/jpeg")},
                                      timeout=HTTP_TIMEOUT)
                    results[name].append((r.status_code, r.json()))
                turn.wait()  # keep the two clients in step: frames really interleave
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
            turn.abort()

    threads = [threading.Thread(target=client, args=(name,)) for name in sources]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    for name in sources:
        assert [s for s, _ in results[name]] == [200] * counts[name], results[name]
        assert [b["frames"] for _, b in results[name]] == list(range(1, counts[name] + 1))
        assert {b["id"] for _, b in results[name]} == {ids[name]}

    references = {name: rgb_frames(FIXTURES / f)[0] for name, f in sources.items()}
    assert mean_saturation(references["bars"]) > 100
    assert mean_saturation(references["ramp"]) < 3

    for name in sources:
        done = finish_ok(srv, ids[name])
        assert done["frames"] == counts[name]
        video = download(done["video url"], tmp_path / f"{name}.mp4")
        info = check_video(video, counts[name])
        frames = rgb_frames(video)
        assert len(frames) == counts[name] == info["frames"]
        other = "bars" if name == "ramp" else "ramp"
        for index, frame in enumerate(frames):
            own = mean_abs_diff(frame, references[name])
            foreign = mean_abs_diff(frame, references[other])
            assert own < 8, f"{name} frame {index} differs from its source by {own:.1f}"
            assert foreign > 40, f"{name} frame {index} looks like {other} ({foreign:.1f})"
            saturation = mean_saturation(frame)
            if name == "bars":
                assert saturation > 80, f"bars frame {index}: saturation {saturation:.1f}"
            else:
                assert saturation < 6, f"ramp frame {index}: saturation {saturation:.1f}"


def test_bad_input(server, tmp_path):
    """Errors over the real socket: each gets its JSON error, and the recording goes on."""
    srv = server(max_recordings=2, max_frame_bytes=150_000)
    good = FRAMES[0]
    big = fixture_bytes("full-1920x1080-420.jpg")  # a valid JPEG, 203 kB > 150 kB
    assert len(big) > 150_000 > len(good)

    # No recording yet.
    assert_error(upload(srv, good), 404)
    assert_error(upload(srv, good, raw=True), 404)
    assert_error(finish(srv), 404)

    rid = create(srv)
    expected = 0

    def good_frame():
        nonlocal expected
        expected += 1
        assert upload_ok(srv, FRAMES[expected % 3], rid) == expected

    good_frame()

    assert_error(upload(srv, fixture_bytes("not-a-jpeg.png"), rid), 415)
    good_frame()
    assert_error(upload(srv, fixture_bytes("not-a-jpeg.png"), rid, raw=True), 415)
    good_frame()
    assert_error(upload(srv, fixture_bytes("truncated.jpg"), rid), 422)
    good_frame()
    assert_error(upload(srv, fixture_bytes("truncated.jpg"), rid, raw=True), 422)
    good_frame()
    assert_error(upload(srv, fixture_bytes("corrupt-scan.jpg"), rid), 422)
    good_frame()
    assert_error(upload(srv, b"", rid, raw=True), 400)
    good_frame()
    assert_error(upload(srv, b"", rid), 400)  # multipart with an empty image file
    good_frame()
    # Multipart with another field name, as a client with a typo would send it.
    r = requests.post(srv.url("/video/video_upload"), params={"id": rid},
                      files={"file": ("image.jpg", good, "image/jpeg")}, timeout=HTTP_TIMEOUT)
    assert_error(r, 400)
    good_frame()
    # A multipart form with a text field only.
    r = requests.post(srv.url("/video/video_upload"), params={"id": rid},
                      files={"name": (None, "value")}, timeout=HTTP_TIMEOUT)
    assert_error(r, 400)
    good_frame()
    # Unknown ids.
    assert_error(upload(srv, good, str(uuid.uuid4())), 404)
    good_frame()
    assert_error(finish(srv, str(uuid.uuid4())), 404)
    good_frame()
    # Over --max-frame-bytes: a real JPEG, raw and in a form (a body much larger
    # than the limit: test_body_far_over_limit).
    assert_error(upload(srv, big, rid, raw=True), 413)
    good_frame()
    assert_error(upload(srv, big, rid), 413)
    good_frame()
    # Over --max-recordings.
    second = create(srv)
    assert_error(requests.get(srv.url("/video/create_video"), timeout=HTTP_TIMEOUT), 429)
    good_frame()
    # An empty recording cannot become a video (409), but finishing it frees its place.
    assert_error(finish(srv, second), 409)
    third = create(srv)
    assert third not in (rid, second)
    assert_error(requests.get(srv.url("/video/create_video"), timeout=HTTP_TIMEOUT), 429)
    good_frame()
    # Without an id, a frame goes to the most recent recording (the third).
    assert upload_ok(srv, good) == 1
    assert finish_ok(srv, third)["frames"] == 1

    done = finish_ok(srv, rid)
    assert done["id"] == rid
    assert done["frames"] == expected
    # Finishing again: the recording is known and finished.
    assert_error(finish(srv, rid), 409)
    assert_error(upload(srv, good, rid), 409)
    assert_error(upload(srv, good, rid, raw=True), 409)

    video = download(done["video url"], tmp_path / "bad-input.mp4")
    check_video(video, expected)
    assert decode_errors(video) == ""
    # Nothing is left in progress, nothing left behind in the spool.
    assert len(srv.stored_videos()) == 2
    assert srv.spool_files() == []


def test_body_far_over_limit(server):
    """A body far over --max-frame-bytes gets the same JSON 413 as one just over it.

    Regression: the body is collected up to the limit + 64 KiB, and past that the
    collector's own error (NIOTooManyBytesError) once escaped as a bare 413 with
    no JSON body and no Content-Type.
    """
    srv = server(max_frame_bytes=150_000)
    rid = create(srv)
    assert upload_ok(srv, FRAMES[0], rid) == 1
    huge = fixture_bytes("full-1920x1080-420.jpg") * 8  # 1.6 MB
    for raw in (True, False):
        r = upload(srv, huge, rid, raw=raw)
        assert r.status_code == 413
        try:
            assert_error(r, 413)
        finally:
            # Whatever the body, the recording goes on.
            assert upload_ok(srv, FRAMES[1], rid) == (2 if raw else 3)
    assert finish_ok(srv, rid)["frames"] == 3


def test_range_requests(server, tmp_path):
    srv = server()
    rid = create(srv)
    for i in range(5):
        upload_ok(srv, FRAMES[i % 3], rid)
    done = finish_ok(srv, rid)
    url = done["video url"]

    full = requests.get(url, timeout=HTTP_TIMEOUT)
    assert full.status_code == 200
    body = full.content
    size = len(body)
    assert size == done["bytes"] > 200
    assert full.headers["Accept-Ranges"] == "bytes"
    assert int(full.headers["Content-Length"]) == size
    etag = full.headers["ETag"]
    assert etag

    r = requests.get(url, headers={"Range": "bytes=0-99"}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 206
    assert r.headers["Content-Range"] == f"bytes 0-99/{size}"
    assert int(r.headers["Content-Length"]) == 100
    assert r.content == body[:100]

    r = requests.get(url, headers={"Range": "bytes=-100"}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 206
    assert r.headers["Content-Range"] == f"bytes {size - 100}-{size - 1}/{size}"
    assert r.content == body[-100:]

    r = requests.get(url, headers={"Range": f"bytes=100-{size + 1000}"}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 206
    assert r.headers["Content-Range"] == f"bytes 100-{size - 1}/{size}"
    assert r.content == body[100:]

    r = requests.get(url, headers={"Range": "bytes=50-"}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 206
    assert r.content == body[50:]

    r = requests.get(url, headers={"Range": f"bytes={size}-"}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 416
    assert r.headers["Content-Range"] == f"bytes */{size}"

    r = requests.head(url, timeout=HTTP_TIMEOUT)
    assert r.status_code == 200
    assert int(r.headers["Content-Length"]) == size
    assert r.headers["ETag"] == etag
    assert r.content == b""

    r = requests.get(url, headers={"If-None-Match": etag}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 304
    assert r.content == b""

    r = requests.get(url, headers={"If-None-Match": '"something-else"'}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 200
    assert r.content == body

    r = requests.get(srv.url("/videos/video-0.mp4"), timeout=HTTP_TIMEOUT)
    assert_error(r, 404)


def test_token(server, tmp_path):
    token = "s3cret-token"
    srv = server(token=token)
    good = {"Authorization": f"Bearer {token}"}
    wrong = {"Authorization": "Bearer nope"}

    r = requests.get(srv.url("/healthz"), timeout=HTTP_TIMEOUT)
    assert r.status_code == 200 and r.json() == {"status": "success"}

    assert_error(requests.get(srv.url("/video/create_video"), timeout=HTTP_TIMEOUT), 401)
    assert_error(requests.get(srv.url("/video/create_video"), headers=wrong, timeout=HTTP_TIMEOUT), 401)
    assert_error(requests.get(srv.url("/video/create_video"), params={"token": "nope"},
                              timeout=HTTP_TIMEOUT), 401)
    assert_error(requests.get(srv.url("/video/create_video"), headers={"Authorization": token},
                              timeout=HTTP_TIMEOUT), 401)

    r = requests.get(srv.url("/video/create_video"), headers=good, timeout=HTTP_TIMEOUT)
    assert r.status_code == 200 and r.json()["status"] == "success"
    rid = r.json()["id"]

    files = lambda: {"image": ("image.jpg", FRAMES[0], "image/jpeg")}  # noqa: E731
    assert_error(requests.post(srv.url("/video/video_upload"), files=files(), timeout=HTTP_TIMEOUT), 401)
    assert_error(requests.post(srv.url("/video/video_upload"), files=files(), headers=wrong,
                               timeout=HTTP_TIMEOUT), 401)
    r = requests.post(srv.url("/video/video_upload"), files=files(), headers=good, timeout=HTTP_TIMEOUT)
    assert r.status_code == 200 and r.json()["frames"] == 1
    r = requests.post(srv.url("/video/video_upload"), params={"token": token, "id": rid}, files=files(),
                      timeout=HTTP_TIMEOUT)
    assert r.status_code == 200 and r.json()["frames"] == 2

    assert_error(requests.get(srv.url("/video/finish_video"), timeout=HTTP_TIMEOUT), 401)
    r = requests.get(srv.url("/video/finish_video"), headers=good, timeout=HTTP_TIMEOUT)
    assert r.status_code == 200 and r.json()["frames"] == 2
    url = r.json()["video url"]

    # The stored videos need the token too: header, or ?token= for a <video src>.
    assert_error(requests.get(url, timeout=HTTP_TIMEOUT), 401)
    assert_error(requests.get(url, headers=wrong, timeout=HTTP_TIMEOUT), 401)
    r = requests.get(url, headers=good, timeout=HTTP_TIMEOUT)
    assert r.status_code == 200 and r.content[4:8] == b"ftyp"
    r = requests.get(url, params={"token": token}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 200 and r.content[4:8] == b"ftyp"

    # CORS preflight: no token needed.
    r = requests.options(srv.url("/video/video_upload"), headers={
        "Origin": "https://cam.example.com",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }, timeout=HTTP_TIMEOUT)
    assert r.status_code == 204, (r.status_code, r.text)
    assert r.headers.get("Access-Control-Allow-Origin") == "*"
    methods = r.headers.get("Access-Control-Allow-Methods", "").upper()
    assert "POST" in methods, r.headers
    allowed = r.headers.get("Access-Control-Allow-Headers", "").lower()
    assert "authorization" in allowed, r.headers

    # A cross-origin answer, even a 401, carries the CORS header so a page can read it.
    r = requests.get(srv.url("/video/create_video"), headers={"Origin": "https://cam.example.com"},
                     timeout=HTTP_TIMEOUT)
    assert_error(r, 401)
    assert r.headers.get("Access-Control-Allow-Origin") == "*"


def test_frame_shapes_and_samplings(server, tmp_path):
    """Frames of other sizes, samplings and codings go into one 1280x720 recording."""
    srv = server()
    rid = create(srv)
    names = ["webcam-640x480-422", "full-1920x1080-420", "frame-1280x720-444", "frame-1280x720-440",
             "gray-1280x720", "progressive-1280x720", "odd-641x479"]
    for index, name in enumerate(names):
        assert upload_ok(srv, fixture_bytes(f"{name}.jpg"), rid, raw=index % 2 == 0) == index + 1
    # A CMYK JPEG is a JPEG reel cannot use: refused, and the recording goes on.
    assert_error(upload(srv, fixture_bytes("cmyk-320x240.jpg"), rid), 415)
    done = finish_ok(srv, rid)
    assert done["frames"] == len(names)
    video = download(done["video url"], tmp_path / "shapes.mp4")
    check_video(video, len(names))
    assert decode_errors(video) == ""

    frames = rgb_frames(video)
    for index, name in enumerate(names):
        frame = frames[index]
        if name in ("webcam-640x480-422", "odd-641x479"):
            # 4:3 in 16:9, fit: black bars of 160 px (8 of 64 columns) at each side.
            for y in range(36):
                for x in (*range(0, 7), *range(57, 64)):
                    px = frame[(y * 64 + x) * 3:(y * 64 + x) * 3 + 3]
                    assert max(px) <= 24, f"{name}: pixel {x},{y} of the bars is {tuple(px)}"
        else:
            reference = rgb_frames(FIXTURES / f"{name}.jpg")[0]
            diff = mean_abs_diff(frame, reference)
            assert diff < 10, f"{name}: frame {index} differs from its source by {diff:.1f}"
    assert mean_saturation(frames[names.index("gray-1280x720")]) < 3


def test_client_timestamps_far_apart_are_refused_and_harm_nothing(server, tmp_path):
    """X-Reel-Timestamp is the client's clock: one far from the recording's first frame (past
    what a recording may last, or at the ends of int64) is refused with 400; the server and the
    recording go on, and every frame answered 200 is in the video."""
    srv = server(max_seconds=60)
    r = requests.get(srv.url("/video/create_video"), params={"timing": "arrival"}, timeout=HTTP_TIMEOUT)
    rid = r.json()["id"]
    frame = fixture_bytes("frame-1280x720-420-1.jpg")

    def send(ts):
        return requests.post(srv.url("/video/video_upload"), params={"id": rid}, data=frame,
                             headers={"Content-Type": "image/jpeg", "X-Reel-Timestamp": str(ts)}, timeout=HTTP_TIMEOUT)

    first = 2**63 - 1
    assert send(first).status_code == 200
    for ts in (-(2**63), 0, first - 61_000, 65536):
        body = assert_error(send(ts), 400)
        assert body["message"] == (f"X-Reel-Timestamp {ts} is more than 60 s (the recording's limit) from recording "
                                   f"{rid}'s first frame at {first}; the frame is refused"), body
    assert send(first - 1000).status_code == 200  # a clock going back a little: the frame keeps its order
    assert send(first + 0).status_code == 200
    answer = finish_ok(srv, rid)
    assert answer["frames"] == 3
    info = ffprobe(download(answer["video url"], tmp_path / "v.mp4"))
    assert info["frames"] == 3
    assert requests.get(srv.url("/healthz"), timeout=HTTP_TIMEOUT).status_code == 200


def test_a_client_may_choose_the_recording_id(server, tmp_path):
    srv = server()
    chosen = str(uuid.uuid4()).upper()
    r = requests.get(srv.url(f"/video/create_video?id={chosen}"), timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    rid = r.json()["id"]
    assert rid == chosen.lower()
    assert upload_ok(srv, fixture_bytes("frame-1280x720-420-1.jpg"), rid) == 1
    # Taken while it records, and once it is stored.
    body = assert_error(requests.get(srv.url(f"/video/create_video?id={rid}"), timeout=HTTP_TIMEOUT), 409)
    assert body["message"] == f"a recording with id {rid} exists already; choose another id, or none and the server chooses"
    finish_ok(srv, rid)
    assert_error(requests.get(srv.url(f"/video/create_video?id={chosen}"), timeout=HTTP_TIMEOUT), 409)
    body = assert_error(requests.get(srv.url("/video/create_video?id=camera-1"), timeout=HTTP_TIMEOUT), 400)
    assert body["message"] == "id must be a UUID, such as 4f0c6e1a-8a53-4c3e-9a51-0d3f3b1f6f9e"
    # Refused creations leave nothing behind: one recording, stored, and the server takes the next.
    assert [e["id"] for e in requests.get(srv.url("/video/recordings"), timeout=HTTP_TIMEOUT).json()["recordings"]] == [rid]
    assert create(srv) != rid
