"""What `reel serve` keeps doing when things go wrong: bad frames, a full disk,
kill -9, idle and slow connections, oversized bodies, and memory over time.

Every upload here has a time limit, every wait is a poll on a condition with a
deadline, and every random choice comes from a seeded random.Random, so a
failing run repeats.
"""

from __future__ import annotations

import collections
import errno
import json
import os
import random
import resource
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from catalog import CatalogFile
from conftest import (
    REEL_BIN, assert_error, create, decode_errors, download, ffprobe, finish, finish_ok,
    fixture_bytes, free_bytes, poll, proc_status_kb, read_http_response, recording_status,
    seconds_until_closed, stored_path, upload_ok, wait_stored,
)

FRAMES = [fixture_bytes(f"frame-1280x720-420-{i}.jpg") for i in (1, 2, 3)]
UPLOAD_TIMEOUT = 30.0
MIB = 1 << 20


class FrameStream:
    """The frames of one recording, sent on one keep-alive session.

    Counts the answers by status and the frames answered 200; each 200 must
    count the recording's frames one further (a mismatch is noted in `problems`,
    so a sender thread never dies on an assertion).
    """

    def __init__(self, srv, rid: str, timeout: float = UPLOAD_TIMEOUT):
        self.srv, self.rid, self.timeout = srv, rid, timeout
        self.session = requests.Session()
        self.session.headers.update(srv.headers())
        self.accepted = 0
        self.answers: collections.Counter[int] = collections.Counter()
        self.problems: list[str] = []

    def send(self, data: bytes, multipart: bool = False) -> requests.Response:
        url = self.srv.url("/video/video_upload")
        params = {"id": self.rid}
        if multipart:
            r = self.session.post(url, params=params, files={"image": ("image.jpg", data, "image/jpeg")},
                                  timeout=self.timeout)
        else:
            r = self.session.post(url, params=params, data=data, headers={"Content-Type": "image/jpeg"},
                                  timeout=self.timeout)
        self.answers[r.status_code] += 1
        if r.status_code == 200:
            self.accepted += 1
            frames = r.json().get("frames")
            if frames != self.accepted:
                self.problems.append(f"answer {self.accepted} counted frames={frames}: {r.text[:200]}")
        return r

    @property
    def sent(self) -> int:
        return sum(self.answers.values())

    def close(self) -> None:
        self.session.close()


def is_json_error(r: requests.Response) -> bool:
    """`{"status":"error","message":…}` as JSON, whatever the status code."""
    try:
        body = r.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("status") == "error" and isinstance(body.get("message"), str)


# --- 1. bad frames never harm good ones ---------------------------------------------

MUTATED_FRAMES = 150
MUTATION_SEED = 20260101
# What a mutated frame may answer: used (it still decodes), or refused as the
# README says (empty, too large, not a JPEG or unusable, corrupt). Never a 5xx.
MUTATED_ANSWERS = {200, 400, 413, 415, 422}
MUTATION_BASES = {name: fixture_bytes(name) for name in (
    "frame-1280x720-420-1.jpg",   # baseline 4:2:0, SOF0
    "webcam-640x480-422.jpg",     # baseline 4:2:2
    "gray-1280x720.jpg",          # one component
    "progressive-1280x720.jpg",   # SOF2
)}
SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def jpeg_segments(data: bytes) -> list[tuple[int, int, int]]:
    """The marker segments of a JPEG from after SOI up to and including SOS:
    (marker, offset of its FF, offset just past the segment)."""
    assert data[:2] == b"\xff\xd8", "not a JPEG"
    segments, i = [], 2
    while i + 4 <= len(data):
        assert data[i] == 0xFF, f"no marker at {i}"
        marker = data[i + 1]
        if marker == 0xFF:  # a fill byte before the marker
            i += 1
            continue
        length = int.from_bytes(data[i + 2:i + 4], "big")
        segments.append((marker, i, i + 2 + length))
        if marker == 0xDA:
            break
        i += 2 + length
    return segments


def segment(data: bytes, markers: set[int]) -> tuple[int, int]:
    """(start, end) of the first segment with one of `markers`."""
    for marker, start, end in jpeg_segments(data):
        if marker in markers:
            return start, end
    raise AssertionError(f"no segment {sorted(hex(m) for m in markers)}")


def set_bytes(data: bytes, offset: int, new: bytes) -> bytes:
    return data[:offset] + new + data[offset + len(new):]


def sos_offset(data: bytes) -> int:
    return segment(data, {0xDA})[0]


# Each mutation takes the frame's bytes (and a Random for its choices) and
# returns a description of what it did and the mutated bytes. The layouts are
# those of ITU T.81 B.2: SOF = FF Cn len P Y X Nf (C H/V Tq)*Nf,
# DHT = FF C4 len (Tc/Th L1..L16 values)+, DQT = FF DB len (Pq/Tq 64 values)+.

def sof_precision(precision: int):
    def mutate(data, rng):
        start, _ = segment(data, SOF_MARKERS)
        return f"SOF sample precision {precision}", set_bytes(data, start + 4, bytes([precision]))
    return mutate


