#!/usr/bin/env python3
"""Live-view benchmark of `reel serve`: what watching a recording in progress costs.

Usage: scripts/bench_live.py [--reel .build/release/reel] [--quick] [--viewers 10] [--seconds 20]

Starts the real server (default .build/release/reel) itself, on loopback, in a temp
folder, with `--preset veryfast --threads 1`, and PRINTS figures; it never asserts
timing. The helpers (server, footage, /proc readings, child cleanup) are
scripts/bench_ingest.py's. One server and one camera for the whole run: a Python
thread sending the 1280x720 footage (scripts/make-footage.sh, bench-data/frames-720p)
at 27 fps to a recording made with `?timing=arrival`, each frame's
`X-Reel-Timestamp` the wall time (ms) its upload started; so media time t of the
video is the frame sent at first_send + t. A frame whose tick passes while the
upload before it is on its way is dropped (counted), as a webcam would.

1. baseline: the camera alone for a window of --seconds (20; quick 10): server CPU
   (% of a core, utime + stime of /proc/<pid>/stat over the window), VmRSS (mean of
   samples every 0.5 s) and VmHWM.
2. live.mp4: the same camera and --viewers (10) threads each reading
   `GET live.mp4` continuously (requests stream=True, iter_content): server CPU and
   RSS over a window as long, and their growth per viewer; bytes per viewer per second
   against the spool's growth (the video's bitrate); and the delivery delay "frame
   sent -> the fragment holding it received by the viewer": each fragment's samples
   get their presentation time from tfdt + trun (durations, composition offsets) in
   the moov's mdhd timescale, less the time the first frame has (read once from the
   spool's first segment), which gives the send time of every frame in it.
   Per frame (every sample of a fragment) and for the newest frame of each fragment
   (the pipeline's own latency: encoder lookahead, fragmenting, delivery), with how
   many newer frames the server had already answered when the fragment arrived (what
   the encoder and the open fragment held back, as against delivery). A viewer whose
   newest-frame delay grows by 0.5 s from the window's first third to its last (HLS:
   3.5 s) is reported as falling behind, one waiting over 2 s for bytes as a stall.
3. HLS: as many threads each polling `live.m3u8` every 1 s (starts spread over the
   second), fetching the init and then each new segment's byte range from
   `spool.mp4`, as players do; the same figures, the delay counted at the end of the
   segment's download (bytes/s come in whole 2 s segments: +-1 segment per window).
4. request latency: 300 (quick 200) sequential `GET live.m3u8` on one keep-alive
   Session, and 200 (quick 100) `GET spool.mp4` with the Range of the newest 2 s
   segment: p50/p95/p99/max; once with the camera alone and once with the HLS
   viewers running (after their window).
5. the end: one live.mp4 viewer open while the recording finishes (does its stream
   end?); the playlist after (ENDLIST) and each segment it lists checked against
   the whole spool.mp4: does it start at a fragment, and with a keyframe?
Every phase prints this process's CPU (camera, viewers, probes are threads here and
share the machine's cores with the server) and the cores other processes used.
Needs Python 3, requests, ffmpeg (for the footage); Linux (/proc).
"""
import argparse
import bisect
import math
import os
import re
import signal
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_ingest as ingest  # noqa: E402
from bench_ingest import APIFailure, api_json, log, mean, ms, percentile, problem  # noqa: E402

requests = ingest.requests
FPS = ingest.FPS
PRESET = "veryfast"
THREADS = 1
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0           # a live.mp4 read waits this long for bytes (a fragment comes every 0.5 s)
TIMEOUT = (CONNECT_TIMEOUT, READ_TIMEOUT)
POLL_SECONDS = 1.0            # HLS viewers poll the playlist this often (target duration 2 s / 2)
SETTLE_SECONDS = 1.5          # after viewers start, before the window: their first burst (from the keyframe) is left out
STALL_SECONDS = 2.0           # a live.mp4 viewer waiting longer than this for bytes is reported
BEHIND_SECONDS = 0.5          # a live.mp4 viewer whose delay grows by more than this over a window is reported
HLS_BEHIND_SECONDS = 3.5      # an HLS viewer's: its delay varies by a poll and a segment anyway
SEGMENT = re.compile(r"#EXTINF:([0-9.]+),\n#EXT-X-BYTERANGE:(\d+)@(\d+)\n(\S+)\n")
MAP = re.compile(r'#EXT-X-MAP:URI="([^"]+)",BYTERANGE="(\d+)@(\d+)"')
CAUTIONS = []                 # figures that compare unlike windows: printed at the end


def now():
    return time.perf_counter()


def fmt_ms(seconds):
    return "-" if seconds != seconds else f"{ms(seconds):.0f}"


# --- fragmented MP4 -------------------------------------------------------------------


def children(data, start=0, end=None):
    """(type, body start, body end) of the boxes in data[start:end]."""
    end = len(data) if end is None else end
    offset = start
    while offset + 8 <= end:
        size, head = int.from_bytes(data[offset:offset + 4], "big"), 8
        if size == 1:
            size, head = int.from_bytes(data[offset + 8:offset + 16], "big"), 16
        elif size == 0:
            size = end - offset
        if size < head or offset + size > end:
            raise ValueError(f"box {bytes(data[offset + 4:offset + 8])!r} of {size} bytes at {offset} runs past {end}")
        yield bytes(data[offset + 4:offset + 8]).decode("latin-1"), offset + head, offset + size
        offset += size


