#!/usr/bin/env python3
"""Camera benchmark of `reel serve`: how many 720p 27 fps cameras it keeps in real time.

Usage: scripts/bench_cameras.py [--reel PATH] [--quick] [--max-n 8] [--sections server,x264,burst,quality,memory]

Answers, per x264 preset, how many real-time webcams (1280x720 JPEG at 27 fps, 270
frames each) one `reel serve` keeps up with, against x264 alone and the ffmpeg CLI
on the same cores, in one run. It PRINTS figures and never asserts timing. Starts
the real server (default .build/release/reel) itself, on loopback, in a temp folder;
the helpers (server, real-time clients, search, ffmpeg -re, /proc readings, child
cleanup) are scripts/bench_ingest.py's.

1. footage: scripts/make-footage.sh 600 bench-data/frames-720p (moving, noisy; made
   once), and its first 270 frames decoded once to raw yuv420p (ffmpeg's default
   conversion: limited range) in the temp folder.
2. server: `reel serve --preset P --threads 1` for P = veryfast, superfast, ultrafast,
   and `--preset auto --preset-max veryfast --preset-min ultrafast --threads 1`; a fresh
   server per round; N Python clients (threads of this process) each create, send 270
   frames on a 1/27 s schedule and finish. A round keeps up when every client reaches
   26.5 fps, upload p99 < 50 ms and nothing fails. With auto, a create answered 503 is
   "refused", not an error: keeping up is judged among the admitted. N = 1 first, then
   the search starts at the N the cost of one camera predicts and goes up to the first
   failure (or down to the first pass); a failing N is run twice (not with --quick).
3. x264: N paced `ffmpeg -re -f rawvideo ... -c:v libx264 -preset P -threads 1` at
   once (the raw frames: no JPEG decoding, no HTTP), per preset; keeps up when every
   process's wall <= 10 s x 1.05. Then `ffmpeg -re` with the JPEG files in, veryfast.
4. burst: 8 cameras creating within ~1 s, then sending in real time, against auto
   (admitted, with which preset; refused with Retry-After and message; keep-up of the
   admitted) and against fixed veryfast (how many keep up).
5. quality: one 270-frame recording through the server per preset (uploads back to
   back) and x264 alone on the raw frames: bytes per second and PSNR against the
   source frames, both sides as yuv420p limited range.
6. memory: server VmHWM with 1 recording and with N (from step 2), and RSS per extra
   recording = (HWM_N - HWM_1) / (N - 1).
Auto rounds end with the server's encoder metrics. The clients share the cores with
the server: their CPU is printed. Needs Python 3, requests, ffmpeg; Linux (/proc).
"""
import argparse
import glob
import math
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_ingest as ingest  # noqa: E402
from bench_ingest import log, mean, ms, percentile  # noqa: E402

FIXED = ["veryfast", "superfast", "ultrafast"]
AUTO = "auto"
AUTO_ARGS = ["--preset-max", "veryfast", "--preset-min", "ultrafast"]
MODES = FIXED + [AUTO]
THREADS = 1                       # x264 threads per recording, server and ffmpeg alike
WIDTH, HEIGHT = 1280, 720
FPS = ingest.FPS
FRAMES = ingest.REALTIME_FRAMES   # 270: 10 s per camera
MIN_FPS = ingest.MIN_CLIENT_FPS   # 26.5
P99_LIMIT = 0.050                 # upload p99 must stay below 50 ms
WALL_LIMIT = FRAMES / FPS * ingest.FFMPEG_SLACK
BURST_SPREAD = 1.0                # s over which the burst's creates are spread
METRICS = ("reel_encoder_lag_seconds", "reel_recordings_started_total", "reel_encoder_load_cores",
           "reel_encoder_capacity_cores", "reel_preset_cost_cores")
SECTIONS = {"2": "server", "3": "x264", "4": "burst", "5": "quality", "6": "memory"}
CORES = len(os.sched_getaffinity(0))


# --- helpers -------------------------------------------------------------------------