def sof_type(marker: int):
    def mutate(data, rng):
        start, _ = segment(data, SOF_MARKERS)
        return f"SOF marker {data[start + 1]:02X} -> {marker:02X}", set_bytes(data, start + 1, bytes([marker]))
    return mutate


def sof_components(count: int, consistent: bool):
    """Nf changed: the byte alone (the length no longer matches), or the whole
    component list made to match (components dropped, or new ones added)."""
    def mutate(data, rng):
        start, end = segment(data, SOF_MARKERS)
        if not consistent:
            return f"SOF component count byte {count}", set_bytes(data, start + 9, bytes([count]))
        components = [data[i:i + 3] for i in range(start + 10, end, 3)]
        while len(components) < count:
            components.append(bytes([len(components) + 1, 0x11, 0]))
        body = data[start + 4:start + 9] + bytes([count]) + b"".join(components[:count])
        sof = data[start:start + 2] + (len(body) + 2).to_bytes(2, "big") + body
        return f"SOF with {count} components", data[:start] + sof + data[end:]
    return mutate


def sof_dimension(which: str, value: int):
    def mutate(data, rng):
        start, _ = segment(data, SOF_MARKERS)
        offset = start + (5 if which == "height" else 7)
        return f"SOF {which} {value}", set_bytes(data, offset, value.to_bytes(2, "big"))
    return mutate


def sof_removed(data, rng):
    start, end = segment(data, SOF_MARKERS)
    return "SOF segment removed", data[:start] + data[end:]


def dht_length(data, rng):
    start, _ = segment(data, {0xC4})
    length = rng.choice([0, 1, 2, 3, 18, 0xFFFF, rng.randrange(0x10000)])
    return f"DHT length {length}", set_bytes(data, start + 2, length.to_bytes(2, "big"))


def dht_counts(data, rng):
    """The 16 code counts of the first table: random, so they sum far past 256."""
    start, _ = segment(data, {0xC4})
    counts = bytes(rng.randrange(256) for _ in range(16))
    return f"DHT counts {counts.hex()}", set_bytes(data, start + 5, counts)


def dht_counts_overflow(data, rng):
    start, _ = segment(data, {0xC4})
    return "DHT counts all 255", set_bytes(data, start + 5, b"\xff" * 16)


def dht_table_id(data, rng):
    start, _ = segment(data, {0xC4})
    value = rng.choice([0x04, 0x17, 0x20, 0xFF])
    return f"DHT class/id byte {value:02X}", set_bytes(data, start + 4, bytes([value]))


def dqt_length(data, rng):
    start, _ = segment(data, {0xDB})
    length = rng.choice([0, 1, 2, 3, 66, 0xFFFF, rng.randrange(0x10000)])
    return f"DQT length {length}", set_bytes(data, start + 2, length.to_bytes(2, "big"))


def dqt_table_id(data, rng, value: int | None = None):
    start, _ = segment(data, {0xDB})
    value = value if value is not None else rng.choice([0x04, 0x07, 0x24, 0x1F, 0xFF])
    return f"DQT precision/id byte {value:02X}", set_bytes(data, start + 4, bytes([value]))


def dqt_zeros(data, rng):
    start, _ = segment(data, {0xDB})
    return "DQT table of zeros", set_bytes(data, start + 5, bytes(64))


def header_only(data, rng):
    """Everything before the scan (SOS), then EOI: a JPEG with no picture."""
    return "headers only, then EOI", data[:sos_offset(data)] + b"\xff\xd9"


def soi_only(data, rng):
    return "FF D8 alone", b"\xff\xd8"


def soi_eoi(data, rng):
    return "FF D8 FF D9", b"\xff\xd8\xff\xd9"


def first_100_bytes(data, rng):
    return "first 100 bytes", data[:100]


def truncated(data, rng):
    cut = rng.randrange(len(data))
    return f"truncated to {cut} bytes", data[:cut]


def bit_flips(data, rng):
    flipped = bytearray(data)
    offsets = sorted(rng.randrange(len(data)) for _ in range(rng.randint(1, 32)))
    for offset in offsets:
        flipped[offset] ^= 1 << rng.randrange(8)
    return f"bits flipped at {offsets}", bytes(flipped)


def header_bit_flips(data, rng):
    """Bit flips only in the headers, where every bit matters."""
    flipped = bytearray(data)
    end = segment(data, {0xDA})[1]
    offsets = sorted(rng.randrange(end) for _ in range(rng.randint(1, 8)))
    for offset in offsets:
        flipped[offset] ^= 1 << rng.randrange(8)
    return f"header bits flipped at {offsets}", bytes(flipped)


def marker_changed(data, rng):
    """The second byte of one marker (SOI, a segment's, or EOI) changed."""
    offsets = [0] + [start for _, start, _ in jpeg_segments(data)] + [len(data) - 2]
    offset = rng.choice(offsets)
    new = rng.choice([0x00, 0x01, 0xC0, 0xC2, 0xC4, 0xD0, 0xD8, 0xD9, 0xDA, 0xDB, 0xDD, 0xE0, 0xFE, 0xFF,
                      rng.randrange(256)])
    return f"marker at {offset} {data[offset + 1]:02X} -> {new:02X}", set_bytes(data, offset + 1, bytes([new]))