def u32(data, at):
    return int.from_bytes(data[at:at + 4], "big")


class FragmentReader:
    """Reads a fragmented MP4 as it arrives (ftyp, moov, then moof + mdat pairs): the
    track's timescale from the moov, then for each complete fragment when its last
    byte came and its samples' presentation times (tfdt + durations + composition
    offsets, in the timescale)."""

    def __init__(self):
        self.buffer = bytearray()
        self.timescale = None
        self.trex_duration = 0
        self.trex_flags = 0
        self.pending = None          # the moof waiting for its mdat: ((presentation times, keyframe), bytes)
        self.fragments = []          # (received, [pts], bytes, starts with a keyframe)
        self.offsets = []            # where each fragment's moof is in the bytes fed
        self.bytes = 0

    def feed(self, data, received):
        self.bytes += len(data)
        buffer = self.buffer
        buffer += data
        offset = 0
        while len(buffer) - offset >= 8:
            size, head = u32(buffer, offset), 8
            if size == 1:
                if len(buffer) - offset < 16:
                    break
                size, head = int.from_bytes(buffer[offset + 8:offset + 16], "big"), 16
            if size < head:
                raise ValueError(f"box of {size} bytes at stream byte {self.bytes - len(buffer) + offset}")
            if len(buffer) - offset < size:
                break
            kind = bytes(buffer[offset + 4:offset + 8])
            if kind == b"moov":
                self._moov(bytes(buffer[offset + head:offset + size]))
            elif kind == b"moof":
                if self.timescale is None:
                    raise ValueError("moof before the moov")
                self.pending = (self._moof(bytes(buffer[offset + head:offset + size])), size,
                                self.bytes - len(buffer) + offset)
            elif kind == b"mdat":
                if self.pending is None:
                    raise ValueError("mdat without a moof before it")
                (times, keyframe), length, at = self.pending
                self.fragments.append((received, times, length + size, keyframe))
                self.offsets.append(at)
                self.pending = None
            offset += size
        if offset:
            del buffer[:offset]

    def _moov(self, body):
        for kind, start, end in children(body):
            if kind == "trak" and self.timescale is None:
                for kind2, s2, e2 in children(body, start, end):
                    if kind2 == "mdia":
                        for kind3, s3, _ in children(body, s2, e2):
                            if kind3 == "mdhd":
                                self.timescale = u32(body, s3 + (20 if body[s3] == 1 else 12))
            elif kind == "mvex":
                for kind2, s2, _ in children(body, start, end):
                    if kind2 == "trex":
                        self.trex_duration = u32(body, s2 + 12)
                        self.trex_flags = u32(body, s2 + 20)
        if not self.timescale:
            raise ValueError("no mdhd timescale in the moov")

    def _moof(self, body):
        """(presentation times, whether the first sample is a sync sample)."""
        times, first_flags = [], None
        for kind, start, end in children(body):
            if kind != "traf":
                continue
            default_duration, default_flags, dts = self.trex_duration, self.trex_flags, 0
            for kind2, s, e in children(body, start, end):
                if kind2 == "tfhd":
                    flags, at = int.from_bytes(body[s + 1:s + 4], "big"), s + 8
                    at += 8 if flags & 0x01 else 0          # base data offset
                    at += 4 if flags & 0x02 else 0          # sample description index
                    if flags & 0x08:
                        default_duration = u32(body, at)
                        at += 4
                    at += 4 if flags & 0x10 else 0          # default sample size
                    if flags & 0x20:
                        default_flags = u32(body, at)
                elif kind2 == "tfdt":
                    dts = int.from_bytes(body[s + 4:s + (12 if body[s] == 1 else 8)], "big")
                elif kind2 == "trun":
                    version, flags = body[s], int.from_bytes(body[s + 1:s + 4], "big")
                    count, at = u32(body, s + 4), s + 8
                    at += 4 if flags & 0x01 else 0          # data offset
                    first_sample_flags = default_flags
                    if flags & 0x04:
                        first_sample_flags = u32(body, at)
                        at += 4
                    for index in range(count):
                        duration, cts = default_duration, 0
                        sample_flags = first_sample_flags if index == 0 else default_flags
                        if flags & 0x100:
                            duration = u32(body, at)
                            at += 4
                        at += 4 if flags & 0x200 else 0     # size
                        if flags & 0x400:
                            sample_flags = u32(body, at)
                            at += 4
                        if first_flags is None:
                            first_flags = sample_flags
                        if flags & 0x800:
                            cts = int.from_bytes(body[at:at + 4], "big", signed=version == 1)
                            at += 4
                        times.append(dts + cts)
                        dts += duration
        # sample_is_non_sync_sample
        return times, first_flags is not None and not first_flags & 0x10000


# --- the camera -----------------------------------------------------------------------