def run_child(command, timeout, what):
    """Runs a child to its end (killed after `timeout` s); (stdout, stderr, wall s, CPU s)."""
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = ingest.start_process(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        ingest.reap(proc)
        raise RuntimeError(f"{what}: still running after {timeout:.0f} s, killed")
    wall = time.perf_counter() - start
    ingest.reap(proc)
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{what}: exit status {proc.returncode}: {err.decode(errors='replace')[-800:]}")
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return out.decode(errors="replace"), err.decode(errors="replace"), wall, cpu


def header(text):
    log(f"\n{text}")


def fmt(value, spec=".1f", unit=""):
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:{spec}}{unit}"


def raw_input_args(yuv):
    return ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{WIDTH}x{HEIGHT}", "-r", str(FPS), "-i", yuv]


def guess_n(cost_per_camera, cores, max_n):
    """Where a search should start: the cameras `cores` hold at the cost of one."""
    if not cost_per_camera or math.isnan(cost_per_camera) or cost_per_camera <= 0:
        return 2
    return max(2, min(max_n, int(cores / cost_per_camera)))


def short(error):
    """An error's distinct lines, in order (a server that failed 3 starts logs the same 3 times)."""
    lines = []
    for line in str(error).splitlines():
        if line.strip() and line not in lines:
            lines.append(line)
    return " | ".join(lines)


def capacity_search(label, run_one, max_n, confirm, cost_of):
    """N = 1, then from the N the cost of one camera predicts: (largest passing N, rounds)."""
    best, rounds = ingest.search(label, run_one, 1, confirm)
    if best == 0 or max_n < 2:
        return best, rounds
    # the cores other processes left free during N=1: all of them on a quiet machine
    cores = max(0.5, CORES - rounds[-1].get("other", 0.0))
    start = guess_n(cost_of(rounds[-1]), cores, max_n)
    log(f"  {label}: one camera costs {cost_of(rounds[-1]):.2f} cores of {cores:.1f} free -> search from N={start}")
    best, more = ingest.search(label, run_one, max_n, confirm, start=start, lowest=2)
    return best, rounds + more


# --- the server's rounds -------------------------------------------------------------


def server_flags(mode):
    """(preset, extra flags, refusable) of a mode."""
    return (AUTO, AUTO_ARGS, True) if mode == AUTO else (mode, [], False)


def read_metrics(server):
    """The encoder metrics of /metrics: {name: [(labels, value)]}, histograms as _sum/_count/_bucket."""
    found = {}
    try:
        with ingest.new_session() as session:
            text = session.get(server.base + "/metrics", timeout=10).text
    except ingest.requests.RequestException as error:
        return {"error": [("", str(error))]}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        match = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)", line)
        if not match:
            continue
        name, labels, value = match.group(1), match.group(2) or "", match.group(3)
        if any(name == m or name.startswith(m + "_") for m in METRICS):
            try:
                found.setdefault(name, []).append((labels, float(value)))
            except ValueError:
                pass
    return found


def metrics_lines(found):
    """Readable lines of read_metrics: histograms as count, mean and bucket-bounded quantiles."""
    if not found:
        return ["(none of " + ", ".join(METRICS) + " in /metrics)"]
    lines = []
    for base in METRICS + ("error",):
        buckets = found.get(base + "_bucket")
        if buckets:
            count = sum(v for _, v in found.get(base + "_count", [])) or 0
            total = sum(v for _, v in found.get(base + "_sum", [])) or 0.0
            bounds = []
            for labels, v in buckets:
                le = re.search(r'le="([^"]+)"', labels)
                if le:
                    bounds.append((float(le.group(1)), v))
            bounds.sort()

            def q(p):
                for le, cum in bounds:
                    if count and cum >= p * count:
                        return le
                return float("nan")
            lines.append(f"{base}: {count:.0f} observations, mean {fmt(total / count if count else float('nan'), '.3f')} s, "
                         f"p50 <= {q(0.5):g} s, p99 <= {q(0.99):g} s, all <= {q(1.0):g} s (bucket bounds)")
            continue
        for name in sorted(n for n in found if n == base or (n.startswith(base + "_") and not n.endswith("_bucket"))):
            for labels, value in found[name]:
                lines.append(f"{name}{labels} {value:g}")
    return lines