# Every one of these appears at least once; random draws of all of them fill up the rest.
STRUCTURED_MUTATIONS = [
    *(sof_precision(p) for p in (0, 9, 12, 16)),
    *(sof_type(m) for m in (0xC3, 0xC5, 0xC6, 0xC7)),
    *(sof_components(n, consistent) for n in (0, 1, 2, 4) for consistent in (False, True)),
    *(sof_dimension(which, v) for which in ("width", "height") for v in (0, 65535)),
    sof_removed, dht_length, dht_counts, dht_counts_overflow, dht_table_id, dqt_length, dqt_table_id, dqt_zeros,
    header_only, soi_only, soi_eoi, first_100_bytes,
]
RANDOM_MUTATIONS = [bit_flips, bit_flips, header_bit_flips, truncated, marker_changed, *STRUCTURED_MUTATIONS]


def mutated_frames(count: int, seed: int) -> list[tuple[str, bytes]]:
    """`count` (description, bytes) pairs, the same for the same seed."""
    rng = random.Random(seed)
    mutations = list(STRUCTURED_MUTATIONS)
    while len(mutations) < count:
        mutations.append(rng.choice(RANDOM_MUTATIONS))
    rng.shuffle(mutations)
    frames = []
    for mutate in mutations:
        base = rng.choice(sorted(MUTATION_BASES))
        what, data = mutate(MUTATION_BASES[base], rng)
        frames.append((f"{base}: {what}", data))
    return frames


def test_bad_frames_never_harm_good_ones(server, tmp_path):
    """~150 mutated JPEGs, each followed by a valid frame: no 5xx, every valid
    frame taken, and the video holds exactly the frames answered 200."""
    srv = server()
    rid = create(srv)
    stream = FrameStream(srv, rid)
    problems: list[str] = []
    mutated_answers: collections.Counter[int] = collections.Counter()
    for index, (what, data) in enumerate(mutated_frames(MUTATED_FRAMES, MUTATION_SEED)):
        # Most go as raw bodies; every 7th in a multipart form, as the original clients send.
        for kind, body, multipart in (("mutated", data, index % 7 == 3), ("valid", FRAMES[index % 3], False)):
            try:
                r = stream.send(body, multipart=multipart)
            except requests.RequestException as error:
                problems.append(f"#{index} {kind} frame after [{what}]: no answer ({error})")
                break
            if kind == "mutated":
                mutated_answers[r.status_code] += 1
                if r.status_code not in MUTATED_ANSWERS:
                    problems.append(f"#{index} [{what}]: {r.status_code} {r.text[:200]}")
                elif r.status_code != 200 and not is_json_error(r):
                    problems.append(f"#{index} [{what}]: {r.status_code} without a JSON error: {r.text[:200]}")
            elif r.status_code != 200:
                problems.append(f"#{index} valid frame after [{what}]: {r.status_code} {r.text[:200]}")
        if not srv.running:
            problems.append(f"the server exited after #{index} [{what}]")
            break
    print(f"mutated frames answered {dict(sorted(mutated_answers.items()))}; "
          f"{stream.accepted} frames answered 200 in all")
    assert not problems, "\n".join(problems[:30])
    assert not stream.problems, stream.problems[:10]

    done = finish_ok(srv, rid)
    assert done["frames"] == stream.accepted, done
    video = download(done["video url"], tmp_path / "mutated.mp4")
    assert ffprobe(video)["frames"] == stream.accepted
    assert decode_errors(video) == ""


# What reel transcode must skip: files no JPEG decoder can make a picture of.
TRANSCODE_BAD_FILES = {
    "first-100-bytes.jpg": lambda data: first_100_bytes(data, None)[1],
    "soi-only.jpg": lambda data: soi_only(data, None)[1],
    "soi-eoi.jpg": lambda data: soi_eoi(data, None)[1],
    "header-only.jpg": lambda data: header_only(data, None)[1],
    "no-sof.jpg": lambda data: sof_removed(data, None)[1],
    "precision-12.jpg": lambda data: sof_precision(12)(data, None)[1],
    "sof-c5.jpg": lambda data: sof_type(0xC5)(data, None)[1],
    "width-0.jpg": lambda data: sof_dimension("width", 0)(data, None)[1],
    "dht-counts-255.jpg": lambda data: dht_counts_overflow(data, None)[1],
    "dqt-id-7.jpg": lambda data: dqt_table_id(data, None, 0x07)[1],
    "not-a-jpeg.jpg": lambda data: fixture_bytes("not-a-jpeg.png"),
    "truncated.jpg": lambda data: fixture_bytes("truncated.jpg"),
    "empty.jpg": lambda data: b"",
}


