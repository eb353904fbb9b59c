#!/usr/bin/env python3
"""Ingest benchmark of `reel serve`: JPEG frames over HTTP in, H.264 MP4 out.

Usage: scripts/bench_ingest.py [--frames-dir bench-data/frames-720p] [--quick]

Starts the real server (.build/release/reel) itself, on loopback, in a temp
folder, and PRINTS figures; it never asserts timing. In one run:

1. One client as fast as the server takes them (one keep-alive Session, raw
   image/jpeg bodies, then the same with multipart uploads): end-to-end frames/s
   and upload latency, against the ffmpeg CLI encoding the same JPEG files with
   the same x264 settings and threads. Two interleaved rounds, the better kept.
2. N clients each sending in real time at 27 fps (a thread each): the largest N
   the server keeps up with (server --threads 1, then the default --threads 2 if
   time allows), against how many real-time `ffmpeg -re` processes keep up. A
   failing N is run once more before the search stops (--no-confirm: not).
3. Finish latency (the finish_video request alone) after 20 s and 200 s of video.
4. Peak RSS (VmHWM) of the server with 1 recording and with the largest N.

The Python clients share the machine's cores with the server: the client
process CPU time is printed next to the figures so the reader can judge.
Frames are made by scripts/make-footage.sh (run here only when the folder is empty).
Needs Python 3, requests, ffmpeg; Linux (/proc).
"""
import argparse
import glob
import math
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REEL = os.path.join(ROOT, ".build", "release", "reel")
FPS = 27
GOP = FPS * 2                 # the server's keyframe interval: 2 s
CRF = 23
PRESET = "veryfast"
SERVER_THREADS_DEFAULT = 2    # reel serve's default x264 threads per recording
HTTP_TIMEOUT = 60.0
REALTIME_FRAMES = 270         # 10 s at 27 fps per real-time client
LATENCY_LIMIT = 4.0 / FPS     # p99 upload latency must stay below 4 frame intervals
BACKLOG_WINDOW = 3 * FPS      # frames in the first/last 3 s compared for a growing backlog
MIN_CLIENT_FPS = 26.5
FFMPEG_SLACK = 1.05           # a real-time ffmpeg keeps up if wall <= 270/27 s x 1.05
CLK_TCK = os.sysconf("SC_CLK_TCK")

PROBLEMS = []                 # server errors, stalls, crashes: printed at the end
DISTURBED = []                # measurements during which other processes used the cores
OTHER_LIMIT = 0.15            # cores of other processes above which a measurement is flagged
LIVE_PROCESSES = []           # every child still running, killed on the way out


def log(message=""):
    print(message, flush=True)


def other_load(what, cores):
    """Cores the rest of the machine kept busy during a measurement (clamped at 0: the
    accounting is tick-granular); flagged when it is enough to disturb the figures."""
    cores = max(0.0, cores)
    if cores > OTHER_LIMIT:
        DISTURBED.append(f"{what}: {cores:.2f} cores")
    return cores


def problem(message):
    PROBLEMS.append(message)
    log(f"  !! {message}")


# --- small helpers -------------------------------------------------------------------


def percentile(values, p):
    """Nearest-rank percentile; nan for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))]


def mean(values):
    return statistics.fmean(values) if values else float("nan")


def ms(seconds):
    return seconds * 1000.0


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status_kb(pid, field):
    """A `VmHWM:`-style field of /proc/PID/status in kB, or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def proc_cpu_seconds(pid):
    """utime + stime of a process (all its threads), or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return None


def machine_busy():
    """CPU seconds the whole machine has spent busy (all cores, all processes) since boot."""
    try:
        with open("/proc/stat") as f:
            ticks = [int(x) for x in f.readline().split()[1:9]]
        user, nice, system, _idle, _iowait, irq, softirq, steal = ticks
        return (user + nice + system + irq + softirq + steal) / CLK_TCK
    except (OSError, ValueError):
        return float("nan")


def new_session():
    session = requests.Session()
    session.trust_env = False  # loopback only: no proxy or netrc from the environment
    return session


def _die_with_parent():  # runs in the child
    """The child gets SIGKILL if this script dies without its cleanup (Linux)."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def start_process(command, **kwargs):
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent, **kwargs)
    LIVE_PROCESSES.append(proc)
    return proc


def reap(proc, timeout=30.0):
    """Waits for a child (SIGKILL after `timeout`); forgets it."""
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc in LIVE_PROCESSES:
        LIVE_PROCESSES.remove(proc)


def kill_all_children():
    for proc in list(LIVE_PROCESSES):
        if proc.poll() is None:
            proc.kill()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        LIVE_PROCESSES.remove(proc)


# --- the server ----------------------------------------------------------------------