def log_preset(server, rid):
    """The preset the server's log names for a recording, if any."""
    for line in server.log_text().splitlines():
        if rid in line:
            match = re.search(r'preset[\s=:"]+([a-z]+)', line)
            if match:
                return match.group(1)
    return None


def inspect(with_metrics):
    """before_stop of a round: each admitted recording's preset (its entry, else the log), and
    for auto the encoder metrics."""
    def before_stop(server, results):
        with ingest.new_session() as session:
            for r in results:
                rid = r.get("id")
                if not rid:
                    continue
                preset = None
                try:
                    body = session.get(f"{server.base}/video/recordings/{rid}", timeout=10).json()
                    preset = body.get("preset") if isinstance(body, dict) else None
                except (ingest.requests.RequestException, ValueError):
                    pass
                r["preset"] = preset or log_preset(server, rid)
        return {"metrics": read_metrics(server)} if with_metrics else {}
    return before_stop


def judge(m):
    """This benchmark's keep-up rule (bench_ingest's is looser on latency): every admitted client
    >= 26.5 fps, upload p99 < 50 ms, no errors, at least one admitted."""
    reasons = []
    if m["errors"]:
        reasons.append(f"{len(m['errors'])} error(s)")
    if m["admitted"] == 0:
        reasons.append("none admitted")
    elif not m["fps_min"] >= MIN_FPS:
        reasons.append(f"client fps {m['fps_min']:.2f} < {MIN_FPS}")
    if m["admitted"] and not m["p99"] < P99_LIMIT:
        reasons.append(f"p99 {ms(m['p99']):.0f} ms >= {ms(P99_LIMIT):.0f} ms")
    m["keeps_up"] = not reasons
    m["why"] = "; ".join(reasons)
    return m


def preset_counts(m):
    counts = {}
    for r in m["results"]:
        if "refused" not in r:
            counts[r.get("preset") or "?"] = counts.get(r.get("preset") or "?", 0) + 1
    return ", ".join(f"{c} {p}" for p, c in sorted(counts.items())) or "none"


def reel_line(m, mode):
    per_camera = m["server_cpu"] / m["wall"] / max(1, m["admitted"])
    admitted = (f"admitted {m['admitted']} refused {m['refused']} ({preset_counts(m)})  "
                if mode == AUTO else "")
    verdict = "keeps up" if m["keeps_up"] else f"FAILS ({m['why']})"
    return (f"N={m['n']:>2}  {admitted}client fps min {fmt(m['fps_min'], '5.2f')}  "
            f"upload p50/p99 {fmt(ms(m['p50']), '5.1f')}/{fmt(ms(m['p99']), '6.1f')} ms  "
            f"server CPU/camera {per_camera * 100:4.0f}% of a core  "
            f"all clients {m['client_cpu'] / m['wall'] * 100:3.0f}%  "
            f"machine busy {m['busy']:.2f} cores (other {m['other']:.2f})  "
            f"VmHWM {m['hwm']:6.1f} MB  -> {verdict}")


def reel_round(ctx, mode, n, create_spread=0.0):
    preset, extra, refusable = server_flags(mode)
    m = ingest.realtime_round(ctx.reel, ctx.work, ctx.frames, n, THREADS, preset, extra, refusable,
                              create_spread, before_stop=inspect(mode == AUTO))
    judge(m)
    m["line"] = reel_line(m, mode)
    if mode == AUTO:
        m["line"] += "".join(f"\n      {line}" for line in metrics_lines(m.get("metrics", {})))
    return m


def reel_cost(m):
    """Cores one camera takes: the server's share and the client's."""
    return (m["server_cpu"] + m["client_cpu"]) / m["wall"] / max(1, m["admitted"])