def test_transcode_skips_bad_files_keeps_good_ones(tmp_path):
    """`reel transcode good bad good good`: the bad file is named on stderr and
    skipped, the three good ones make a 3-frame video, and the exit status is 0."""
    good = []
    for i, data in enumerate(FRAMES, start=1):
        good.append(tmp_path / f"good-{i}.jpg")
        good[-1].write_bytes(data)
    failures = []
    for name, make in TRANSCODE_BAD_FILES.items():
        bad = tmp_path / name
        bad.write_bytes(make(FRAMES[0]))
        out = tmp_path / f"{bad.stem}.mp4"
        r = subprocess.run([str(REEL_BIN), "transcode", str(good[0]), str(bad), str(good[1]), str(good[2]),
                            "-o", str(out), "--size", "640x360"],
                           capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            failures.append(f"{name}: exit {r.returncode}: {r.stderr.strip()[-300:]}")
        elif str(bad) not in r.stderr:
            failures.append(f"{name}: not named on stderr: {r.stderr.strip()[-300:]!r}")
        elif (frames := ffprobe(out)["frames"]) != 3:
            failures.append(f"{name}: {frames} frames in the video, not 3; stdout {r.stdout.strip()!r}")
    assert not failures, "\n".join(failures)


# --- 2. a full disk, on a real filesystem ----------------------------------------------

DISK_SIZE = "64m"
MIN_FREE = "16M"
MIN_FREE_BYTES = (16 * MIB, 16_000_000)  # whichever a size suffix means, binary or decimal
FREE_UNDER_LIMIT = 8 * MIB                # what a filler leaves free: under --min-free 16M


def folders_on(disk: Path) -> dict:
    """The spool, the storage and the recordings' list entries, all on `disk`."""
    return {"spool_dir": disk / "spool", "storage_dir": disk / "videos", "recordings_dir": disk / "recordings"}


def fill(path: Path, leave: int = 0) -> Path:
    """Appends to `path` until its filesystem has about `leave` bytes free; with
    `leave` 0, until the filesystem refuses the next byte (ENOSPC)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    chunk = bytes(MIB)
    try:
        for _ in range(100_000):  # bounded: each pass writes or ends
            room = free_bytes(path.parent) - leave
            if leave and room <= 0:
                break
            try:
                os.write(fd, chunk[:max(1, min(len(chunk), room))])
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
                break
    finally:
        os.close(fd)
    return path


def readiness(srv) -> tuple[int, dict]:
    """`GET /readyz`, without the token: (status code, JSON body, or {"body": text} if not JSON)."""
    r = requests.get(srv.url("/readyz"), timeout=5)
    try:
        return r.status_code, r.json()
    except ValueError:
        return r.status_code, {"body": r.text[:300]}


def assert_not_ready(code: int, body: dict) -> None:
    assert code == 503, (code, body)
    assert body.get("status") == "error", body
    reasons = body.get("reasons")
    assert isinstance(reasons, list) and reasons and all(isinstance(x, str) and x for x in reasons), body


def assert_insufficient_storage(r: requests.Response) -> dict:
    """507 with the free space and the limit, as the free-space guard answers."""
    body = assert_error(r, 507)
    assert type(body.get("free bytes")) is int and type(body.get("min free bytes")) is int, body
    assert body["min free bytes"] in MIN_FREE_BYTES, body
    assert 0 <= body["free bytes"] < body["min free bytes"], body
    return body


def test_min_free_refuses_frames_then_recovers(tmpfs, server):
    """Under --min-free, frames get 507 and /readyz 503 (liveness stays 200);
    once space returns, frames are taken again and none answered 200 is lost."""
    disk = tmpfs(DISK_SIZE)
    srv = server(token="s3cret", min_free=MIN_FREE, **folders_on(disk))
    rid = create(srv)
    stream = FrameStream(srv, rid)
    for i in range(10):
        assert stream.send(FRAMES[i % 3]).status_code == 200
    code, body = readiness(srv)
    assert code == 200 and body.get("status") == "success", (code, body)

    filler = fill(disk / "filler", leave=FREE_UNDER_LIMIT)
    print(f"filler {filler.stat().st_size} bytes, {free_bytes(disk)} bytes free")

    def refused():
        r = stream.send(FRAMES[0])
        return [r] if r.status_code != 200 else None  # (a Response of 507 is falsy itself)

    # Free space is sampled at most once a second: frames may still be taken
    # for a moment, then every one gets 507.
    [r] = poll(refused, timeout=10, interval=0.1, what="an upload refused for want of space")
    assert_insufficient_storage(r)
    spool = set(srv.spool_files())
    for i in range(5):
        assert_insufficient_storage(stream.send(FRAMES[i % 3]))
    assert set(srv.spool_files()) <= spool, "a refused frame left a new file in the spool"
    assert_insufficient_storage(requests.get(srv.url("/video/create_video"), headers=srv.headers(), timeout=10))
    code, body = poll(lambda: (answer := readiness(srv))[0] != 200 and answer, timeout=5, what="/readyz 503")
    assert_not_ready(code, body)
    r = requests.get(srv.url("/healthz"), timeout=5)
    assert r.status_code == 200 and r.json() == {"status": "success"}

    filler.unlink()
    poll(lambda: stream.send(FRAMES[1]).status_code == 200, timeout=10, interval=0.2,
         what="an upload taken again after the filler is gone")
    code, body = poll(lambda: (answer := readiness(srv))[0] == 200 and answer, timeout=5, what="/readyz 200")
    assert body.get("status") == "success", body
    for i in range(10):
        assert stream.send(FRAMES[i % 3]).status_code == 200
    print(f"answers {dict(stream.answers)}")
    assert not stream.problems, stream.problems
    assert set(stream.answers) <= {200, 507}, stream.answers

    done = finish_ok(srv, rid)
    assert done["frames"] == stream.accepted, done
    assert ffprobe(stored_path(srv, recording_status(srv, rid)))["frames"] == stream.accepted


def test_disk_full_while_recording_loses_no_frame(tmpfs, server):
    """The disk fills to the last byte while frames stream (--min-free 0, so only
    the filesystem says no): every frame answered 200 ends up in the video,
    stored by the same process once space returns."""
    disk = tmpfs(DISK_SIZE)
    srv = server(min_free=0, retry_max_seconds=2, **folders_on(disk))
    rid = create(srv)
    stream = FrameStream(srv, rid)
    for i in range(10):
        assert stream.send(FRAMES[i % 3]).status_code == 200

    stop = threading.Event()
    unexpected: list[str] = []

    def keep_sending():
        for i in range(5000):  # bounded; stopped long before
            if stop.is_set():
                return
            try:
                r = stream.send(FRAMES[i % 3])
            except requests.RequestException as error:
                unexpected.append(f"frame {i}: no answer ({error})")
                return
            # Taken, or refused for want of space (507) or another 4xx; never a 500.
            if r.status_code != 200 and not (r.status_code == 507 or 400 <= r.status_code < 500):
                unexpected.append(f"frame {i}: {r.status_code} {r.text[:200]}")
            elif r.status_code != 200 and not is_json_error(r):
                unexpected.append(f"frame {i}: {r.status_code} without a JSON error: {r.text[:200]}")

    sender = threading.Thread(target=keep_sending, daemon=True)
    sender.start()
    try:
        poll(lambda: stream.sent >= 20, timeout=30, what="frames streaming")
        filler = disk / "filler"
        fill(filler)
        full_at, answers_at_full = time.monotonic(), stream.sent
        print(f"disk full: {free_bytes(disk)} bytes free after {stream.accepted} frames taken")
        # Keep it full (the server may free a little) while frames go on coming.
        deadline = full_at + 30
        while time.monotonic() - full_at < 2.0 or stream.sent - answers_at_full < 20:
            assert time.monotonic() < deadline, f"only {stream.sent - answers_at_full} answers in 30 s of full disk"
            assert not unexpected, unexpected
            fill(filler)
            time.sleep(0.1)
    finally:
        stop.set()
        sender.join(timeout=UPLOAD_TIMEOUT + 10)
    assert not sender.is_alive()
    assert not unexpected, unexpected
    assert not stream.problems, stream.problems
    print(f"answers {dict(stream.answers)}")
    assert srv.running, "the server exited on a full disk"

    # Finish while the disk is still full: the video cannot be written yet.
    # Either it is pending (500 or 507 with "pending": true), to be stored by
    # the server itself once space returns, or finish is refused (507) and
    # asked again then.
    fill(filler)
    r = finish(srv, rid)
    print(f"finish on a full disk: {r.status_code} {r.text[:300]}")
    pending = r.status_code in (500, 507) and is_json_error(r) and r.json().get("pending") is True
    refused = r.status_code == 507 and not pending
    assert r.status_code == 200 or pending or refused, r.text
    if refused:
        assert is_json_error(r), r.text

    filler.unlink()
    if refused:
        # (409: the server went on finishing it after all; the stored video tells.)
        def finished():
            again = finish(srv, rid)
            if again.status_code == 507:
                return None
            assert again.status_code in (200, 409) or (
                again.status_code == 500 and again.json().get("pending") is True), again.text
            return [again]
        poll(finished, timeout=15, interval=0.3, what="finish taken once space is back")
    # The same process stores it: no restart.
    status = wait_stored(srv, rid, timeout=60)
    assert srv.running
    video = stored_path(srv, status)
    info = ffprobe(video)
    print(f"{stream.accepted} frames answered 200, {info['frames']} in the stored video")
    assert info["frames"] == stream.accepted, (info, dict(stream.answers))
    assert decode_errors(video) == ""
    assert poll(lambda: srv.spool_files() == [], timeout=10, what="an empty spool")


def test_create_under_min_free_leaves_nothing_behind(tmpfs, server):
    """create_video under --min-free answers 507 and creates nothing: no list
    entry, no spool file, not even once space is back."""
    disk = tmpfs(DISK_SIZE)
    folders = folders_on(disk)
    srv = server(min_free=MIN_FREE, **folders)

    def listed() -> dict:
        r = requests.get(srv.url("/video/recordings"), timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    def files(folder: Path) -> list[Path]:
        return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []

    assert listed()["total"] == 0
    catalog = CatalogFile(folders["recordings_dir"])
    filler = fill(disk / "filler", leave=FREE_UNDER_LIMIT)
    code, body = poll(lambda: (answer := readiness(srv))[0] != 200 and answer, timeout=5, what="/readyz 503")
    assert_not_ready(code, body)
    for _ in range(5):
        assert_insufficient_storage(requests.get(srv.url("/video/create_video"), timeout=10))
    page = listed()
    assert page["recordings"] == [] and page["total"] == 0, page
    assert files(folders["spool_dir"]) == [] and catalog.ids() == set()

    filler.unlink()
    poll(lambda: readiness(srv)[0] == 200, timeout=10, what="/readyz 200 once space is back")
    # No phantom recording, no empty spool file, from the refused creates.
    assert listed()["total"] == 0
    assert files(folders["spool_dir"]) == [], files(folders["spool_dir"])
    assert catalog.ids() == set()
    # The catalog's SQLite file, and nothing else.
    assert {p.name for p in files(folders["recordings_dir"])} <= {"catalog.sqlite", "catalog.sqlite-wal", "catalog.sqlite-shm"}

    rid = create(srv)
    assert upload_ok(srv, FRAMES[0], rid, raw=True) == 1
    assert finish_ok(srv, rid)["frames"] == 1
    assert [entry["id"] for entry in listed()["recordings"]] == [rid]


# --- 3. kill -9 loses nothing that was answered ------------------------------------------

KILL_TRIALS = int(os.environ.get("REEL_KILL_TRIALS", "10"))
KILL_SEED = 9


def send_until_killed(srv, stream: FrameStream, kill_at: int, then_finish: bool, reached: threading.Event,
                      finish_answer: list) -> None:
    """Sends frames one after the other until the server is gone. With
    `then_finish`, stops after `kill_at` frames answered 200 and sends
    finish_video instead. `reached` is set when the kill may come: after frame
    `kill_at` was answered, or as the finish request goes out."""
    try:
        for i in range(kill_at + 500):  # bounded; the kill ends it long before
            if then_finish and stream.accepted == kill_at:
                reached.set()
                finish_answer.append(finish(srv, stream.rid).status_code)
                return
            r = stream.send(FRAMES[i % 3])
            if r.status_code != 200:
                stream.problems.append(f"frame {i}: {r.status_code} {r.text[:200]}")
                return
            if not then_finish and stream.accepted == kill_at:
                reached.set()
    except requests.RequestException:
        pass  # the server is gone
    finally:
        reached.set()


def test_kill_9_loses_no_answered_frame(server):
    """kill -9 at random moments, during uploads or just after finish_video was
    sent; the restarted server stores every frame that was answered 200."""
    rng = random.Random(KILL_SEED)
    failures: list[str] = []
    began = time.monotonic()
    for trial in range(KILL_TRIALS):
        after_finish = trial % 2 == 1
        kill_at = rng.randint(5, 60)  # frames answered 200 before the kill (or the finish)
        delay = rng.uniform(0, 0.15) if after_finish else rng.uniform(0, 0.03)
        srv = server()
        rid = create(srv)
        stream = FrameStream(srv, rid, timeout=10)
        reached = threading.Event()
        finish_answer: list[int] = []
        sender = threading.Thread(target=send_until_killed, daemon=True,
                                  args=(srv, stream, kill_at, after_finish, reached, finish_answer))
        sender.start()
        assert reached.wait(timeout=120), "the sender never got to the kill point"
        time.sleep(delay)
        srv.kill()
        sender.join(timeout=30)
        assert not sender.is_alive()
        answered = stream.accepted
        what = (f"trial {trial}: kill {delay * 1000:.0f} ms after "
                + (f"finish (answered {finish_answer or 'nothing'})" if after_finish else "frame")
                + f" {kill_at}, {answered} frames answered 200")
        try:
            assert not stream.problems, stream.problems
            again = server(storage_dir=srv.storage_dir, spool_dir=srv.spool_dir, workdir=srv.workdir)
            status = wait_stored(again, rid, timeout=60)
            frames = ffprobe(stored_path(again, status))["frames"]
            print(f"{what}; {frames} in the stored video")
            # +1: the request in flight at the kill may have been taken without its answer arriving.
            if not answered <= frames <= answered + 1:
                failures.append(f"{what}; {frames} frames in the stored video")
            again.kill()
        except AssertionError as error:
            failures.append(f"{what}: {error}")
    print(f"{KILL_TRIALS} trials in {time.monotonic() - began:.0f} s")
    assert not failures, "\n".join(failures)


# --- 4. connections cannot starve the server --------------------------------------------

IDLE_CONNECTIONS = 3000
HEALTH_LIMIT = 2.0       # seconds /healthz may take while the idle connections are open
FLOOD_SECONDS = 8.0


def test_idle_connections_do_not_starve_the_server(server):
    """3000 idle TCP connections: /healthz still answers within 2 s throughout,
    and a recording on its own keep-alive session has every frame taken."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = IDLE_CONNECTIONS + 1024
    if hard != resource.RLIM_INFINITY and hard < wanted:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {wanted}")
    srv = server()
    rid = create(srv)
    stream = FrameStream(srv, rid, timeout=10)
    for i in range(5):
        assert stream.send(FRAMES[i % 3]).status_code == 200

    stop = threading.Event()

    def keep_sending():
        for i in range(2000):  # bounded; stopped long before
            if stop.wait(1 / 15):
                return
            try:
                r = stream.send(FRAMES[i % 3])
            except requests.RequestException as error:
                stream.problems.append(f"frame {i}: no answer ({error})")
                return
            if r.status_code != 200:
                stream.problems.append(f"frame {i}: {r.status_code} {r.text[:200]}")

    health: list[float] = []
    slow: list[str] = []

    def check_health():
        start = time.monotonic()
        try:
            r = requests.get(srv.url("/healthz"), timeout=(HEALTH_LIMIT, HEALTH_LIMIT))
            seconds = time.monotonic() - start
            health.append(seconds)
            if r.status_code != 200 or seconds > HEALTH_LIMIT:
                slow.append(f"{r.status_code} in {seconds:.2f} s")
        except requests.RequestException as error:
            slow.append(f"no answer in {time.monotonic() - start:.2f} s ({type(error).__name__})")

    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, wanted * 2)), hard))
    idle: list[socket.socket] = []
    sender = threading.Thread(target=keep_sending, daemon=True)
    sender.start()
    try:
        # Non-blocking connects: a connection the server has not accepted yet
        # waits in the kernel, not in this loop. In batches of 100, so that this
        # loop alone does not overflow the listen backlog of a server that accepts.
        for i in range(IDLE_CONNECTIONS):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", srv.port))
            idle.append(s)
            if i % 100 == 99:
                time.sleep(0.02)
            if i % 500 == 0:
                check_health()
        end = time.monotonic() + FLOOD_SECONDS
        while time.monotonic() < end:
            check_health()
            time.sleep(0.25)
        print(f"{len(idle)} idle connections; /healthz answered {len(health)} times, "
              f"slowest {max(health, default=float('nan')):.3f} s; frames {dict(stream.answers)}")
    finally:
        stop.set()
        for s in idle:
            s.close()
        sender.join(timeout=15)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert not slow, slow[:10]
    assert not stream.problems, stream.problems[:10]
    assert srv.running
    assert stream.accepted > 20, dict(stream.answers)
    assert finish_ok(srv, rid)["frames"] == stream.accepted