class Camera(threading.Thread):
    """One webcam: frames on a fixed 1/27 s schedule to a recording timed by arrival,
    each with the time its upload started. As a webcam (and the web page) does, a
    frame whose tick passed while the upload before it was on its way is dropped,
    never sent late in a burst: `dropped` holds their ticks' times."""

    def __init__(self, server, rid, frames):
        super().__init__(daemon=True)
        self.server, self.rid, self.frames = server, rid, frames
        self.halt = threading.Event()
        self.first = None            # perf_counter of the first upload's start: media time 0
        self.uploads = []            # (start, latency)
        self.dropped = []            # when the dropped frames were due
        self.errors = []

    def run(self):
        url = self.server.base + "/video/video_upload"
        try:
            with ingest.new_session() as session:
                start = now()
                epoch_ms = int(time.time() * 1000)
                tick = sent = 0
                while not self.halt.wait(max(0.0, start + tick / FPS - now())):
                    t = now()
                    if self.first is None:
                        self.first = t
                    stamp = epoch_ms + round((t - self.first) * 1000)
                    # The footage moves on with the clock, dropped frames and all.
                    body = api_json(session.post(url, params={"id": self.rid},
                                                 data=self.frames[tick % len(self.frames)],
                                                 headers={"Content-Type": "image/jpeg",
                                                          "X-Reel-Timestamp": str(stamp)},
                                                 timeout=ingest.HTTP_TIMEOUT), "video_upload")
                    done = now()
                    self.uploads.append((t, done - t))
                    sent += 1
                    if body.get("frames") != sent:
                        self.errors.append(f"upload {sent} answered frames={body.get('frames')}")
                    following = max(tick + 1, math.ceil((done - start) * FPS))
                    self.dropped += [start + k / FPS for k in range(tick + 1, following)]
                    tick = following
        except (requests.RequestException, APIFailure) as error:
            self.errors.append(f"{type(error).__name__}: {error}")

    def stop(self):
        self.halt.set()
        self.join(timeout=ingest.HTTP_TIMEOUT + 5)
        return not self.is_alive()

    def sent_at(self, media_seconds):
        return self.first + media_seconds

    def window(self, t0, t1):
        """(fps, upload p50, p99, frames dropped) of the uploads started in [t0, t1)."""
        lat = [latency for start, latency in self.uploads if t0 <= start < t1]
        dropped = sum(t0 <= due < t1 for due in list(self.dropped))
        return len(lat) / (t1 - t0), percentile(lat, 50), percentile(lat, 99), dropped


# --- viewers --------------------------------------------------------------------------


class Viewer(threading.Thread):
    """A viewer thread; its `reader` holds what it received, `errors` what went wrong."""

    def __init__(self, server, rid, delay=0.0):
        super().__init__(daemon=True)
        self.server, self.rid, self.delay = server, rid, delay
        self.base = f"{server.base}/video/recordings/{rid}/"
        self.halt = threading.Event()
        self.reader = FragmentReader()
        self.chunks = []             # (received, bytes)
        self.errors = []
        self.ended = False           # the server ended the stream (recording finished)

    def stop(self, timeout=READ_TIMEOUT + 5):
        self.halt.set()
        self.join(timeout=timeout)
        return not self.is_alive()

    def received(self, data):
        t = now()
        self.chunks.append((t, len(data)))
        self.reader.feed(data, t)


class StreamViewer(Viewer):
    """Reads `live.mp4` continuously until stopped or the stream ends."""

    def run(self):
        try:
            with ingest.new_session() as session:
                if self.halt.wait(self.delay):
                    return
                with session.get(self.base + "live.mp4", stream=True, timeout=TIMEOUT) as r:
                    if r.status_code != 200:
                        self.errors.append(f"live.mp4: HTTP {r.status_code}: {r.text[:200]!r}")
                        return
                    for chunk in r.iter_content(chunk_size=None):
                        if chunk:
                            self.received(chunk)
                        if self.halt.is_set():
                            return
                    self.ended = True
        except (requests.RequestException, ValueError) as error:
            self.errors.append(f"live.mp4: {type(error).__name__}: {error}")


def parse_playlist(text):
    """(init length, [(duration, length, offset)], ended) of a live.m3u8."""
    found = MAP.search(text)
    if not found or int(found.group(3)) != 0:
        raise ValueError(f"no EXT-X-MAP with a BYTERANGE from 0 in the playlist: {text[:300]!r}")
    segments = [(float(d), int(length), int(offset)) for d, length, offset, _ in SEGMENT.findall(text)]
    return int(found.group(2)), segments, "#EXT-X-ENDLIST" in text


def get_range(session, url, offset, length):
    r = session.get(url, headers={"Range": f"bytes={offset}-{offset + length - 1}"}, timeout=TIMEOUT)
    if r.status_code != 206 or len(r.content) != length:
        raise ValueError(f"Range {offset}+{length}: HTTP {r.status_code}, {len(r.content)} bytes")
    return r.content


class HLSViewer(Viewer):
    """A player of `live.m3u8`: polls it every second, fetches the init and then every
    segment it has not fetched yet (starting with the newest listed at its first poll)."""

    def run(self):
        self.polls = []              # (start, latency)
        self.segments = []           # (offset, starts with a keyframe) of each segment fetched
        try:
            with ingest.new_session() as session:
                due = now() + self.delay
                fetched = None
                while not self.halt.wait(max(0.0, due - now())):
                    t = now()
                    r = session.get(self.base + "live.m3u8", timeout=TIMEOUT)
                    if r.status_code != 200:
                        raise ValueError(f"live.m3u8: HTTP {r.status_code}: {r.text[:200]!r}")
                    init, segments, ended = parse_playlist(r.text)
                    self.polls.append((t, now() - t))
                    if fetched is None:
                        self.received(get_range(session, self.base + "spool.mp4", 0, init))
                        fetched = max(0, len(segments) - 1)
                    for _, length, offset in segments[fetched:]:
                        before = len(self.reader.fragments)
                        self.received(get_range(session, self.base + "spool.mp4", offset, length))
                        fragments = self.reader.fragments[before:]
                        self.segments.append((offset, bool(fragments) and fragments[0][3]))
                        fetched += 1
                    if ended:
                        self.ended = True
                        return
                    due = max(due + POLL_SECONDS, now())
        except (requests.RequestException, ValueError) as error:
            self.errors.append(f"HLS: {type(error).__name__}: {error}")


