#!/usr/bin/env python3
"""Retention benchmark: how long `reel serve --keep-days 1` takes to delete
1,000 stored recordings older than a day, on local storage and on the project's
Supabase Storage stand-in (loopback). PRINTS figures; never asserts timing.

Usage: scripts/bench_retention.py [--count 1000] [--reel PATH] [--only local|supabase]

For each storage:
1. One real recording is made through a server (create, 3 frames, finish),
   then that server stops.
2. Its catalog entry (<recordings-dir>/<id>.json), thumbnail and video are
   cloned to COUNT stored recordings with new ids and names and a `created` two
   days ago: hard links in the storage folder, or object uploads to the
   stand-in (its ordinary Storage API, 8 at a time).
3. `reel serve --keep-days 1` starts on those folders; the time from its start
   until the list's total is 0 is measured (the list is polled every 50 ms; the
   slowest of those list answers is printed too), then every video, entry and
   thumbnail is checked gone and /metrics must count COUNT deletions.

The binary: --reel, else $REEL_BIN, else .build/release/reel, else .build/debug/reel.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STANDIN = os.path.join(ROOT, "Tests", "SupabaseStandIn", "standin.py")
FIXTURES = os.path.join(ROOT, "fixtures")
KEY = "bench-key"
BUCKET = "videos"

os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"


def default_reel():
    if os.environ.get("REEL_BIN"):
        return os.environ["REEL_BIN"]
    release = os.path.join(ROOT, ".build", "release", "reel")
    return release if os.path.exists(release) else os.path.join(ROOT, ".build", "debug", "reel")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % int((t % 1) * 1000)


class StandIn:
    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, STANDIN, "--port", "0", "--key", KEY, "--bucket", f"{BUCKET}:public"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.url = re.fullmatch(r"listening (\S+)\n", self.proc.stdout.readline()).group(1)

    def objects(self):
        return requests.get(f"{self.url}/_control/objects", timeout=30).json()

    def put(self, session, name, data):
        r = session.post(f"{self.url}/storage/v1/object/{BUCKET}/{name}", data=data, timeout=30,
                         headers={"Authorization": f"Bearer {KEY}", "apikey": KEY, "Content-Type": "video/mp4",
                                  "x-upsert": "false"})
        r.raise_for_status()

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Server:
    def __init__(self, reel, work, standin, *options):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        args = [reel, "serve", "--host", "127.0.0.1", "--port", str(self.port), "--min-free", "64M",
                "--storage-dir", os.path.join(work, "videos"), "--spool-dir", os.path.join(work, "spool"),
                "--recordings-dir", os.path.join(work, "recordings"), *options]
        if standin:
            args += ["--supabase-url", standin.url, "--supabase-key", KEY, "--bucket-name", BUCKET]
        env = {k: v for k, v in os.environ.items() if not k.startswith("REEL_")}
        self.log = open(os.path.join(work, "server.log"), "ab")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(args, cwd=work, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = self.started + 60
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"reel serve exited with {self.proc.returncode}; see {work}/server.log")
            try:
                if requests.get(self.base + "/healthz", timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("reel serve not healthy after 60 s")
            time.sleep(0.01)
        self.healthy = time.monotonic()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)
        self.log.close()


def make_one(server):
    """One real stored recording; returns its id."""
    frames = [open(os.path.join(FIXTURES, f"frame-1280x720-420-{i}.jpg"), "rb").read() for i in (1, 2, 3)]
    rid = requests.get(server.base + "/video/create_video", timeout=30).json()["id"]
    for frame in frames:
        requests.post(server.base + "/video/video_upload", params={"id": rid}, data=frame,
                      headers={"Content-Type": "image/jpeg"}, timeout=30).raise_for_status()
    answer = requests.get(server.base + "/video/finish_video", params={"id": rid}, timeout=60).json()
    assert answer["status"] == "success", answer
    return rid


def clone(work, rid, count, standin):
    """COUNT stored recordings like `rid` (itself included), all created two days ago."""
    recordings = os.path.join(work, "recordings")
    original = json.load(open(os.path.join(recordings, f"{rid}.json")))
    name = original["name"]
    first = int(re.fullmatch(r"video-(\d+)\.mp4", name).group(1))
    thumbnail = os.path.join(recordings, f"{rid}.jpg")
    video = os.path.join(work, "videos", name)
    data = requests.get(f"{standin.url}/_control/object/{BUCKET}/{name}", timeout=30).content if standin else None
    old = time.time() - 2 * 86400
    names = []
    for i in range(count):
        entry = json.loads(json.dumps(original))
        if i:
            entry["id"] = str(uuid.uuid4())
            entry["name"] = f"video-{first + i}.mp4"
            entry["location"] = json.loads(json.dumps(original["location"]).replace(name, entry["name"]))
            os.link(thumbnail, os.path.join(recordings, f"{entry['id']}.jpg"))
            if not standin:
                os.link(video, os.path.join(work, "videos", entry["name"]))
            names.append(entry["name"])
        entry["created"] = iso(old - i * 0.001)
        with open(os.path.join(recordings, f"{entry['id']}.json"), "w") as f:
            json.dump(entry, f, indent=2, sort_keys=True)
    if standin:
        with ThreadPoolExecutor(8) as pool:
            sessions = [requests.Session() for _ in range(8)]
            list(pool.map(lambda job: standin.put(sessions[job[0] % 8], job[1], data), enumerate(names)))
        assert len(standin.objects()) == count


def deleted_by_age(server):
    text = requests.get(server.base + "/metrics", timeout=30).text
    match = re.search(r'^reel_recordings_deleted_total\{reason="age"\} (\S+)$', text, re.M)
    return float(match.group(1)) if match else None


def run(kind, reel, count, keep):
    work = tempfile.mkdtemp(prefix=f"bench-retention-{kind}-")
    standin = StandIn() if kind == "supabase" else None
    try:
        server = Server(reel, work, standin)
        rid = make_one(server)
        server.stop()
        began = time.monotonic()
        clone(work, rid, count, standin)
        setup = time.monotonic() - began
        bytes_each = json.load(open(os.path.join(work, "recordings", f"{rid}.json")))["bytes"]

        server = Server(reel, work, standin, "--keep-days", "1")
        slowest, polls = 0.0, 0
        while True:
            asked = time.monotonic()
            total = requests.get(server.base + "/video/recordings", params={"limit": 1}, timeout=60).json()["total"]
            slowest, polls = max(slowest, time.monotonic() - asked), polls + 1
            if total == 0:
                break
            if time.monotonic() - server.started > 600:
                raise SystemExit(f"{kind}: {total} recordings still listed after 600 s")
            time.sleep(0.05)
        done = time.monotonic()
        counted = deleted_by_age(server)
        server.stop()

        left = [n for n in os.listdir(os.path.join(work, "recordings")) if not n.startswith(".")]
        stored = standin.objects() if standin else [n for n in os.listdir(os.path.join(work, "videos"))
                                                    if n.endswith(".mp4")]
        problems = []
        if counted != count:
            problems.append(f"metrics count {counted} deletions by age, not {count}")
        if left:
            problems.append(f"{len(left)} files left in the recordings folder")
        if stored:
            problems.append(f"{len(stored)} videos left in storage")
        to_healthy = server.healthy - server.started
        deleting = done - server.started
        print(f"{kind:8}  {count} recordings of {bytes_each} bytes; cloned in {setup:.1f} s")
        print(f"          start -> healthy      {to_healthy * 1000:8.0f} ms")
        print(f"          start -> all deleted  {deleting * 1000:8.0f} ms   "
              f"({count / deleting:.0f} recordings/s, {deleting / count * 1000:.2f} ms each)")
        print(f"          slowest list answer while deleting: {slowest * 1000:.0f} ms ({polls} polls)")
        for problem in problems:
            print(f"          PROBLEM: {problem}")
        return problems
    finally:
        if standin:
            standin.stop()
        if keep:
            print(f"          kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--reel", default=default_reel())
    parser.add_argument("--only", choices=["local", "supabase"])
    parser.add_argument("--keep", action="store_true", help="keep the work folders (and their server.log)")
    args = parser.parse_args()
    print(f"reel: {args.reel}")
    problems = []
    for kind in [args.only] if args.only else ["local", "supabase"]:
        problems += run(kind, args.reel, args.count, args.keep)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