CONNECTION_IDLE = 2       # --connection-idle-seconds of the next tests
CLOSED_WITHIN = 5.5       # seconds by which the server must have closed such a connection


def test_idle_and_slowloris_connections_are_closed(server):
    """With --connection-idle-seconds 2: a connection that never sends, a keep-alive
    connection after its answer, and one stalled halfway through a header line
    are all closed by the server within a few seconds (not before 2 s)."""
    srv = server(connection_idle_seconds=CONNECTION_IDLE)
    address = ("127.0.0.1", srv.port)
    closed: dict[str, float | None] = {}
    sockets = []

    def watch(name: str, sock: socket.socket, since: float):
        closed[name] = seconds_until_closed(sock, since, timeout=CLOSED_WITHIN + 5)

    try:
        silent = socket.create_connection(address, timeout=5)
        sockets.append(("silent", silent, time.monotonic()))

        kept_alive = socket.create_connection(address, timeout=5)
        kept_alive.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        status, _, body = read_http_response(kept_alive, timeout=5)
        assert status == 200, body
        sockets.append(("keep-alive after an answer", kept_alive, time.monotonic()))

        slowloris = socket.create_connection(address, timeout=5)
        slowloris.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaa")
        sockets.append(("stalled in a header line", slowloris, time.monotonic()))

        watchers = [threading.Thread(target=watch, args=entry, daemon=True) for entry in sockets]
        for t in watchers:
            t.start()
        for t in watchers:
            t.join(timeout=CLOSED_WITHIN + 10)
    finally:
        for _, s, _ in sockets:
            s.close()
    print({name: None if seconds is None else round(seconds, 2) for name, seconds in closed.items()})
    for name, _, _ in sockets:
        seconds = closed.get(name)
        assert seconds is not None and seconds <= CLOSED_WITHIN, f"{name}: still open after {CLOSED_WITHIN} s"
        assert seconds >= CONNECTION_IDLE - 0.5, f"{name}: closed after {seconds:.2f} s, before the idle time"
    r = requests.get(srv.url("/healthz"), timeout=5)
    assert r.status_code == 200