def start_viewers(kind, server, rid, n):
    if kind == "hls":  # players' polls fall anywhere in the second
        viewers = [HLSViewer(server, rid, delay=k * POLL_SECONDS / n) for k in range(n)]
    else:
        viewers = [StreamViewer(server, rid) for _ in range(n)]
    for v in viewers:
        v.start()
    return viewers


def stop_viewers(viewers, what):
    for v in viewers:
        v.halt.set()
    stuck = sum(not v.stop() for v in viewers)
    if stuck:
        problem(f"{what}: {stuck} viewer thread(s) still running {READ_TIMEOUT + 5:.0f} s after being stopped")
    for k, v in enumerate(viewers):
        for e in v.errors:
            problem(f"{what} viewer {k + 1}: {e}")


# --- measuring ------------------------------------------------------------------------


class Clock:
    """The media time of the frames: media ticks <-> when the camera sent the frame."""

    def __init__(self, camera, timescale, shift):
        self.camera, self.timescale, self.shift = camera, timescale, shift

    def sent(self, pts):
        return self.camera.sent_at((pts - self.shift) / self.timescale)

    def take_uploads(self):
        """The camera's uploads so far, for held()."""
        uploads = list(self.camera.uploads)
        self.starts = [t for t, _ in uploads]
        self.answered = [t + latency for t, latency in uploads]  # one Session: in order

    def held(self, received, pts):
        """Frames the server had answered by `received` that come after the frame at `pts`: what the
        encoder (lookahead, B-frames) and the fragment being filled held back at that moment."""
        index = bisect.bisect_left(self.starts, self.sent(pts) - 0.002)  # that frame's upload (stamps are in ms)
        return bisect.bisect_right(self.answered, received) - (index + 1)


def spool_length(server, rid, session):
    r = session.head(f"{server.base}/video/recordings/{rid}/spool.mp4", timeout=TIMEOUT)
    return int(r.headers.get("Content-Length", 0)) if r.status_code == 200 else None


def measure(server, rid, camera, seconds, what):
    """Server CPU and RSS, this process's CPU and the machine's over `seconds`; the spool's growth."""
    with ingest.new_session() as session:
        spool0 = spool_length(server, rid, session)
        rss = []
        cpu0, client0, busy0, t0 = server.cpu(), time.process_time(), ingest.machine_busy(), now()
        while now() < t0 + seconds:
            time.sleep(min(0.5, max(0.0, t0 + seconds - now())))
            kb = ingest.proc_status_kb(server.pid, "VmRSS")
            if kb is not None:
                rss.append(kb / 1024)
            if not server.alive():
                raise RuntimeError(f"{what}: reel serve exited with status {server.proc.returncode}")
            if not camera.is_alive():
                raise RuntimeError(f"{what}: the camera stopped: {'; '.join(camera.errors)[:500]}")
        t1 = now()
        cpu1, client1, busy1 = server.cpu(), time.process_time(), ingest.machine_busy()
        spool1 = spool_length(server, rid, session)
    wall = t1 - t0
    m = {"t0": t0, "t1": t1, "wall": wall, "server": (cpu1 - cpu0) / wall, "client": (client1 - client0) / wall,
         "busy": (busy1 - busy0) / wall, "rss": mean(rss), "rss_max": max(rss, default=float("nan")),
         "hwm": server.hwm_mb(),
         "spool_rate": (spool1 - spool0) / wall if None not in (spool0, spool1) else float("nan")}
    m["other"] = ingest.other_load(what, m["busy"] - m["server"] - m["client"])
    m["camera"] = camera.window(t0, t1)
    return m


def usage_line(m):
    fps, p50, p99, dropped = m["camera"]
    return (f"server CPU {m['server'] * 100:5.1f}% of a core, VmRSS mean/max {m['rss']:.1f}/{m['rss_max']:.1f} MB, "
            f"VmHWM {m['hwm']:.1f} MB; camera {fps:.1f} fps ({dropped} frames dropped), upload p50/p99 "
            f"{ms(p50):.1f}/{ms(p99):.1f} ms; "
            f"this process {m['client'] * 100:.0f}% of a core; machine busy {m['busy']:.2f} cores "
            f"(other processes {m['other']:.2f}); spool grew {m['spool_rate'] / 1000:.0f} kB/s")


def viewer_figures(viewer, clock, t0, t1):
    """What one viewer got in [t0, t1]: bytes/s, fragments, delays (s) per frame and of each fragment's newest frame."""
    frames, newest, held, sizes, spans = [], [], [], [], []
    for received, times, size, _ in viewer.reader.fragments:
        if not (t0 <= received <= t1) or not times:
            continue
        frames += [received - clock.sent(p) for p in times]
        newest.append((received, received - clock.sent(max(times))))
        held.append(clock.held(received, max(times)))
        sizes.append(size)
        spans.append(len(times))
    got = [(t, n) for t, n in viewer.chunks if t0 <= t <= t1]
    gaps = [b[0] - a[0] for a, b in zip(got, got[1:])]
    third = [d for t, d in newest if t < t0 + (t1 - t0) / 3], [d for t, d in newest if t > t1 - (t1 - t0) / 3]
    return {"rate": sum(n for _, n in got) / (t1 - t0), "fragments": len(sizes), "frames": frames,
            "newest": [d for _, d in newest], "held": held, "size": mean(sizes), "samples": mean(spans),
            "gap": max(gaps, default=float("nan")), "first_third": mean(third[0]), "last_third": mean(third[1])}