def section_server(ctx):
    header(f"[2] real-time cameras through reel serve --threads {THREADS}: {FRAMES} frames each at {FPS} fps, "
           f"fresh server per round (keeps up: every client >= {MIN_FPS} fps, upload p99 < {ms(P99_LIMIT):.0f} ms, "
           f"no errors; auto: among the admitted, a 503 at create counts as refused)")
    for mode in MODES:
        ctx.memory_tried.add(mode)  # step 6 takes its figures from here
        label = f"reel {mode:<9}"
        flags = " ".join(["--preset", mode] + server_flags(mode)[1])
        log(f" {label}: reel serve {flags} --threads {THREADS}")
        try:
            best, rounds = capacity_search(label, lambda n, mode=mode: reel_round(ctx, mode, n), ctx.max_n,
                                           ctx.confirm, reel_cost)
        except RuntimeError as error:
            ctx.notes.append(f"reel {mode}: {short(error)}")
            log(f"  {label} NOT MEASURED: {short(error)}")
            continue
        ctx.server[mode] = {"best": best, "rounds": rounds}
        if mode == AUTO:
            ok = [m for m in rounds if m["keeps_up"]]
            full = max((m["n"] for m in ok if m["refused"] == 0), default=0)
            most = max((m["admitted"] for m in ok), default=0)
            ctx.server[mode].update(full=full, most=most)
            log(f"  {label}: largest N all admitted and keeping up: {full}; most admitted at once, all keeping "
                f"up: {most}")
        else:
            log(f"  {label}: largest N keeping up: {best}")


# --- x264 / ffmpeg alone -------------------------------------------------------------


def ffmpeg_line(m):
    walls = m["walls"]
    return (f"N={m['n']:>2}  wall min/avg/max {min(walls):5.2f}/{mean(walls):5.2f}/{max(walls):5.2f} s  "
            f"CPU/camera {m['per_camera'] * 100:4.0f}% of a core  "
            f"machine busy {m['busy']:.2f} cores (other {m['other']:.2f})  "
            f"-> {'keeps up' if m['keeps_up'] else 'FAILS'}")


def ffmpeg_round(ctx, preset, n, raw):
    walls, cpu, busy, other = ingest.ffmpeg_realtime(ctx.pattern, n, len(ctx.frames), ctx.work, preset=preset,
                                                     inputs=raw_input_args(ctx.yuv) if raw else None)
    m = {"n": n, "walls": walls, "cpu": cpu, "busy": busy, "other": other,
         "per_camera": cpu / max(walls) / n, "keeps_up": max(walls) <= WALL_LIMIT}
    m["line"] = ffmpeg_line(m)
    return m


def section_x264(ctx):
    header(f"[3] x264 alone: N paced `ffmpeg -re -f rawvideo -pix_fmt yuv420p -s {WIDTH}x{HEIGHT} -r {FPS} "
           f"-i frames.yuv -frames:v {FRAMES} -c:v libx264 -preset P -crf {ingest.CRF} -g {ingest.GOP} "
           f"-threads {THREADS}` at once (keeps up: every wall <= {WALL_LIMIT:.2f} s; CPU/camera = children's "
           f"CPU / wall / N)")
    runs = [(f"x264 {p}", p, True) for p in FIXED] + [("ffmpeg JPEG veryfast", "veryfast", False)]
    for label, preset, raw in runs:
        if not raw:
            log(f" {label}: `ffmpeg -re -framerate {FPS} -i frame-%06d.jpg` (JPEG decoding in the process), "
                f"same x264 settings")
        try:
            best, rounds = capacity_search(f"{label:<20}", lambda n, p=preset, r=raw: ffmpeg_round(ctx, p, n, r),
                                           ctx.max_n, ctx.confirm, lambda m: m["per_camera"])
        except RuntimeError as error:
            ctx.notes.append(f"{label}: {short(error)}")
            log(f"  {label} NOT MEASURED: {short(error)}")
            continue
        ctx.x264[label] = {"best": best, "rounds": rounds}
        log(f"  {label}: largest N keeping up: {best}")


# --- 8 cameras at once ---------------------------------------------------------------


