#!/usr/bin/env python3
"""Upload benchmark: reel's Supabase Storage client against the project's
stand-in on loopback. PRINTS figures; never asserts timing.

Usage: scripts/bench_upload.py [--rounds 3]

1. Upload throughput (MB/s) of `reel store` for a 5 MB and a 60 MB file, the
   standard upload (one POST) against TUS (6 MiB PATCH chunks), with curl
   POSTing the same file to the same stand-in as the reference (the stand-in's
   own ceiling: it is Python). Median of the rounds.
2. The time `finish_video` takes with Supabase configured, for 20 s of video
   (540 frames of bench-data/frames-720p sent as fast as the server takes them).
"""
import argparse
import glob
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REEL = os.path.join(ROOT, ".build", "release", "reel")
STANDIN = os.path.join(ROOT, "Tests", "SupabaseStandIn", "standin.py")
KEY = "bench-key"


def start_standin():
    proc = subprocess.Popen([sys.executable, STANDIN, "--port", "0", "--key", KEY, "--bucket", "videos:public",
                             "--max-object-bytes", str(500 * 1024 * 1024)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    url = re.fullmatch(r"listening (\S+)\n", proc.stdout.readline()).group(1)
    return proc, url


def store(url, path, resumable_bytes):
    env = {k: v for k, v in os.environ.items() if not k.startswith("REEL_")}
    env.update(SUPABASE_URL=url, SUPABASE_KEY=KEY, BUCKET_NAME="videos")
    out = subprocess.run([REEL, "store", path, "--resumable-bytes", str(resumable_bytes)], env=env,
                         capture_output=True, text=True, check=True).stdout
    return float(re.search(r"in ([\d.]+) s", out).group(1))


def curl_post(url, path, name):
    start = time.perf_counter()
    subprocess.run(["curl", "-s", "-o", "/dev/null", "-X", "POST", "--data-binary", f"@{path}",
                    "-H", f"Authorization: Bearer {KEY}", "-H", f"apikey: {KEY}", "-H", "Content-Type: video/mp4",
                    "-H", "Expect:", f"{url}/storage/v1/object/videos/{name}"], check=True)
    return time.perf_counter() - start


def finish_latency(url, frames_dir, work):
    from bench_ingest import free_port  # same folder
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("REEL_")}
    env.update(SUPABASE_URL=url, SUPABASE_KEY=KEY, BUCKET_NAME="videos")
    server = subprocess.Popen([REEL, "serve", "--host", "127.0.0.1", "--port", str(port),
                               "--spool-dir", os.path.join(work, "spool")], cwd=work, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if requests.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.05)
        files = sorted(glob.glob(os.path.join(frames_dir, "*.jpg")))
        frames = [open(f, "rb").read() for f in files]
        session = requests.Session()
        rid = session.get(base + "/video/create_video").json()["id"]
        for i in range(540):
            session.post(base + f"/video/video_upload?id={rid}", data=frames[i % len(frames)],
                         headers={"Content-Type": "image/jpeg"}).raise_for_status()
        start = time.perf_counter()
        answer = session.get(base + f"/video/finish_video?id={rid}").json()
        return time.perf_counter() - start, answer
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--frames-dir", default=os.path.join(ROOT, "bench-data", "frames-720p"))
    args = parser.parse_args()
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

    standin, url = start_standin()
    try:
        with tempfile.TemporaryDirectory(prefix="reel-bench-upload-") as work:
            print(f"reel store -> Supabase stand-in on loopback ({url}), {os.cpu_count()} cores, "
                  f"median of {args.rounds} rounds")
            for megabytes in (5, 60):
                path = os.path.join(work, f"{megabytes}MB.mp4")
                with open(path, "wb") as f:
                    f.write(os.urandom(megabytes * 1_000_000))
                size = os.path.getsize(path) / 1e6
                runs = {"standard": [], "TUS": [], "curl POST": []}
                for r in range(args.rounds):
                    runs["standard"].append(store(url, path, 10**12))
                    runs["TUS"].append(store(url, path, 1))
                    runs["curl POST"].append(curl_post(url, path, f"curl-{megabytes}-{r}.mp4"))
                for label, seconds in runs.items():
                    s = statistics.median(seconds)
                    print(f"  {megabytes:>2} MB {label:<10} {size / s:7.1f} MB/s  ({s * 1000:7.1f} ms)")
            if glob.glob(os.path.join(args.frames_dir, "*.jpg")):
                seconds, answer = finish_latency(url, args.frames_dir, work)
                print(f"finish_video with Supabase, 540 frames (20 s), {answer.get('bytes')} bytes: "
                      f"{seconds * 1000:.0f} ms ({answer.get('status')})")
            else:
                print(f"no frames in {args.frames_dir}: run scripts/make-footage.sh 600 {args.frames_dir}")
    finally:
        standin.send_signal(signal.SIGINT)
        standin.wait(10)


if __name__ == "__main__":
    main()