def report_viewers(kind, viewers, clock, m, base):
    """Per-viewer lines and the pooled figures of a viewer window."""
    n = len(viewers)
    clock.take_uploads()
    if abs(m["camera"][0] - base["camera"][0]) > 1.0:
        CAUTIONS.append(f"{kind}: the camera sent {m['camera'][0]:.1f} fps, {base['camera'][0]:.1f} in the baseline; "
                        "the per-viewer differences include the encoder's work on that many frames more or less")
    figures = [viewer_figures(v, clock, m["t0"], m["t1"]) for v in viewers]
    for k, f in enumerate(figures):
        behind = f["last_third"] - f["first_third"]
        limit = HLS_BEHIND_SECONDS if kind == "HLS" else BEHIND_SECONDS
        late = [d for d in f["frames"] if d < 0]
        if late:
            problem(f"{kind} viewer {k + 1}: {len(late)} frame(s) received before they were sent: "
                    "the media time mapping is off")
        if behind > limit:
            problem(f"{kind} viewer {k + 1} falls behind: newest-frame delay {fmt_ms(f['first_third'])} ms in the "
                    f"window's first third, {fmt_ms(f['last_third'])} ms in its last")
        if kind == "live.mp4" and f["gap"] > STALL_SECONDS:
            problem(f"{kind} viewer {k + 1}: {f['gap']:.1f} s without bytes (fragments come every 0.5 s)")
        if f["fragments"] == 0:
            problem(f"{kind} viewer {k + 1}: no fragment in the {m['wall']:.0f} s window")
        log(f"  viewer {k + 1:>2}: {f['rate'] / 1000:6.0f} kB/s, {f['fragments']:3} fragments "
            f"({f['samples']:.1f} frames, {f['size'] / 1000:.0f} kB mean), delay per frame p50/p95 "
            f"{fmt_ms(percentile(f['frames'], 50))}/{fmt_ms(percentile(f['frames'], 95))} ms, newest frame "
            f"p50/p95/max {fmt_ms(percentile(f['newest'], 50))}/{fmt_ms(percentile(f['newest'], 95))}/"
            f"{fmt_ms(max(f['newest'], default=float('nan')))} ms, first/last third "
            f"{fmt_ms(f['first_third'])}/{fmt_ms(f['last_third'])} ms, longest "
            f"{'wait for bytes' if kind == 'live.mp4' else 'time between segments'} {fmt_ms(f['gap'])} ms")
    frames = [d for f in figures for d in f["frames"]]
    newest = [d for f in figures for d in f["newest"]]
    held = [h for f in figures for h in f["held"]]
    rates = [f["rate"] for f in figures]
    r = {
        "n": n, "m": m, "rate": mean(rates), "rate_min": min(rates, default=float("nan")),
        "frames_p50": percentile(frames, 50), "frames_p95": percentile(frames, 95),
        "newest_p50": percentile(newest, 50), "newest_p95": percentile(newest, 95),
        "newest_max": max(newest, default=float("nan")),
        "held_p50": percentile(held, 50), "held_p95": percentile(held, 95),
        "viewer_p50s": [percentile(f["frames"], 50) for f in figures],
        "cpu_per_viewer": (m["server"] - base["server"]) / n,
        "rss_per_viewer": (m["rss"] - base["rss"]) / n,
        "client_per_viewer": (m["client"] - base["client"]) / n,
    }
    log(f"  all {n}: {r['rate'] / 1000:.0f} kB/s per viewer (min {r['rate_min'] / 1000:.0f}; the spool grew "
        f"{m['spool_rate'] / 1000:.0f} kB/s), delay per frame p50/p95 {fmt_ms(r['frames_p50'])}/"
        f"{fmt_ms(r['frames_p95'])} ms, newest frame of a fragment p50/p95/max {fmt_ms(r['newest_p50'])}/"
        f"{fmt_ms(r['newest_p95'])}/{fmt_ms(r['newest_max'])} ms; when a fragment arrived, the server had answered "
        f"p50/p95 {r['held_p50']}/{r['held_p95']} frames newer than its newest (held by the encoder's lookahead "
        f"and B-frames, the fragment being filled{', the segment' if kind == 'HLS' else ''})")
    log(f"  per viewer over the baseline: server CPU {r['cpu_per_viewer'] * 100:+.2f}% of a core, VmRSS "
        f"{r['rss_per_viewer'] * 1024:+.0f} kB, this process {r['client_per_viewer'] * 100:+.2f}% of a core")
    return r


