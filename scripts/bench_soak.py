#!/usr/bin/env python3
"""Soak benchmark of `reel serve`: recordings cycling for minutes while the
server's memory, descriptors and threads are sampled.

Usage: scripts/bench_soak.py [--recordings 4] [--seconds 120] [--frames-dir bench-data/frames-720p]

Starts the real server (--reel, else $REEL_BIN, else .build/release/reel) on
loopback in a temp folder and PRINTS figures; it never asserts. N clients (a
thread each, one keep-alive Session each) cycle for --seconds: create_video,
K frames at --fps on a fixed schedule (late, never skipped), finish_video,
again; when the time is up, the recording in progress is finished. Every
--sample-seconds a row of the trend table: the server's RSS, open descriptors
(/proc/PID/fd), threads (/proc/PID/status), frames sent and answered 200 so
far, videos stored, and the upload latency p50/p99 of that interval. After the
clients stop, the server idles --settle-seconds (does memory come back?), then
the frames of every stored video are counted with ffprobe and compared with
the frames answered 200.

Frames: bench-data/frames-720p (scripts/make-footage.sh 600 bench-data/frames-720p)
when it holds frames, else the three 720p frames of fixtures/; or --frames-dir.
Needs Python 3, requests, ffprobe; Linux (/proc).
"""
import argparse
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import requests