class Server:
    """One `reel serve` in its own folder under `work`; stop() also deletes its videos.
    `extra_args` are more `reel serve` flags, after the others."""

    def __init__(self, reel, work, name, threads, preset=PRESET, extra_args=()):
        self.reel, self.name, self.threads = reel, name, threads
        self.preset, self.extra_args = preset, list(extra_args)
        self.dir = tempfile.mkdtemp(prefix=f"{name}-", dir=work)
        self.storage = os.path.join(self.dir, "storage")
        self.spool = os.path.join(self.dir, "spool")
        self.log_path = os.path.join(self.dir, "server.log")
        self.proc = None
        self.port = None
        self.idle_hwm_kb = None

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self):
        return self.proc.pid

    def start(self):
        cwd = os.path.join(self.dir, "cwd")  # the server reads .env from its cwd: an empty folder
        os.makedirs(cwd, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("REEL_")}
        for attempt in range(3):  # a free port can be taken between probe and bind
            self.port = free_port()
            command = [self.reel, "serve", "--host", "127.0.0.1", "--port", str(self.port),
                       "--storage-dir", self.storage, "--spool-dir", self.spool,
                       "--max-recordings", "64", "--preset", self.preset, "--threads", str(self.threads)] \
                + self.extra_args
            with open(self.log_path, "ab") as out:
                self.proc = start_process(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
            if self._wait_healthy():
                self.idle_hwm_kb = proc_status_kb(self.pid, "VmHWM")
                return self
            self.stop(clean=False)
        raise RuntimeError(f"reel serve did not become healthy (3 attempts); log:\n{self.log_tail()}")

    def _wait_healthy(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        with new_session() as session:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    return False
                try:
                    if session.get(self.base + "/healthz", timeout=2).status_code == 200:
                        return True
                except requests.RequestException:
                    pass
                time.sleep(0.05)
        return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def hwm_mb(self):
        kb = proc_status_kb(self.pid, "VmHWM")
        return kb / 1024 if kb is not None else float("nan")

    def cpu(self):
        return proc_cpu_seconds(self.pid)

    def log_text(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def log_tail(self, lines=30):
        return "\n".join(self.log_text().splitlines()[-lines:])

    def check(self, what):
        """Reports a dead server and warning/error lines of its log."""
        if self.proc is not None and self.proc.poll() is not None:
            problem(f"{what}: reel serve exited with status {self.proc.returncode}; log tail:\n"
                    + self.log_tail())
        for line in self.log_text().splitlines():
            # swift-log's StreamLogHandler: "2026-01-01T00:00:00+0000 warning reel: ..."
            words = line.split()
            level = words[1].lower() if len(words) > 1 else ""
            # A camera refused for lack of CPU (--preset auto) is the server working as meant.
            if "recording refused: no CPU" in line:
                continue
            if level in ("warning", "error", "critical") or "fatal error" in line.lower():
                problem(f"{what}: server log: {line.strip()}")

    def stop(self, clean=True):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                problem(f"{self.name}: reel serve did not exit 60 s after SIGTERM; killed")
                self.proc.kill()
            reap(self.proc)
        if clean:
            shutil.rmtree(self.dir, ignore_errors=True)


# --- the API -------------------------------------------------------------------------


class APIFailure(Exception):
    pass


def api_json(response, what):
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 200 or not isinstance(body, dict) or body.get("status") != "success":
        raise APIFailure(f"{what}: HTTP {response.status_code}: {response.text[:300]!r}")
    return body


def create(session, server):
    return api_json(session.get(server.base + "/video/create_video", timeout=HTTP_TIMEOUT), "create_video")["id"]


def upload(session, server, rid, jpeg, multipart=False):
    url = server.base + "/video/video_upload"
    if multipart:  # what the original webcam client sends
        r = session.post(url, params={"id": rid}, files={"image": ("image.jpg", jpeg, "image/jpeg")},
                         timeout=HTTP_TIMEOUT)
    else:
        r = session.post(url, params={"id": rid}, data=jpeg, headers={"Content-Type": "image/jpeg"},
                         timeout=HTTP_TIMEOUT)
    return api_json(r, "video_upload")


def finish(session, server, rid):
    return api_json(session.get(server.base + "/video/finish_video", params={"id": rid}, timeout=HTTP_TIMEOUT),
                    "finish_video")


def send_recording(server, frames, count, offset=0, multipart=False):
    """One client on one keep-alive Session: create, `count` uploads as fast as the
    server answers (cycling through `frames` from `offset`), finish."""
    with new_session() as session:
        rid = create(session, server)
        latencies = []
        cpu0, server_cpu0, busy0 = time.process_time(), server.cpu(), machine_busy()
        start = time.perf_counter()
        for i in range(count):
            t = time.perf_counter()
            body = upload(session, server, rid, frames[(offset + i) % len(frames)], multipart)
            latencies.append(time.perf_counter() - t)
            if body.get("frames") != i + 1:
                problem(f"upload {i + 1} of {rid} answered frames={body.get('frames')}")
        uploaded = time.perf_counter()
        done = finish(session, server, rid)
        end = time.perf_counter()
        server_cpu1, busy1 = server.cpu(), machine_busy()
    client_cpu = time.process_time() - cpu0
    server_cpu = (server_cpu1 - server_cpu0) if None not in (server_cpu0, server_cpu1) else float("nan")
    if done.get("frames") != count:
        problem(f"finish of {rid}: {done.get('frames')} frames, expected {count}")
    return {
        "count": count, "seconds": end - start, "fps": count / (end - start),
        "upload_fps": count / (uploaded - start), "finish": end - uploaded,
        "p50": percentile(latencies, 50), "p99": percentile(latencies, 99), "max": max(latencies),
        "client_cpu": client_cpu, "server_cpu": server_cpu,
        # the machine's busy cores on average, and what is neither server nor this script
        "busy": (busy1 - busy0) / (end - start),
        "other": other_load(f"one client {'multipart' if multipart else 'raw'} {count} frames",
                            (busy1 - busy0 - client_cpu - server_cpu) / (end - start)),
        "bytes": done.get("bytes"), "duration": done.get("duration"), "frames": done.get("frames"),
    }


# --- ffmpeg --------------------------------------------------------------------------


def x264_args(threads, preset=PRESET):
    return ["-c:v", "libx264", "-preset", preset, "-crf", str(CRF), "-g", str(GOP),
            "-pix_fmt", "yuv420p", "-color_range", "tv", "-threads", str(threads)]


def ffmpeg_batch(pattern, count, threads, out):
    """The same frames through the ffmpeg CLI, as fast as it goes; (wall s, bytes, CPU s, other cores)."""
    command = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-framerate", str(FPS), "-i", pattern,
               "-frames:v", str(count)] + x264_args(threads) + [out]
    cpu0, busy0 = resource.getrusage(resource.RUSAGE_CHILDREN), machine_busy()
    start = time.perf_counter()
    proc = start_process(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, err = proc.communicate()
    seconds = time.perf_counter() - start
    reap(proc)
    cpu1, busy1 = resource.getrusage(resource.RUSAGE_CHILDREN), machine_busy()
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    other = other_load(f"ffmpeg CLI {count} frames", (busy1 - busy0 - cpu) / seconds)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed ({proc.returncode}): {err.decode(errors='replace')[-1000:]}")
    size = os.path.getsize(out)
    os.remove(out)
    return seconds, size, cpu, other


def ffmpeg_realtime(pattern, n, available, work, preset=PRESET, inputs=None, timeout=None):
    """n real-time `ffmpeg -re` at once, each 270 frames from its own offset; (wall s each, CPU s of all,
    busy cores, cores busy with other processes). `inputs` replaces the JPEG input (`-framerate 27
    -start_number k -i pattern`) of every process, e.g. a raw video; a process still running `timeout` s
    (default 6x the video's length + 60) after the start is killed and fails the call."""
    timeout = timeout or REALTIME_FRAMES / FPS * 6 + 60
    procs = []
    outs = []
    busy0, wall0 = machine_busy(), time.perf_counter()
    for k in range(n):
        start_number = 1 + (k * 211) % max(1, available - REALTIME_FRAMES + 1)
        out = os.path.join(work, f"rt_{k}.mp4")
        outs.append(out)
        source = inputs if inputs is not None else ["-framerate", str(FPS), "-start_number", str(start_number),
                                                     "-i", pattern]
        command = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-re"] + source \
            + ["-frames:v", str(REALTIME_FRAMES)] + x264_args(1, preset) + ["-f", "mp4", out]
        procs.append((time.perf_counter(), start_process(command, stdout=subprocess.DEVNULL,
                                                         stderr=subprocess.PIPE)))
    walls = []
    # No other child is reaped meanwhile: the change is these ffmpeg processes' CPU time.
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    for started, proc in procs:
        try:
            _, err = proc.communicate(timeout=max(1.0, started + timeout - time.perf_counter()))
        except subprocess.TimeoutExpired:
            for _, p in procs:
                p.kill()
            raise RuntimeError(f"ffmpeg -re still running {timeout:.0f} s after its start: killed")
        walls.append(time.perf_counter() - started)
        reap(proc)
        if proc.returncode != 0:
            raise RuntimeError(f"ffmpeg -re failed ({proc.returncode}): {err.decode(errors='replace')[-1000:]}")
    cpu1, busy1 = resource.getrusage(resource.RUSAGE_CHILDREN), machine_busy()
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    wall = time.perf_counter() - wall0
    for out in outs:
        if os.path.exists(out):
            os.remove(out)
    return walls, cpu, (busy1 - busy0) / wall, other_load(f"ffmpeg -re N={n}", (busy1 - busy0 - cpu) / wall)


# --- step 2: real-time clients -------------------------------------------------------


def realtime_client(server, frames, offset, barrier, t0_box, result, refusable=False, create_delay=0.0):
    """One webcam: create, then 270 uploads on a fixed 1/27 s schedule (late, never
    skipped), then finish. It creates `create_delay` s after it starts; with `refusable`, a
    503 at create is no error: `result["refused"]` holds its Retry-After and message, and
    the client only waits at the start barrier with the others."""
    try:
        with new_session() as session:
            if create_delay > 0:
                time.sleep(create_delay)
            if refusable:
                r = session.get(server.base + "/video/create_video", timeout=HTTP_TIMEOUT)
                if r.status_code == 503:
                    try:
                        message = r.json().get("message")
                    except (ValueError, AttributeError):
                        message = r.text[:300]
                    result["refused"] = {"retry_after": r.headers.get("Retry-After"), "message": message}
                    barrier.wait(timeout=60)
                    return
                rid = api_json(r, "create_video")["id"]
            else:
                rid = create(session, server)
            result["id"] = rid
            barrier.wait(timeout=60)
            t0 = t0_box[0]
            records = []  # (index, latency)
            last_end = t0
            for i in range(REALTIME_FRAMES):
                delay = t0 + i / FPS - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                t = time.perf_counter()
                body = upload(session, server, rid, frames[(offset + i) % len(frames)])
                last_end = time.perf_counter()
                records.append(last_end - t)
                if body.get("frames") != i + 1:
                    result["errors"].append(f"upload {i + 1} answered frames={body.get('frames')}")
            t = time.perf_counter()
            done = finish(session, server, rid)
            result["finish"] = time.perf_counter() - t
            result["latencies"] = records
            result["fps"] = REALTIME_FRAMES / (last_end - t0)
            if done.get("frames") != REALTIME_FRAMES:
                result["errors"].append(f"finish: {done.get('frames')} frames, expected {REALTIME_FRAMES}")
    except threading.BrokenBarrierError:
        result["errors"].append("start barrier broken")
    except (requests.RequestException, APIFailure) as error:
        result["errors"].append(f"{type(error).__name__}: {error}")
        barrier.abort()


def realtime_round(reel, work, frames, n, threads, preset=PRESET, extra_args=(), refusable=False,
                   create_spread=0.0, before_stop=None):
    """n real-time clients against a fresh server; the measurements of the round. `preset` and
    `extra_args` go to the server; with `refusable` a client refused at create (503) is counted in
    "refused" and left out of the figures; `create_spread` s spreads the creates evenly;
    `before_stop(server, results)` runs before the server stops and its dict joins the answer."""
    server = Server(reel, work, f"rt-{preset}-t{threads}-n{n}", threads, preset, extra_args).start()
    extra = {}
    try:
        results = [{"errors": [], "latencies": [], "fps": 0.0, "finish": float("nan")} for _ in range(n)]
        t0_box = [0.0]
        # The last party to arrive sets the common start, 0.2 s ahead.
        barrier = threading.Barrier(n, action=lambda: t0_box.__setitem__(0, time.perf_counter() + 0.2))
        threads_ = [threading.Thread(target=realtime_client, daemon=True,
                                     args=(server, frames, (k * 211) % len(frames), barrier, t0_box, results[k],
                                           refusable, k * create_spread / n))
                    for k in range(n)]
        cpu0, server_cpu0, busy0 = time.process_time(), server.cpu(), machine_busy()
        wall0 = time.perf_counter()
        for t in threads_:
            t.start()
        deadline = time.monotonic() + REALTIME_FRAMES / FPS * 6 + 120
        for t in threads_:
            while t.is_alive() and time.monotonic() < deadline:
                t.join(timeout=0.5)
        stuck = sum(t.is_alive() for t in threads_)
        wall = time.perf_counter() - wall0
        client_cpu = time.process_time() - cpu0
        server_cpu1, busy1 = server.cpu(), machine_busy()
        hwm = server.hwm_mb()
        server.check(f"real-time N={n} threads={threads}")
        alive = server.alive()
        if before_stop is not None and alive:
            extra = before_stop(server, results)
    finally:
        server.stop()

    admitted = [r for r in results if "refused" not in r]
    lat = [x for r in admitted for x in r["latencies"]]
    first = [x for r in admitted for x in r["latencies"][:BACKLOG_WINDOW]]
    last = [x for r in admitted for x in r["latencies"][-BACKLOG_WINDOW:]]
    errors = [e for r in results for e in r["errors"]]
    if stuck:
        errors.append(f"{stuck} client(s) still running after the deadline (stall)")
    if not alive:
        errors.append("server died")
    for e in errors:
        problem(f"real-time N={n} threads={threads}: {e}")
    fps = [r["fps"] for r in admitted]
    m = {
        "n": n, "fps_min": min(fps, default=float("nan")), "fps_avg": mean(fps),
        "p50": percentile(lat, 50), "p99": percentile(lat, 99),
        "max": max(lat) if lat else float("nan"), "first": mean(first), "last": mean(last),
        "finish_max": max((r["finish"] for r in admitted), default=float("nan")),
        "client_cpu": client_cpu, "wall": wall, "hwm": hwm,
        "server_cpu": (server_cpu1 - server_cpu0) if None not in (server_cpu0, server_cpu1) else float("nan"),
        "busy": (busy1 - busy0) / wall,
        "errors": errors, "admitted": len(admitted), "refused": n - len(admitted), "results": results,
    }
    m.update(extra)
    m["other"] = other_load(f"real-time N={n} --threads {threads}",
                            (busy1 - busy0 - client_cpu - m["server_cpu"]) / wall)
    reasons = []
    if errors:
        reasons.append("errors")
    if not (m["fps_min"] >= MIN_CLIENT_FPS):
        reasons.append(f"client fps {m['fps_min']:.2f} < {MIN_CLIENT_FPS}")
    if not (m["p99"] < LATENCY_LIMIT):
        reasons.append(f"p99 {ms(m['p99']):.0f} ms >= {ms(LATENCY_LIMIT):.0f} ms")
    if not (m["last"] <= 2 * m["first"]):
        reasons.append(f"backlog: last-3s mean {ms(m['last']):.1f} ms > 2x first-3s {ms(m['first']):.1f} ms")
    m["keeps_up"] = not reasons
    m["why"] = "; ".join(reasons)
    return m


def realtime_line(m):
    verdict = "keeps up" if m["keeps_up"] else f"FAILS ({m['why']})"
    return (f"N={m['n']:>2}  client fps min/avg {m['fps_min']:5.2f}/{m['fps_avg']:5.2f}  "
            f"upload p50/p99/max {ms(m['p50']):5.1f}/{ms(m['p99']):6.1f}/{ms(m['max']):6.1f} ms  "
            f"mean first/last 3s {ms(m['first']):5.1f}/{ms(m['last']):5.1f} ms  "
            f"finish max {ms(m['finish_max']):5.0f} ms  server CPU {m['server_cpu'] / m['wall'] * 100:4.0f}%  "
            f"client CPU {m['client_cpu']:5.2f} s ({m['client_cpu'] / m['wall'] * 100:3.0f}%)  "
            f"machine busy {m['busy']:.2f} cores (other processes {m['other']:.2f})  "
            f"VmHWM {m['hwm']:6.1f} MB  -> {verdict}")


def search(label, run_one, max_n, confirm, start=1, lowest=1):
    """N = start, start + 1, ... until the first failure (or max_n); (largest passing N, measurements).
    With `confirm`, a failing N is run once more and fails only if it fails again (the
    machine is a noisy VM: its cores sometimes slow down with nothing else running in it).
    When `start` > `lowest` fails, N goes down from it to the first that passes; when none
    passes the answer is lowest - 1 (N below `lowest` are taken as passing)."""
    best, rounds = 0, []
    n = first = max(lowest, min(start, max_n))
    descending = False
    while lowest <= n <= max_n:
        m = run_one(n)
        rounds.append(m)
        log(f"  {label} {m['line']}")
        if not m["keeps_up"] and confirm:
            m["retried"] = True
            log(f"  {label} N={n} failed; running it once more to confirm")
            m = run_one(n)
            m["retry"] = True
            rounds.append(m)
            log(f"  {label} {m['line']}{'  (passed on the retry)' if m['keeps_up'] else ''}")
        if m["keeps_up"]:
            best = n
            if descending:
                break
            n += 1
        elif descending or (n == first and not best and n > lowest):
            descending = True
            n -= 1
        else:
            break
    if best == 0:
        best = lowest - 1
    return best, rounds


# --- the run -------------------------------------------------------------------------


def load_frames(frames_dir, minimum):
    pattern = os.path.join(frames_dir, "frame-%06d.jpg")
    if not glob.glob(os.path.join(frames_dir, "frame-*.jpg")):
        log(f"no frames in {frames_dir}: making 600 with scripts/make-footage.sh")
        subprocess.run([os.path.join(ROOT, "scripts", "make-footage.sh"), "600", frames_dir], check=True)
    frames = []
    while os.path.exists(pattern % (len(frames) + 1)):
        with open(pattern % (len(frames) + 1), "rb") as f:
            frames.append(f.read())
    if len(frames) < minimum:
        sys.exit(f"{frames_dir} holds {len(frames)} consecutive frame-NNNNNN.jpg, need at least {minimum}")
    return frames, pattern


def jpeg_size(path):
    try:
        out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=width,height", "-of", "csv=p=0:s=x",
                              path], capture_output=True, text=True, timeout=30).stdout.strip()
        return out or "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames-dir", default=os.path.join(ROOT, "bench-data", "frames-720p"))
    parser.add_argument("--reel", default=REEL, help="reel binary (default: .build/release/reel)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: 150 frames, one round, N up to 3, only the 20 s finish")
    parser.add_argument("--max-n", type=int, default=None, help="largest N tried in step 2 (default 12; quick 3)")
    parser.add_argument("--budget", type=float, default=780.0,
                        help="seconds; the optional --threads 2 search is skipped past this (default 780)")
    parser.add_argument("--no-confirm", action="store_true",
                        help="step 2: stop at the first failing run instead of running a failing N once more")
    args = parser.parse_args()

    quick = args.quick
    confirm = not args.no_confirm
    max_n = args.max_n or (3 if quick else 12)
    if not os.access(args.reel, os.X_OK):
        sys.exit(f"no reel binary at {args.reel}")
    if shutil.which("ffmpeg") is None:
        sys.exit("ffmpeg not found")
    frames, pattern = load_frames(args.frames_dir, REALTIME_FRAMES)
    count = min(len(frames), 150 if quick else 600)
    rounds = 1 if quick else 2
    cores = os.cpu_count()
    begun = time.perf_counter()
    mean_kb = sum(len(f) for f in frames[:count]) / count / 1024

    log(f"reel ingest benchmark{' (QUICK)' if quick else ''}: {cores} cores (os.cpu_count), "
        f"{count} JPEG {jpeg_size(pattern % 1)} frames of {len(frames)} in {args.frames_dir}, "
        f"{mean_kb:.0f} KB/frame mean")
    log(f"x264 preset {PRESET} crf {CRF} gop {GOP}, {FPS} fps; server {args.reel}; "
        f"clients are Python threads in this process, on the same cores")
    summary = []
    rss = {}

    with tempfile.TemporaryDirectory(prefix="reel-bench-ingest-") as work:
        try:
            # --- 1. one client as fast as the server takes them -------------------------
            log(f"\n[1] one client, uploads back to back, {count} frames, server --threads {SERVER_THREADS_DEFAULT} "
                f"vs ffmpeg -threads {SERVER_THREADS_DEFAULT}; {rounds} interleaved round(s), better kept")
            runs = {"raw": [], "multipart": [], "ffmpeg": []}
            order = ["raw", "ffmpeg", "multipart"]
            ffmpeg_bytes = None
            for r in range(rounds):
                for kind in (order if r % 2 == 0 else order[::-1]):
                    if kind == "ffmpeg":
                        seconds, ffmpeg_bytes, cpu, other = ffmpeg_batch(pattern, count, SERVER_THREADS_DEFAULT,
                                                                  os.path.join(work, "batch.mp4"))
                        runs["ffmpeg"].append({"seconds": seconds, "fps": count / seconds, "cpu": cpu})
                        log(f"  round {r + 1} ffmpeg CLI       {count / seconds:6.1f} fps  {seconds:6.2f} s  "
                            f"CPU {cpu:5.1f} s  {ffmpeg_bytes} bytes  other processes {other:.2f} cores")
                        continue
                    server = Server(args.reel, work, f"single-{kind}", SERVER_THREADS_DEFAULT).start()
                    try:
                        m = send_recording(server, frames[:count], count, multipart=(kind == "multipart"))
                        m["hwm"] = server.hwm_mb()
                        server.check(f"single client {kind}")
                    finally:
                        server.stop()
                    runs[kind].append(m)
                    log(f"  round {r + 1} reel {kind:<9}  {m['fps']:6.1f} fps  {m['seconds']:6.2f} s  "
                        f"(uploads {m['upload_fps']:5.1f} fps, finish {ms(m['finish']):4.0f} ms)  "
                        f"upload p50/p99/max {ms(m['p50']):5.1f}/{ms(m['p99']):5.1f}/{ms(m['max']):5.1f} ms  "
                        f"client CPU {m['client_cpu']:5.2f} s  server CPU {m['server_cpu']:5.1f} s  "
                        f"{m['bytes']} bytes  VmHWM {m['hwm']:.1f} MB  other processes {m['other']:.2f} cores")
            raw = max(runs["raw"], key=lambda m: m["fps"])
            mp = max(runs["multipart"], key=lambda m: m["fps"])
            ff = max(runs["ffmpeg"], key=lambda m: m["fps"])
            rss["single_fast"] = raw["hwm"]
            best_of = "better of 2 interleaved runs each" if rounds == 2 else "1 run each (quick)"
            summary += [
                f"1. one client back to back, {count} x 720p JPEG, x264 {PRESET} {SERVER_THREADS_DEFAULT} threads "
                f"({best_of}):",
                f"   reel raw image/jpeg  {raw['fps']:6.1f} fps end-to-end, upload p50 {ms(raw['p50']):.1f} ms "
                f"p99 {ms(raw['p99']):.1f} ms; client CPU {raw['client_cpu']:.2f} s, server CPU "
                f"{raw['server_cpu']:.1f} s ({raw['server_cpu'] / count * 1000:.1f} ms/frame)",
                f"   reel multipart       {mp['fps']:6.1f} fps end-to-end, upload p50 {ms(mp['p50']):.1f} ms "
                f"p99 {ms(mp['p99']):.1f} ms; client CPU {mp['client_cpu']:.2f} s, server CPU "
                f"{mp['server_cpu']:.1f} s ({mp['server_cpu'] / count * 1000:.1f} ms/frame)",
                f"   ffmpeg CLI           {ff['fps']:6.1f} fps end-to-end, CPU {ff['cpu']:.1f} s "
                f"({ff['cpu'] / count * 1000:.1f} ms/frame)",
                f"   "
                f"reel/ffmpeg: raw {raw['fps'] / ff['fps']:.2f}x, multipart {mp['fps'] / ff['fps']:.2f}x; "
                f"multipart/raw {mp['fps'] / raw['fps']:.2f}",
            ]

            # --- 2. N real-time clients ----------------------------------------------------
            def reel_search(threads):
                log(f"\n[2] N real-time clients at {FPS} fps, {REALTIME_FRAMES} frames each, server --threads "
                    f"{threads}, fresh server per N (keeps up: every client >= {MIN_CLIENT_FPS} fps, upload p99 < "
                    f"{ms(LATENCY_LIMIT):.0f} ms, mean latency last 3 s <= 2x first 3 s, no errors)")

                def one(n):
                    m = realtime_round(args.reel, work, frames, n, threads)
                    m["line"] = realtime_line(m)
                    return m
                return search(f"reel t{threads}", one, max_n, confirm)

            n_t1, rt_t1 = reel_search(1)
            rss["realtime"] = {m["n"]: m["hwm"] for m in rt_t1}

            log(f"\n[2] N real-time ffmpeg -re -threads 1 at once, {REALTIME_FRAMES} frames each (keeps up: "
                f"every wall <= {REALTIME_FRAMES / FPS * FFMPEG_SLACK:.2f} s)")

            def ffmpeg_one(n):
                walls, cpu, busy, other = ffmpeg_realtime(pattern, n, len(frames), work)
                limit = REALTIME_FRAMES / FPS * FFMPEG_SLACK
                m = {"n": n, "walls": walls, "cpu": cpu, "busy": busy, "other": other,
                     "keeps_up": max(walls) <= limit}
                m["line"] = (f"N={n:>2}  wall min/avg/max {min(walls):5.2f}/{mean(walls):5.2f}/{max(walls):5.2f} s  "
                             f"CPU {cpu / n:4.1f} s per process ({cpu / n / mean(walls) * 100:3.0f}% of a core)  "
                             f"machine busy {busy:.2f} cores (other processes {other:.2f})  "
                             f"-> {'keeps up' if m['keeps_up'] else 'FAILS'}")
                return m
            n_ff, rt_ff = search("ffmpeg", ffmpeg_one, max_n, confirm)

            # --- 3. finish latency ---------------------------------------------------------
            lengths = [540] if quick else [540, 5400]
            log(f"\n[3] finish latency, uploads back to back, server --threads {SERVER_THREADS_DEFAULT}, "
                f"fresh server each")
            finishes = []
            for length in lengths:
                server = Server(args.reel, work, f"finish-{length}", SERVER_THREADS_DEFAULT).start()
                try:
                    m = send_recording(server, frames, length)
                    server.check(f"finish {length} frames")
                finally:
                    server.stop()
                finishes.append(m)
                log(f"  {length} frames ({length / FPS:.0f} s): finish {ms(m['finish']):6.1f} ms, "
                    f"{m['bytes']} bytes, duration {m['duration']} s, uploads {m['upload_fps']:.1f} fps, "
                    f"upload p50/p99 {ms(m['p50']):.1f}/{ms(m['p99']):.1f} ms")

            # --- 2b. optional: the default --threads 2 ------------------------------------
            elapsed = time.perf_counter() - begun
            estimate = (n_t1 + (3 if confirm else 2)) * (REALTIME_FRAMES / FPS + 4)
            n_t2, rt_t2 = None, []
            if quick:
                log("\n[2] --threads 2 search skipped (quick)")
            elif elapsed + estimate > args.budget:
                log(f"\n[2] --threads 2 search skipped: {elapsed:.0f} s used, ~{estimate:.0f} s more "
                    f"would pass the {args.budget:.0f} s budget")
            else:
                n_t2, rt_t2 = reel_search(SERVER_THREADS_DEFAULT)

            # --- summary -----------------------------------------------------------------
            summary.append(f"2. real-time clients at {FPS} fps ({REALTIME_FRAMES} frames each), largest N that "
                           f"keeps up (N searched 1..{max_n}, stop at first failure"
                           + (", a failing N run twice and failing both times)" if confirm else ")") + ":")
            summary.append(f"   reel --threads 1: N = {n_t1}"
                           + (f"   reel --threads 2: N = {n_t2}" if n_t2 is not None else
                              "   (--threads 2 not measured)")
                           + f"   ffmpeg -re -threads 1 processes: N = {n_ff}")
            for label, rounds_ in (("reel t1", rt_t1), ("reel t2", rt_t2)):
                for m in rounds_:
                    summary.append(f"   {label} N={m['n']}{' (retry)' if m.get('retry') else ''}: fps min/avg {m['fps_min']:.2f}/{m['fps_avg']:.2f}, "
                                   f"p50/p99 {ms(m['p50']):.1f}/{ms(m['p99']):.1f} ms, first/last 3 s "
                                   f"{ms(m['first']):.1f}/{ms(m['last']):.1f} ms, client CPU "
                                   f"{m['client_cpu'] / m['wall'] * 100:.0f}% of a core, server CPU "
                                   f"{m['server_cpu'] / m['wall'] * 100:.0f}% "
                                   f"({m['server_cpu'] / m['n']:.1f} s per recording), machine busy "
                                   f"{m['busy']:.2f} cores (other processes {m['other']:.2f})"
                                   + ("" if m["keeps_up"] else f"  FAILS: {m['why']}"))
            for m in rt_ff:
                summary.append(f"   ffmpeg N={m['n']}{' (retry)' if m.get('retry') else ''}: wall " + ", ".join(f"{w:.2f}" for w in m["walls"])
                               + f" s, CPU {m['cpu'] / m['n']:.1f} s per process, machine busy "
                               f"{m['busy']:.2f} cores (other processes {m['other']:.2f})"
                               + ("" if m["keeps_up"] else "  FAILS"))
            summary.append("3. finish_video request alone (uploads back to back, --threads 2):")
            for length, m in zip(lengths, finishes):
                summary.append(f"   {length} frames ({length / FPS:.0f} s video): {ms(m['finish']):.1f} ms, "
                               f"{m['bytes']} bytes")
            summary.append("4. peak RSS (VmHWM) of the server, fresh server per scenario (from the step 2 "
                           "--threads 1 runs):")
            per_n = rss["realtime"]
            one_rec = per_n.get(1, float("nan"))
            top = n_t1 if n_t1 >= 2 else max(per_n)
            line = f"   1 recording: {one_rec:.1f} MB"
            if top >= 2:
                extra = (per_n[top] - one_rec) / (top - 1)
                line += (f"; {top} recordings: {per_n[top]:.1f} MB{'' if top == n_t1 else ' (a failing N)'}; "
                         f"{extra:.1f} MB per extra recording")
            summary.append(line)
            summary.append(f"   (single fast client, --threads 2: {rss['single_fast']:.1f} MB)")
        finally:
            kill_all_children()

    log(f"\n{'=' * 24} summary ({time.perf_counter() - begun:.0f} s) {'=' * 24}")
    log(f"reel serve ingest, {cores} cores (os.cpu_count), 1280x720 JPEG footage ({mean_kb:.0f} KB/frame), "
        f"x264 {PRESET} crf {CRF}, {FPS} fps; Python clients on the same cores")
    for line in summary:
        log(line)
    if DISTURBED:
        log(f"DISTURBED: other processes (not the server, not ffmpeg, not this script) used more than "
            f"{OTHER_LIMIT} cores during:")
        for d in DISTURBED:
            log(f"   - {d}")
        log("   those figures are low; rerun on a quiet machine")
    if PROBLEMS:
        log("server problems seen:")
        for p in PROBLEMS:
            log(f"   - {p}")
    else:
        log("server problems seen: none (no errors, stalls or crashes; no warning/error log lines)")
    log("=" * 72)


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