def probe(server, rid, playlists, ranges, what):
    """Sequential requests on one keep-alive Session: live.m3u8, then the newest segment's Range of spool.mp4."""
    base = f"{server.base}/video/recordings/{rid}/"
    with ingest.new_session() as session:
        cpu0, t0 = server.cpu(), now()
        lat = []
        for _ in range(playlists):
            t = now()
            r = session.get(base + "live.m3u8", timeout=TIMEOUT)
            text = r.text
            lat.append(now() - t)
            if r.status_code != 200:
                raise RuntimeError(f"{what}: live.m3u8 HTTP {r.status_code}: {text[:200]!r}")
        cpu1, t1 = server.cpu(), now()
        _, segments, _ = parse_playlist(text)
        if not segments:
            raise RuntimeError(f"{what}: no segment in the playlist")
        # the newest full segment (a scene cut, the footage looping, makes a shorter one)
        recent = segments[-10:]
        duration, length, offset = next((s for s in reversed(recent) if s[0] >= 1.9), max(recent))
        spool = []
        for _ in range(ranges):
            t = now()
            get_range(session, base + "spool.mp4", offset, length)
            spool.append(now() - t)
        cpu2, t2 = server.cpu(), now()
    p = {"playlist": lat, "spool": spool, "segment": (duration, length),
         "playlist_cpu": (cpu1 - cpu0) / playlists, "spool_cpu": (cpu2 - cpu1) / ranges,
         "playlist_rate": playlists / (t1 - t0), "spool_rate": ranges / (t2 - t1)}
    log(f"  {what}: {playlists} x GET live.m3u8 p50/p95/p99/max {ms(percentile(lat, 50)):.1f}/"
        f"{ms(percentile(lat, 95)):.1f}/{ms(percentile(lat, 99)):.1f}/{ms(max(lat)):.1f} ms "
        f"({p['playlist_rate']:.0f}/s, server CPU {ms(p['playlist_cpu']):.2f} ms each)")
    log(f"  {what}: {ranges} x GET spool.mp4 Range of a {duration:.2f} s segment ({length / 1000:.0f} kB) p50/p99/max "
        f"{ms(percentile(spool, 50)):.1f}/{ms(percentile(spool, 99)):.1f}/{ms(max(spool)):.1f} ms "
        f"({length * p['spool_rate'] / 1e6:.0f} MB/s, server CPU {ms(p['spool_cpu']):.2f} ms each)")
    return p


def wait_first_segment(server, rid, camera, timeout=30.0):
    """The playlist's init length and first segment, once it lists one."""
    deadline = now() + timeout
    with ingest.new_session() as session:
        while now() < deadline:
            if not camera.is_alive():
                raise RuntimeError(f"the camera stopped: {'; '.join(camera.errors)[:500]}")
            r = session.get(f"{server.base}/video/recordings/{rid}/live.m3u8", timeout=TIMEOUT)
            if r.status_code == 200:
                init, segments, _ = parse_playlist(r.text)
                if segments:
                    return init, segments[0]
            time.sleep(0.2)
    raise RuntimeError(f"no segment in live.m3u8 {timeout:.0f} s after the camera started")


def calibrate(server, rid, camera, init, first):
    """The media time of the first frame (the muxer starts decode times at 0, so the first frame's
    presentation time is the B-frame delay): the smallest presentation time of the first segment."""
    _, length, offset = first
    with ingest.new_session() as session:
        data = get_range(session, f"{server.base}/video/recordings/{rid}/spool.mp4", 0, offset + length)
    reader = FragmentReader()
    reader.feed(data, now())
    times = [p for _, ts, _, _ in reader.fragments for p in ts]
    if not times:
        raise RuntimeError("no samples in the spool's first segment")
    return Clock(camera, reader.timescale, min(times))


def the_end(server, rid, camera):
    """One live.mp4 viewer while the recording finishes: does its stream end? Then the playlist
    (ENDLIST) and every segment it lists checked against the whole spool: whole fragments, and
    whether each starts with a keyframe (a player that joins there decodes nothing until one)."""
    viewer = StreamViewer(server, rid)
    viewer.start()
    time.sleep(1.0)
    if not camera.stop():
        problem("the camera's last upload did not return")
    sent = len(camera.uploads)
    base = f"{server.base}/video/recordings/{rid}/"
    with ingest.new_session() as session:
        t = now()
        done = ingest.finish(session, server, rid)
        finish = now() - t
        t = now()
        viewer.join(timeout=15)
        if viewer.is_alive():
            problem("live.mp4: the stream did not end within 15 s of finish_video")
            viewer.stop()
        ended_after = now() - t
        r = session.get(base + "live.m3u8", timeout=TIMEOUT)
        spool = session.get(base + "spool.mp4", timeout=(CONNECT_TIMEOUT, ingest.HTTP_TIMEOUT))
    for e in viewer.errors:
        problem(f"end: {e}")
    if done.get("frames") != sent:
        problem(f"finish_video: {done.get('frames')} frames, the camera sent {sent}")
    log(f"  finish_video {ms(finish):.0f} ms ({done.get('frames')} frames, {done.get('duration')} s, "
        f"{done.get('bytes')} bytes); live.mp4 viewer: stream "
        + (f"ended {ms(ended_after):.0f} ms after the answer" if viewer.ended else "did NOT end"))
    if r.status_code != 200 or spool.status_code != 200:
        problem(f"after finish_video: live.m3u8 HTTP {r.status_code}, spool.mp4 HTTP {spool.status_code}")
        return {}
    _, segments, ended = parse_playlist(r.text)
    if not ended:
        problem("live.m3u8 after finish_video has no #EXT-X-ENDLIST")
    reader = FragmentReader()
    reader.feed(spool.content, now())
    starts = dict(zip(reader.offsets, (f[3] for f in reader.fragments)))
    frames = sum(len(f[1]) for f in reader.fragments)
    not_fragment = sum(offset not in starts for _, _, offset in segments)
    no_key = sum(offset in starts and not starts[offset] for _, _, offset in segments)
    durations = [d for d, _, _ in segments]
    end = {"segments": len(segments), "no_key": no_key, "durations": durations}
    log(f"  live.m3u8 after: {len(segments)} segments, {sum(durations):.1f} s "
        f"(min/mean/max {min(durations, default=0):.2f}/{mean(durations):.2f}/{max(durations, default=0):.2f} s), "
        f"{'ENDLIST' if ended else 'no ENDLIST'}; the spool: {len(spool.content)} bytes, {len(reader.fragments)} "
        f"fragments, {frames} frames; segments not starting with a keyframe: {no_key}")
    if frames != sent:
        problem(f"the spool holds {frames} frames, the camera sent {sent}")
    if not_fragment:
        problem(f"{not_fragment} playlist segment(s) do not start at a fragment of the spool")
    if no_key:
        problem(f"{no_key} of {len(segments)} HLS segments do not start with a keyframe (a segment also closes "
                f"when it would round past the target duration; probably the {ingest.GOP}-frame GOP lasting over "
                f"2 s: fewer than {FPS} frames a second, or a camera that paused)")
    return end