def test_slow_upload_counts_as_activity(server):
    """A frame whose body trickles in over 3 s (each pause under the connection
    idle time) is taken, and the recording (--idle-seconds 1) is not finished
    while it arrives: an upload in progress is activity."""
    srv = server(idle_seconds=1, connection_idle_seconds=CONNECTION_IDLE)
    rid = create(srv)
    assert upload_ok(srv, FRAMES[0], rid, raw=True) == 1
    jpeg = FRAMES[1]
    chunks = [jpeg[i:i + len(jpeg) // 12 + 1] for i in range(0, len(jpeg), len(jpeg) // 12 + 1)]
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
        sock.sendall(f"POST /video/video_upload?id={rid} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     f"Content-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\nConnection: close\r\n\r\n"
                     .encode())
        started = time.monotonic()
        for chunk in chunks:
            sock.sendall(chunk)
            time.sleep(3.0 / len(chunks))  # 0.25 s pauses: under the connection idle time
            state = recording_status(srv, rid)["state"]
            assert state == "recording", f"{time.monotonic() - started:.2f} s into the upload: {state}"
        assert srv.stored_videos() == []
        status, _, body = read_http_response(sock, timeout=10)
        answered = time.monotonic()
    assert status == 200, body
    assert json.loads(body)["frames"] == 2, body
    # Now it is idle: finished and stored a second after that answer, not before.
    videos = poll(srv.stored_videos, timeout=15, what="the idle recording stored")
    waited = time.monotonic() - answered
    assert waited >= 0.9, f"stored {waited:.2f} s after the slow frame's answer"
    assert ffprobe(videos[0])["frames"] == 2


# --- 5. oversized bodies and unknown routes ----------------------------------------------


def test_oversized_body_gets_413_and_the_connection_closed(server):
    """A Content-Length of 2 GB against --max-frame-bytes: a JSON 413, then the
    server closes the connection instead of reading the 2 GB."""
    srv = server(max_frame_bytes=150_000)
    rid = create(srv)
    body = FRAMES[0] * 10  # ~1 MB of the promised 2 GB
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
        sock.sendall(f"POST /video/video_upload?id={rid} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     f"Content-Type: image/jpeg\r\nContent-Length: 2000000000\r\n\r\n".encode())
        try:
            for i in range(0, len(body), 64 * 1024):
                sock.sendall(body[i:i + 64 * 1024])
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            pass  # the server stopped reading: what it should do
        status, headers, answer = read_http_response(sock, timeout=10)
        assert status == 413, (status, answer[:300])
        assert headers.get("content-type", "").startswith("application/json"), headers
        assert b'"status":"error"' in answer, answer
        seconds = seconds_until_closed(sock, time.monotonic(), timeout=5)
        assert seconds is not None, "the connection is still open 5 s after the 413: the server reads on"
    # And the recording goes on.
    assert upload_ok(srv, FRAMES[1], rid, raw=True) == 1


def test_unknown_routes_answer_json_404(server):
    srv = server()
    rid = create(srv)
    for method, path in (("GET", "/nope"), ("GET", "/video/nope"), ("POST", "/nope"),
                         ("POST", "/video/nope"), ("GET", f"/video/recordings/{rid}/nope")):
        r = requests.request(method, srv.url(path), timeout=10)
        assert_error(r, 404)


# --- 6. memory comes back -----------------------------------------------------------------

CONCURRENT_RECORDINGS = 8
FRAMES_EACH = 100
RSS_MARGIN_MB = 120


def test_memory_comes_back_after_recordings(server):
    """8 recordings of 100 frames at once, finished: the server's RSS comes back
    to within 120 MB of where it started."""
    srv = server()
    pid = srv.proc.pid
    start_mb = proc_status_kb(pid, "VmRSS") / 1024
    peak = [start_mb]
    stop = threading.Event()

    def sample():
        while not stop.wait(0.1):
            kb = proc_status_kb(pid, "VmRSS")
            if kb is not None:
                peak[0] = max(peak[0], kb / 1024)

    results: list[str] = []

    def record(k: int):
        try:
            rid = create(srv)
            stream = FrameStream(srv, rid)
            for i in range(FRAMES_EACH):
                r = stream.send(FRAMES[(i + k) % 3])
                if r.status_code != 200:
                    results.append(f"recording {k} frame {i}: {r.status_code} {r.text[:200]}")
                    return
            done = finish(srv, rid)
            if done.status_code != 200 or done.json().get("frames") != FRAMES_EACH:
                results.append(f"recording {k} finish: {done.status_code} {done.text[:200]}")
            results.extend(stream.problems)
            stream.close()
        except Exception as error:  # noqa: BLE001 - reported below
            results.append(f"recording {k}: {error!r}")

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    clients = [threading.Thread(target=record, args=(k,), daemon=True) for k in range(CONCURRENT_RECORDINGS)]
    began = time.monotonic()
    for t in clients:
        t.start()
    for t in clients:
        t.join(timeout=300)
    seconds = time.monotonic() - began
    assert not any(t.is_alive() for t in clients), "recordings still running after 300 s"
    assert not results, results[:10]
    assert len(srv.stored_videos()) == CONCURRENT_RECORDINGS

    limit = start_mb + RSS_MARGIN_MB
    settled = [float("nan")]

    def back_down():
        settled[0] = proc_status_kb(pid, "VmRSS") / 1024
        return settled[0] <= limit
    try:
        poll(back_down, timeout=20, interval=0.5, what=f"RSS back under {limit:.0f} MB")
    finally:
        stop.set()
        sampler.join(timeout=5)
        hwm = (proc_status_kb(pid, "VmHWM") or 0) / 1024
        print(f"RSS start {start_mb:.1f} MB, peak {max(peak[0], hwm):.1f} MB, after {settled[0]:.1f} MB "
              f"({CONCURRENT_RECORDINGS} x {FRAMES_EACH} frames in {seconds:.1f} s)")