def section_burst(ctx):
    n = ctx.burst
    header(f"[4] {n} cameras arriving at once: creates spread over {BURST_SPREAD:.0f} s, then all send in real "
           f"time ({FRAMES} frames at {FPS} fps); server --threads {THREADS}")
    for mode in (AUTO, "veryfast"):
        log(f" against --preset {mode}{' ' + ' '.join(AUTO_ARGS) if mode == AUTO else ''}:")
        try:
            m = reel_round(ctx, mode, n, create_spread=BURST_SPREAD)
        except RuntimeError as error:
            ctx.notes.append(f"burst against {mode}: {short(error)}")
            log(f"  NOT MEASURED: {short(error)}")
            continue
        log(f"  {m['line']}")
        kept = 0
        for k, r in enumerate(m["results"]):
            if "refused" in r:
                log(f"  camera {k + 1}: REFUSED 503, Retry-After {r['refused']['retry_after']!r}, "
                    f"message {r['refused']['message']!r}")
                continue
            p99 = percentile(r["latencies"], 99)
            ok = not r["errors"] and r["fps"] >= MIN_FPS and p99 < P99_LIMIT
            kept += ok
            log(f"  camera {k + 1}: admitted, preset {r.get('preset') or '?'}, {r['fps']:5.2f} fps, upload p99 "
                f"{fmt(ms(p99), '.1f')} ms{'' if ok else '  FALLS BEHIND'}"
                + (f"  errors: {'; '.join(r['errors'])[:200]}" if r["errors"] else ""))
        m["kept"] = kept
        log(f"  -> {m['admitted']} admitted ({preset_counts(m)}), {m['refused']} refused, {kept} of the admitted "
            f"keep up")
        ctx.bursts[mode] = m


# --- quality / size ------------------------------------------------------------------


def psnr(ctx, mp4):
    """(average, y) PSNR of a video against the raw frames, both yuv420p limited range, frame by
    frame; and the video's pix_fmt/range/frames as ffprobe reads them."""
    flt = (f"[0:v]format=yuv420p,setpts=N/({FPS}*TB)[d];[1:v]setpts=N/({FPS}*TB)[r];"
           f"[d][r]psnr=shortest=1")
    _, err, _, _ = run_child(["ffmpeg", "-nostdin", "-hide_banner", "-i", mp4] + raw_input_args(ctx.yuv)
                             + ["-lavfi", flt, "-f", "null", "-"], 300, "ffmpeg psnr")
    match = re.search(r"PSNR y:(\S+) u:(\S+) v:(\S+) average:(\S+)", err)
    probe, _, _, _ = run_child(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries",
                                "stream=pix_fmt,color_range,nb_read_packets", "-of", "csv=p=0", mp4], 60, "ffprobe")
    if not match:
        raise RuntimeError(f"no PSNR in ffmpeg's output: {err[-500:]}")
    return float(match.group(4)), float(match.group(1)), probe.strip()