# --- the run --------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reel", default=ingest.REEL, help="reel binary (default: .build/release/reel)")
    parser.add_argument("--frames-dir", default=os.path.join(ingest.ROOT, "bench-data", "frames-720p"))
    parser.add_argument("--quick", action="store_true", help="10 s windows, fewer probe requests")
    parser.add_argument("--viewers", type=int, default=10, help="live.mp4 and HLS viewers (default 10)")
    parser.add_argument("--seconds", type=float, default=None, help="each measuring window (default 20; quick 10)")
    args = parser.parse_args()
    args.reel = os.path.abspath(args.reel)  # the server starts in a temp folder

    seconds = args.seconds or (10.0 if args.quick else 20.0)
    playlists, ranges = (200, 100) if args.quick else (300, 200)
    n = args.viewers
    if n < 1 or seconds < 2:
        sys.exit("--viewers must be at least 1 and --seconds at least 2")
    if not os.access(args.reel, os.X_OK):
        sys.exit(f"no reel binary at {args.reel} (--reel PATH)")
    frames, pattern = ingest.load_frames(args.frames_dir, FPS * 4)
    mean_kb = sum(len(f) for f in frames) / len(frames) / 1024
    cores = len(os.sched_getaffinity(0))
    begun = now()
    log(f"reel live-view benchmark{' (QUICK)' if args.quick else ''}: {cores} cores; one camera, {len(frames)} JPEG "
        f"{ingest.jpeg_size(pattern % 1)} frames ({mean_kb:.0f} KB mean) at {FPS} fps, timing=arrival; "
        f"server {args.reel} --preset {PRESET} --threads {THREADS}; {n} viewers; {seconds:.0f} s windows; "
        f"camera, viewers and probes are threads of this process, on the same cores")
    s = {}

    with tempfile.TemporaryDirectory(prefix="reel-bench-live-") as work:
        server = camera = None
        viewers = []
        try:
            server = ingest.Server(args.reel, work, "live", THREADS, PRESET).start()
            with ingest.new_session() as session:
                rid = api_json(session.get(server.base + "/video/create_video", params={"timing": "arrival"},
                                           timeout=ingest.HTTP_TIMEOUT), "create_video")["id"]
            camera = Camera(server, rid, frames)
            camera.start()
            init, first = wait_first_segment(server, rid, camera)
            clock = calibrate(server, rid, camera, init, first)
            log(f"recording {rid}: first segment {first[0]:.2f} s, init {init} bytes; timescale {clock.timescale}, "
                f"first frame at media time {clock.shift / clock.timescale * 1000:.1f} ms "
                f"(the decode-order delay); {now() - begun:.1f} s from the start")

            log(f"\n[1] baseline: the camera alone, {seconds:.0f} s")
            base = measure(server, rid, camera, seconds, "baseline")
            log(f"  {usage_line(base)}")
            s["base"] = base

            log("\n[4a] request latency, the camera alone, one keep-alive Session")
            s["probe_alone"] = probe(server, rid, playlists, ranges, "camera alone")

            log(f"\n[2] {n} live.mp4 viewers (stream=True, iter_content), {seconds:.0f} s window from "
                f"{SETTLE_SECONDS} s after they connect")
            viewers = start_viewers("mp4", server, rid, n)
            time.sleep(SETTLE_SECONDS)
            m = measure(server, rid, camera, seconds, f"{n} live.mp4 viewers")
            log(f"  {usage_line(m)}")
            s["mp4"] = report_viewers("live.mp4", viewers, clock, m, base)
            ended = sum(v.ended for v in viewers)
            if ended:
                problem(f"live.mp4: {ended} stream(s) ended while the recording went on")
            stop_viewers(viewers, "live.mp4")
            viewers = []

            log(f"\n[3] {n} HLS viewers (live.m3u8 every {POLL_SECONDS:.0f} s, new segments' Range of spool.mp4), "
                f"{seconds:.0f} s window from {SETTLE_SECONDS} s after they start")
            viewers = start_viewers("hls", server, rid, n)
            time.sleep(SETTLE_SECONDS)
            m = measure(server, rid, camera, seconds, f"{n} HLS viewers")
            log(f"  {usage_line(m)}")
            s["hls"] = report_viewers("HLS", viewers, clock, m, base)
            fetched = {offset: key for v in viewers for offset, key in v.segments}
            log(f"  segments fetched: {len(fetched)} distinct, {sum(not k for k in fetched.values())} not starting "
                f"with a keyframe")
            polls = [lat for v in viewers for t, lat in v.polls if m["t0"] <= t <= m["t1"]]
            log(f"  the viewers' own playlist polls: {len(polls)}, p50/p99/max {ms(percentile(polls, 50)):.1f}/"
                f"{ms(percentile(polls, 99)):.1f}/{ms(max(polls, default=float('nan'))):.1f} ms")

            log(f"\n[4b] request latency with the {n} HLS viewers running")
            s["probe_hls"] = probe(server, rid, playlists, ranges, f"{n} HLS viewers")
            stop_viewers(viewers, "HLS")
            viewers = []

            log("\n[5] the end: one live.mp4 viewer open while the recording finishes")
            s["end"] = the_end(server, rid, camera)
            server.check("live view")
        except (RuntimeError, ValueError, APIFailure, requests.RequestException) as error:
            problem(f"ABORTED: {type(error).__name__}: {error}")
            if server is not None:
                log(f"server log tail:\n{server.log_tail()}")
        finally:
            for v in viewers:
                v.halt.set()
            if camera is not None:
                camera.halt.set()
                for e in camera.errors:
                    problem(f"camera: {e}")
            if server is not None:
                server.stop()
            ingest.kill_all_children()

    summary(s, n, seconds, cores, mean_kb, begun)
    return 1 if any(p.startswith("ABORTED") for p in ingest.PROBLEMS) else 0