from bench_ingest import (  # same folder
    HTTP_TIMEOUT, PROBLEMS, APIFailure, Server, api_json, kill_all_children, log, ms, new_session, percentile,
    problem, proc_status_kb,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REEL = os.environ.get("REEL_BIN") or os.path.join(ROOT, ".build", "release", "reel")
FOOTAGE = os.path.join(ROOT, "bench-data", "frames-720p")
FIXTURE_FRAMES = os.path.join(ROOT, "fixtures", "frame-1280x720-420-*.jpg")
SERVER_THREADS = 2            # reel serve's default x264 threads per recording


# --- what the clients did, shared between their threads ------------------------------


class Tally:
    """Frames sent and their answers, upload latencies, stored videos; thread-safe."""

    def __init__(self):
        self.lock = threading.Lock()
        self.sent = 0
        self.taken = 0                 # answered 200
        self.refused = {}              # status -> count, for the answers that were not 200
        self.latencies = []            # seconds, every upload answered 200
        self.videos = []               # (video url, frames answered 200, frames finish answered)
        self.active = 0                # recordings between create and finish

    def upload(self, status, seconds):
        with self.lock:
            self.sent += 1
            if status == 200:
                self.taken += 1
                self.latencies.append(seconds)
            else:
                self.refused[status] = self.refused.get(status, 0) + 1

    def snapshot(self):
        with self.lock:
            return {"sent": self.sent, "taken": self.taken, "latencies": len(self.latencies),
                    "videos": len(self.videos), "active": self.active}


def cycle(server, frames, offset, args, deadline, tally):
    """One client: recordings one after another until `deadline`."""
    url = server.base + "/video/video_upload"
    with new_session() as session:
        while time.monotonic() < deadline:
            try:
                rid = api_json(session.get(server.base + "/video/create_video", timeout=HTTP_TIMEOUT),
                               "create_video")["id"]
            except (requests.RequestException, APIFailure) as error:
                problem(f"create_video: {error}")
                time.sleep(1)
                continue
            with tally.lock:
                tally.active += 1
            taken = 0
            start = time.perf_counter()
            for i in range(args.frames_per_recording):
                if time.monotonic() >= deadline:
                    break
                delay = start + i / args.fps - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                jpeg = frames[(offset + i) % len(frames)]
                t = time.perf_counter()
                try:
                    r = session.post(url, params={"id": rid}, data=jpeg, headers={"Content-Type": "image/jpeg"},
                                     timeout=HTTP_TIMEOUT)
                except requests.RequestException as error:
                    problem(f"upload to {rid}: {error}")
                    break
                tally.upload(r.status_code, time.perf_counter() - t)
                if r.status_code == 200:
                    taken += 1
                else:
                    problem(f"upload {i + 1} to {rid}: HTTP {r.status_code}: {r.text[:200]!r}")
            offset += args.frames_per_recording
            try:
                r = session.get(server.base + "/video/finish_video", params={"id": rid}, timeout=HTTP_TIMEOUT)
                if taken == 0 and r.status_code == 409:
                    continue  # no frame, no video: expected
                done = api_json(r, "finish_video")
                with tally.lock:
                    tally.videos.append((done["video url"], taken, done.get("frames")))
                if done.get("frames") != taken:
                    problem(f"finish of {rid}: {done.get('frames')} frames, {taken} answered 200")
            except (requests.RequestException, APIFailure) as error:
                problem(f"finish of {rid}: {error}")
            finally:
                with tally.lock:
                    tally.active -= 1


# --- the server's resources ----------------------------------------------------------


def open_descriptors(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def sample(server, tally, since, previous):
    """One row of the trend table; `previous` is the row before (latencies of this interval only)."""
    counts = tally.snapshot()
    with tally.lock:
        interval = tally.latencies[previous["latencies"] if previous else 0:]
    kb = proc_status_kb(server.pid, "VmRSS")
    return {
        **counts,
        "t": time.monotonic() - since,
        "rss": kb / 1024 if kb is not None else float("nan"),
        "fds": open_descriptors(server.pid),
        "threads": proc_status_kb(server.pid, "Threads"),  # a plain count: the field's first word
        "p50": percentile(interval, 50),
        "p99": percentile(interval, 99),
    }


HEADER = f"{'t s':>6} {'RSS MB':>8} {'fds':>6} {'threads':>7} {'active':>6} {'sent':>7} {'200':>7} " \
         f"{'stored':>6} {'p50 ms':>7} {'p99 ms':>7}"


def row_line(row, note=""):
    return (f"{row['t']:6.0f} {row['rss']:8.1f} {row['fds'] if row['fds'] is not None else '?':>6} "
            f"{row['threads'] if row['threads'] is not None else '?':>7} {row['active']:>6} {row['sent']:>7} "
            f"{row['taken']:>7} {row['videos']:>6} {ms(row['p50']):7.1f} {ms(row['p99']):7.1f}{note}")


def slope_per_minute(rows, key):
    """Least-squares slope of rows[key] against time, per minute; nan for fewer than 2 rows."""
    points = [(r["t"], r[key]) for r in rows if r[key] is not None]
    if len(points) < 2:
        return float("nan")
    mean_t = sum(t for t, _ in points) / len(points)
    mean_v = sum(v for _, v in points) / len(points)
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    if spread == 0:
        return float("nan")
    return sum((t - mean_t) * (v - mean_v) for t, v in points) / spread * 60


def frames_in(path):
    """Video packets (one per frame) of an MP4, counted without decoding; None if unreadable."""
    try:
        out = subprocess.run(["ffprobe", "-v", "error", "-count_packets", "-select_streams", "v:0",
                              "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", path],
                             capture_output=True, text=True, timeout=120).stdout.strip()
        return int(out)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


# --- the run -------------------------------------------------------------------------


def load_frames(frames_dir):
    if frames_dir:
        files = sorted(glob.glob(os.path.join(frames_dir, "*.jpg")))
    else:
        files = sorted(glob.glob(os.path.join(FOOTAGE, "frame-*.jpg"))) or sorted(glob.glob(FIXTURE_FRAMES))
    if not files:
        sys.exit(f"no JPEG frames in {frames_dir or FOOTAGE}")
    frames = []
    for name in files:
        with open(name, "rb") as f:
            frames.append(f.read())
    return frames, os.path.dirname(files[0])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reel", default=REEL, help="reel binary (default: $REEL_BIN or .build/release/reel)")
    parser.add_argument("--frames-dir", default=None,
                        help="folder of JPEG frames (default: bench-data/frames-720p, else fixtures' 720p frames)")
    parser.add_argument("--recordings", type=int, default=4, help="recordings cycling at once (default 4)")
    parser.add_argument("--frames-per-recording", type=int, default=270,
                        help="frames per recording before it is finished (default 270: 10 s at 27 fps)")
    parser.add_argument("--fps", type=float, default=27.0, help="frames per second each recording sends (default 27)")
    parser.add_argument("--seconds", type=float, default=120.0, help="how long the recordings cycle (default 120)")
    parser.add_argument("--sample-seconds", type=float, default=5.0, help="seconds between samples (default 5)")
    parser.add_argument("--settle-seconds", type=float, default=10.0,
                        help="idle seconds after the clients stop, before the last sample (default 10)")
    args = parser.parse_args()

    if not os.access(args.reel, os.X_OK):
        sys.exit(f"no reel binary at {args.reel}")
    if shutil.which("ffprobe") is None:
        sys.exit("ffprobe not found")
    frames, frames_dir = load_frames(args.frames_dir)
    mean_kb = sum(len(f) for f in frames) / len(frames) / 1024
    log(f"reel soak: {args.recordings} recordings cycling for {args.seconds:.0f} s, {args.frames_per_recording} "
        f"frames each at {args.fps:g} fps; {len(frames)} JPEG frames from {frames_dir} ({mean_kb:.0f} KB mean); "
        f"server {args.reel}; samples every {args.sample_seconds:g} s")

    with tempfile.TemporaryDirectory(prefix="reel-bench-soak-") as work:
        server = Server(args.reel, work, "soak", SERVER_THREADS).start()
        try:
            tally = Tally()
            began = time.monotonic()
            rows = [sample(server, tally, began, None)]
            log("\n" + HEADER)
            log(row_line(rows[0], "  (started)"))
            deadline = began + args.seconds
            clients = [threading.Thread(target=cycle, daemon=True,
                                        args=(server, frames, (k * 211) % len(frames), args, deadline, tally))
                       for k in range(args.recordings)]
            for t in clients:
                t.start()
            # Clients stop at the deadline, then finish their recording: allow for the finish.
            give_up = deadline + HTTP_TIMEOUT * 2
            while any(t.is_alive() for t in clients) and time.monotonic() < give_up:
                next_at = rows[-1]["t"] + began + args.sample_seconds
                while time.monotonic() < next_at and any(t.is_alive() for t in clients):
                    time.sleep(0.1)
                rows.append(sample(server, tally, began, rows[-1]))
                log(row_line(rows[-1]))
                if not server.alive():
                    problem("reel serve exited during the run")
                    break
            if any(t.is_alive() for t in clients):
                problem("clients still running long after the deadline (a stall)")
            cycling = [r for r in rows[1:] if r["t"] <= args.seconds]  # not the finishing at the end
            time.sleep(args.settle_seconds)
            rows.append(sample(server, tally, began, rows[-1]))
            log(row_line(rows[-1], f"  (after {args.settle_seconds:g} s idle)"))

            # Every frame answered 200 must be in a stored video.
            stored = 0
            for url, taken, _ in tally.videos:
                path = os.path.join(server.storage, url.rsplit("/", 1)[1])
                count = frames_in(path)
                if count is None:
                    problem(f"{url}: no readable video at {path}")
                    continue
                stored += count
                if count != taken:
                    problem(f"{url}: {count} frames in the video, {taken} answered 200")
            latencies = tally.latencies
            server.check("soak")
        finally:
            server.stop(clean=False)
            kill_all_children()

    start, end = rows[0], rows[-1]

    def span(key, fmt):
        values = [r[key] for r in rows if r[key] is not None]
        return "/".join(format(v, fmt) if v is not None else "?" for v in (start[key], max(values), end[key]))

    half = cycling[len(cycling) // 2:]
    log(f"\n{'=' * 24} summary {'=' * 24}")
    log(f"soak {args.seconds:.0f} s, {args.recordings} recordings at {args.fps:g} fps, {len(tally.videos)} videos "
        f"stored; RSS start/max/end {span('rss', '.1f')} MB; fds {span('fds', 'd')}; threads {span('threads', 'd')}; "
        f"frames sent {tally.sent}, answered 200 {tally.taken}, in stored videos {stored}; "
        f"upload p50/p99 {ms(percentile(latencies, 50)):.1f}/{ms(percentile(latencies, 99)):.1f} ms")
    log(f"trend over the second half of the cycling: RSS {slope_per_minute(half, 'rss'):+.1f} MB/min, "
        f"fds {slope_per_minute(half, 'fds'):+.1f}/min, threads {slope_per_minute(half, 'threads'):+.1f}/min "
        f"(end is after {args.settle_seconds:g} s idle)")
    if tally.refused:
        log(f"uploads not answered 200: {dict(sorted(tally.refused.items()))}")
    if PROBLEMS:
        log("server problems seen:")
        for p in PROBLEMS[:50]:
            log(f"   - {p}")
        if len(PROBLEMS) > 50:
            log(f"   … and {len(PROBLEMS) - 50} more")
    else:
        log("server problems seen: none (every frame taken and stored, no warning/error log lines)")
    log("=" * 57)


def _terminate(signum, _frame):
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    try:
        main()
    except KeyboardInterrupt:
        kill_all_children()
        sys.exit(130)
    finally:
        kill_all_children()