def section_quality(ctx):
    header(f"[5] quality and size: {FRAMES} frames (the first of the footage) per preset, crf {ingest.CRF}; "
           f"PSNR against the source decoded to yuv420p limited range (ffmpeg's default conversion)")
    for preset in FIXED:
        try:
            server = ingest.Server(ctx.reel, ctx.work, f"quality-{preset}", THREADS, preset).start()
            try:
                m = ingest.send_recording(server, ctx.frames, FRAMES)
                videos = glob.glob(os.path.join(server.storage, "**", "*.mp4"), recursive=True)
                if len(videos) != 1:
                    raise RuntimeError(f"{len(videos)} MP4 files in the server's storage, expected 1")
                value, y, probe = psnr(ctx, videos[0])
                server.check(f"quality {preset}")
            finally:
                server.stop()
            bps = m["bytes"] / m["duration"] if m.get("duration") else float("nan")
            q = {"bps": bps, "psnr": value, "psnr_y": y, "encode_fps": m["fps"]}
            ctx.quality[f"reel {preset}"] = q
            log(f"  reel {preset:<9}  {m['bytes']} bytes, {m['duration']} s -> {bps / 1000:7.1f} kB/s "
                f"({bps * 8 / 1e6:.2f} Mbit/s)  PSNR average {value:.2f} dB (Y {y:.2f})  [{probe}]  "
                f"end to end {m['fps']:.0f} fps (uploads back to back)"
                + ("" if 30 <= value <= 50 else "  !! PSNR not in 30-50 dB: ranges or frames do not match?"))
        except RuntimeError as error:
            ctx.notes.append(f"quality reel {preset}: {short(error)}")
            log(f"  reel {preset} NOT MEASURED: {short(error)}")
    for preset in FIXED:
        out = os.path.join(ctx.work, f"x264-{preset}.mp4")
        try:
            _, _, wall, cpu = run_child(["ffmpeg", "-nostdin", "-v", "error", "-y"] + raw_input_args(ctx.yuv)
                                        + ["-frames:v", str(FRAMES)] + ingest.x264_args(THREADS, preset)
                                        + ["-f", "mp4", out], 300, f"x264 {preset}")
            size = os.path.getsize(out)
            value, y, probe = psnr(ctx, out)
            bps = size / (FRAMES / FPS)
            ctx.quality[f"x264 {preset}"] = {"bps": bps, "psnr": value, "psnr_y": y, "encode_fps": FRAMES / wall}
            log(f"  x264 {preset:<9}  {size} bytes -> {bps / 1000:7.1f} kB/s ({bps * 8 / 1e6:.2f} Mbit/s)  "
                f"PSNR average {value:.2f} dB (Y {y:.2f})  [{probe}]  unpaced {FRAMES / wall:.0f} fps, "
                f"{cpu / FRAMES * 1000:.1f} ms CPU/frame")
        except RuntimeError as error:
            ctx.notes.append(f"quality x264 {preset}: {short(error)}")
            log(f"  x264 {preset} NOT MEASURED: {short(error)}")
        finally:
            if os.path.exists(out):
                os.remove(out)


# --- memory --------------------------------------------------------------------------


def section_memory(ctx):
    header("[6] memory: server VmHWM (peak RSS) with 1 recording and with N, fresh server per round; "
           "RSS per extra recording = (HWM_N - HWM_1) / (N - 1)")
    for mode in MODES:
        data = ctx.server.get(mode)
        if data is None and mode not in ctx.memory_tried:
            # step 2 did not run: one round at 1 and one at a few cameras
            ctx.memory_tried.add(mode)
            k = min(3, ctx.max_n)
            try:
                rounds = [reel_round(ctx, mode, n) for n in sorted({1, k})]
            except RuntimeError as error:
                log(f"  reel {mode}: NOT MEASURED: {short(error)}")
                continue
            for m in rounds:
                log(f"  reel {mode:<9} {m['line']}")
            data = ctx.server[mode] = {"best": None, "rounds": rounds}
        if data is None:
            continue
        one = [m for m in data["rounds"] if m["admitted"] == 1]
        many = [m for m in data["rounds"] if m["admitted"] >= 2]
        if not one or not many:
            log(f"  reel {mode:<9} not enough rounds (need 1 and >= 2 recordings)")
            continue
        keeping = [m for m in many if m["keeps_up"]]
        top = max(keeping or many, key=lambda m: (m["admitted"], -m["hwm"]))
        hwm1 = min(m["hwm"] for m in one)
        extra = (top["hwm"] - hwm1) / (top["admitted"] - 1)
        data["memory"] = {"hwm1": hwm1, "hwmN": top["hwm"], "n": top["admitted"], "extra": extra}
        log(f"  reel {mode:<9} 1 recording {hwm1:6.1f} MB; {top['admitted']} recordings {top['hwm']:6.1f} MB"
            f"{'' if keeping else ' (a failing round)'} -> {extra:5.1f} MB per extra recording")


# --- the run -------------------------------------------------------------------------


class Context:
    pass