def summary(s, n, seconds, cores, mean_kb, begun):
    log(f"\n{'=' * 26} summary ({now() - begun:.0f} s) {'=' * 26}")
    log(f"reel serve live view, {cores} cores, one 1280x720 camera at {FPS} fps ({mean_kb:.0f} KB/JPEG), x264 {PRESET} "
        f"--threads {THREADS}, {seconds:.0f} s windows; Python clients on the same cores")
    base = s.get("base")
    if base:
        log(f"camera alone:      server CPU {base['server'] * 100:5.1f}%, VmRSS {base['rss']:.1f} MB "
            f"(VmHWM {base['hwm']:.1f}), this process {base['client'] * 100:.0f}%; video {base['spool_rate'] / 1000:.0f} "
            f"kB/s ({base['spool_rate'] * 8 / 1e6:.2f} Mbit/s)")
    for key, label in (("mp4", "live.mp4"), ("hls", "HLS")):
        r = s.get(key)
        if not r:
            continue
        m = r["m"]
        log(f"{n:>2} {label + ' viewers:':<15} server CPU {m['server'] * 100:5.1f}% ({r['cpu_per_viewer'] * 100:+.2f}% "
            f"per viewer), VmRSS {m['rss']:.1f} MB ({r['rss_per_viewer'] * 1024:+.0f} kB per viewer), this process "
            f"{m['client'] * 100:.0f}% ({r['client_per_viewer'] * 100:+.2f}% per viewer)")
        log(f"   {'':<15} {r['rate'] / 1000:.0f} kB/s per viewer (video {m['spool_rate'] / 1000:.0f} kB/s); "
            f"frame sent -> received p50/p95 {fmt_ms(r['frames_p50'])}/{fmt_ms(r['frames_p95'])} ms, newest frame "
            f"of each {'fragment' if key == 'mp4' else 'fragment, segment fetched'} p50/p95/max "
            f"{fmt_ms(r['newest_p50'])}/{fmt_ms(r['newest_p95'])}/{fmt_ms(r['newest_max'])} ms (then {r['held_p50']} "
            f"newer frames held, p50); per-viewer p50 {fmt_ms(min(r['viewer_p50s']))}..{fmt_ms(max(r['viewer_p50s']))} ms")
    for key, label in (("probe_alone", "camera alone"), ("probe_hls", f"{n} HLS viewers")):
        p = s.get(key)
        if not p:
            continue
        lat, spool = p["playlist"], p["spool"]
        log(f"live.m3u8, {label + ':':<16} p50/p95/p99/max {ms(percentile(lat, 50)):.1f}/{ms(percentile(lat, 95)):.1f}/"
            f"{ms(percentile(lat, 99)):.1f}/{ms(max(lat)):.1f} ms ({len(lat)} requests); spool.mp4 {p['segment'][0]:.1f} s "
            f"Range ({p['segment'][1] / 1000:.0f} kB) p50/p99 {ms(percentile(spool, 50)):.1f}/"
            f"{ms(percentile(spool, 99)):.1f} ms ({len(spool)})")
    for c in CAUTIONS:
        log(f"CAUTION: {c}")
    if ingest.DISTURBED:
        log(f"DISTURBED: other processes used more than {ingest.OTHER_LIMIT} cores during:")
        for d in ingest.DISTURBED:
            log(f"   - {d}")
        log("   those figures are off; rerun on a quiet machine")
    if ingest.PROBLEMS:
        log("problems seen:")
        for p in ingest.PROBLEMS:
            log(f"   - {p}")
    else:
        log("problems seen: none (no errors, stalls, viewers falling behind; no warning/error server log lines)")
    log("=" * 78)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, ingest._terminate)
    signal.signal(signal.SIGHUP, ingest._terminate)
    try:
        status = main()
    except KeyboardInterrupt:
        ingest.kill_all_children()
        sys.exit(130)
    finally:
        ingest.kill_all_children()
    sys.exit(status)