def summary(ctx, begun):
    log(f"\n{'=' * 30} summary ({time.perf_counter() - begun:.0f} s) {'=' * 30}")
    log(f"{CORES} cores; {WIDTH}x{HEIGHT} footage ({ctx.mean_kb:.0f} KB/JPEG), {FPS} fps, {FRAMES} frames a camera, "
        f"x264 crf {ingest.CRF} gop {ingest.GOP} --threads {THREADS}; Python clients on the same cores"
        + (" (QUICK: one run per N, fewer N)" if ctx.quick else ""))
    log(f"cameras = largest N all keeping up (reel: every client >= {MIN_FPS} fps, upload p99 < "
        f"{ms(P99_LIMIT):.0f} ms; ffmpeg: every wall <= {WALL_LIMIT:.2f} s), searched up to {ctx.max_n}; "
        f"CPU/camera at N=1, % of one core")
    log(f"{'':22} {'cameras':>8} {'CPU/cam':>8} {'HWM 1':>9} {'+/rec':>9} {'kB/s':>7} {'PSNR':>6}")

    def row(label, cameras, cpu, mem=None, q=None):
        q = q or {}
        mem = mem or {}
        log(f"{label:22} {cameras:>8} {fmt(cpu * 100 if cpu is not None else None, '.0f', '%'):>8} "
            f"{fmt(mem.get('hwm1'), '.1f', ' MB'):>9} {fmt(mem.get('extra'), '.1f', ' MB'):>9} "
            f"{fmt(q['bps'] / 1000 if 'bps' in q else None, '.0f'):>7} {fmt(q.get('psnr'), '.2f'):>6}")

    for mode in MODES:
        data = ctx.server.get(mode)
        cpu = None
        if data:
            ones = [m for m in data["rounds"] if m["n"] == 1 and m["admitted"] == 1]
            if ones:
                cpu = ones[-1]["server_cpu"] / ones[-1]["wall"]
        if not data or data["best"] is None:
            cameras = "-"
        elif mode == AUTO:
            cameras = f"{data['full']}/{data['most']}"
        else:
            cameras = str(data["best"])
        row(f"reel {mode}", cameras, cpu, data.get("memory") if data else None, ctx.quality.get(f"reel {mode}"))
    for label in [f"x264 {p}" for p in FIXED] + ["ffmpeg JPEG veryfast"]:
        data = ctx.x264.get(label)
        ones = [m for m in data["rounds"] if m["n"] == 1] if data else []
        row(label, str(data["best"]) if data else "-", ones[-1]["per_camera"] if ones else None,
            None, ctx.quality.get(label))
    if AUTO in ctx.server:
        log("reel auto cameras: N all admitted and keeping up / most admitted at once, all keeping up")
    log("reel CPU/cam is the server process alone; the Python client of each camera costs "
        + fmt(mean([m["client_cpu"] / m["wall"] / max(1, m["admitted"]) for d in ctx.server.values()
                    for m in d["rounds"]]) * 100, ".0f", "%") + " of a core more")
    for mode, m in ctx.bursts.items():
        if mode == AUTO:
            log(f"burst of {ctx.burst} against auto: {m['admitted']} admitted ({preset_counts(m)}), {m['refused']} "
                f"refused (503), {m['kept']} of the admitted keep up")
        else:
            log(f"burst of {ctx.burst} against {mode}: {m['kept']} of {ctx.burst} keep up")
    for note in ctx.notes:
        log(f"not measured: {note}")
    if ingest.DISTURBED:
        log(f"DISTURBED: other processes used more than {ingest.OTHER_LIMIT} cores during:")
        for d in ingest.DISTURBED:
            log(f"   - {d}")
        log("   those figures are low; rerun on a quiet machine")
    if ingest.PROBLEMS:
        log("problems seen:")
        for p in ingest.PROBLEMS:
            log(f"   - {p}")
    else:
        log("problems seen: none (no errors, stalls or crashes; no warning/error server log lines)")
    log("=" * 78)


def parse_sections(text):
    chosen = set()
    for word in (w.strip().lower() for w in text.split(",") if w.strip()):
        name = SECTIONS.get(word, word)
        if name not in SECTIONS.values():
            sys.exit(f"--sections: unknown {word!r}; one of {', '.join(SECTIONS.values())} or 2-6")
        chosen.add(name)
    return chosen


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reel", default=ingest.REEL, help="reel binary (default: .build/release/reel)")
    parser.add_argument("--frames-dir", default=os.path.join(ingest.ROOT, "bench-data", "frames-720p"))
    parser.add_argument("--quick", action="store_true",
                        help="fewer rounds: a failing N is not run again, N up to 4 unless --max-n")
    parser.add_argument("--max-n", type=int, default=None, help="largest N tried (default 8; quick 4)")
    parser.add_argument("--burst", type=int, default=8, help="cameras arriving at once in step 4 (default 8)")
    parser.add_argument("--sections", default=",".join(SECTIONS.values()),
                        help="comma-separated subset of server,x264,burst,quality,memory (or 2-6); "
                             "the footage (1) is always made")
    parser.add_argument("--no-confirm", action="store_true", help="a failing N is not run once more")
    args = parser.parse_args()

    ctx = Context()
    ctx.reel, ctx.quick = args.reel, args.quick
    ctx.max_n = args.max_n or (4 if args.quick else 8)
    ctx.confirm = not (args.quick or args.no_confirm)
    ctx.burst = args.burst
    ctx.server, ctx.x264, ctx.bursts, ctx.quality, ctx.notes = {}, {}, {}, {}, []
    ctx.memory_tried = set()
    sections = parse_sections(args.sections)
    if ctx.max_n < 1 or ctx.burst < 1:
        sys.exit("--max-n and --burst must be at least 1")
    if sections & {"server", "burst", "quality", "memory"} and not os.access(args.reel, os.X_OK):
        sys.exit(f"no reel binary at {args.reel} (--reel PATH)")
    for tool in ("ffmpeg", "ffprobe"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found")
    begun = time.perf_counter()

    header(f"[1] footage: scripts/make-footage.sh 600 {args.frames_dir}")
    run_child([os.path.join(ingest.ROOT, "scripts", "make-footage.sh"), "600", args.frames_dir], 900,
              "make-footage.sh")
    ctx.frames, ctx.pattern = ingest.load_frames(args.frames_dir, FRAMES)
    ctx.mean_kb = sum(len(f) for f in ctx.frames) / len(ctx.frames) / 1024
    size = ingest.jpeg_size(ctx.pattern % 1)
    try:
        version = run_child([args.reel, "--version"], 30, "reel --version")[0].strip()
    except (RuntimeError, OSError) as error:
        version = f"? ({error})"
    log(f"  {len(ctx.frames)} JPEG frames {size}, {ctx.mean_kb:.0f} KB mean; reel {args.reel} version {version}; "
        f"{CORES} cores; sections: {', '.join(s for s in SECTIONS.values() if s in sections)}"
        + ("; QUICK" if ctx.quick else ""))

    with tempfile.TemporaryDirectory(prefix="reel-bench-cameras-") as work:
        ctx.work = work
        try:
            ctx.yuv = os.path.join(work, "frames.yuv")
            _, _, wall, _ = run_child(["ffmpeg", "-nostdin", "-v", "error", "-y", "-framerate", str(FPS),
                                       "-i", ctx.pattern, "-frames:v", str(FRAMES),
                                       "-vf", f"scale={WIDTH}:{HEIGHT}", "-pix_fmt", "yuv420p", "-f", "rawvideo",
                                       ctx.yuv], 300, "decoding the frames to yuv420p")
            expected = FRAMES * WIDTH * HEIGHT * 3 // 2
            got = os.path.getsize(ctx.yuv)
            if got != expected:
                sys.exit(f"{ctx.yuv}: {got} bytes, expected {expected} ({FRAMES} frames)")
            log(f"  first {FRAMES} frames decoded to raw yuv420p (limited range) in {wall:.1f} s: "
                f"{got / 1e6:.0f} MB in the temp folder")

            for name, run in (("server", section_server), ("x264", section_x264), ("burst", section_burst),
                              ("quality", section_quality), ("memory", section_memory)):
                if name in sections:
                    started = time.perf_counter()
                    run(ctx)
                    log(f"  ({name}: {time.perf_counter() - started:.0f} s)")
        finally:
            ingest.kill_all_children()
    summary(ctx, begun)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, ingest._terminate)
    signal.signal(signal.SIGHUP, ingest._terminate)
    try:
        main()
    except KeyboardInterrupt:
        ingest.kill_all_children()
        sys.exit(130)
    finally:
        ingest.kill_all_children()
