#!/usr/bin/env python3
"""Cluster benchmark of `reel serve`: three servers sharing a PostgreSQL catalog and one
storage folder, behind Debian's nginx with the shipped configuration (packaging/nginx/reel.conf).

Usage: scripts/bench_cluster.py [--reel .build/release/reel] [--frames-dir bench-data/frames-720p]
                                [--frames 300] [--cameras 3]

Starts a PostgreSQL 15 and nginx as Tests/Live does, three real servers (release build) on
loopback, and PRINTS figures; it never asserts timing. Frames are realistic 720p footage
(scripts/make-footage.sh). Measured:

1. Relay overhead per frame: one recording on server A; --frames uploads, each sent once
   straight to A and once to B, which relays it to A (alternating, so both see the same
   machine): p50/p95/p99 of each, the difference, and B's CPU per relayed frame; then the
   recording's status (no encoder behind it) the same way, which shows the relay's own
   cost. The same uploads through nginx: hashing (no relay) and round-robin (two thirds
   relayed).
2. Frames per second end to end through nginx: --cameras clients at once, each one
   recording of --frames frames sent as fast as the service answers, on one keep-alive
   session each; round-robin against hashing, in one run, with the relays counted.
Needs Python 3, requests, postgresql-15, nginx-light; Linux (/proc).
"""
import argparse
import os
import sys
import tempfile
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Live"))
import bench_ingest as ingest  # noqa: E402
from nginx import Nginx  # noqa: E402
from postgres import PostgresServer  # noqa: E402


def relays(servers):
    total = 0.0
    with ingest.new_session() as session:
        for server in servers:
            for line in session.get(server.base + "/metrics", timeout=30).text.splitlines():
                if line.startswith('reel_relayed_requests_total{result="answered"}'):
                    total += float(line.split()[-1])
    return total


def start_recording(session, target):
    rid = str(uuid.uuid4())
    ingest.api_json(session.get(target.base + "/video/create_video", params={"id": rid}, timeout=30), "create_video")
    return rid


def line(label, latencies):
    p = lambda q: ingest.ms(ingest.percentile(latencies, q))  # noqa: E731
    ingest.log(f"  {label:<42} p50 {p(50):>6.2f} ms  p95 {p(95):>6.2f}  p99 {p(99):>6.2f}  max {ingest.ms(max(latencies)):>7.2f}")


def relay_overhead(servers, frames, count, hashing, round_robin):
    a, b = servers[0], servers[1]
    ingest.log(f"\n1. one frame's upload, {count} frames each way (720p JPEG, mean {sum(map(len, frames)) // len(frames) // 1000} kB)")
    with ingest.new_session() as to_a, ingest.new_session() as to_b:
        rid = start_recording(to_a, a)
        direct, relayed = [], []
        b_cpu = b.cpu()
        for i in range(count):
            for session, target, into in ((to_a, a, direct), (to_b, b, relayed)):
                started = time.perf_counter()
                ingest.upload(session, target, rid, frames[i % len(frames)])
                into.append(time.perf_counter() - started)
        b_cpu = b.cpu() - b_cpu
        # A status (no encoder behind it): what a relay itself costs.
        status_direct, status_relayed = [], []
        for _ in range(count):
            for session, target, into in ((to_a, a, status_direct), (to_b, b, status_relayed)):
                started = time.perf_counter()
                r = session.get(f"{target.base}/video/recordings/{rid}", timeout=30)
                into.append(time.perf_counter() - started)
                if r.status_code != 200:
                    ingest.problem(f"status of {rid} from {target.base}: {r.status_code} {r.text[:200]}")
        ingest.finish(to_a, a, rid)
    line("straight to the recording's server", direct)
    line("to another server, relayed", relayed)
    ingest.log(f"  relay overhead: p50 +{ingest.ms(ingest.percentile(relayed, 50) - ingest.percentile(direct, 50)):.2f} ms,"
               f" p99 +{ingest.ms(ingest.percentile(relayed, 99) - ingest.percentile(direct, 99)):.2f} ms;"
               f" the relaying server's CPU {b_cpu / count * 1000:.2f} ms per frame")
    line("a status, straight", status_direct)
    line("a status, relayed", status_relayed)
    for label, balancer in (("through nginx, hashing (no relay)", hashing), ("through nginx, round-robin", round_robin)):
        before = relays(servers)
        with ingest.new_session() as session:
            rid = start_recording(session, balancer)
            through = []
            for i in range(count):
                started = time.perf_counter()
                ingest.upload(session, balancer, rid, frames[i % len(frames)])
                through.append(time.perf_counter() - started)
            ingest.finish(session, balancer, rid)
        line(f"{label}", through)
        ingest.log(f"  {'':<42} {relays(servers) - before:.0f} of {count + 1} requests relayed")


def camera(balancer, frames, count, offset, results, index):
    try:
        with ingest.new_session() as session:
            rid = start_recording(session, balancer)
            for i in range(count):
                body = ingest.upload(session, balancer, rid, frames[(offset + i) % len(frames)])
                if body.get("frames") != i + 1:
                    ingest.problem(f"upload {i + 1} of {rid} answered frames={body.get('frames')}")
            done = ingest.finish(session, balancer, rid)
            if done.get("frames") != count:
                ingest.problem(f"finish of {rid}: {done.get('frames')} frames, expected {count}")
        results[index] = count
    except Exception as error:  # noqa: BLE001 - said, and the figure left out
        ingest.problem(f"camera {index}: {error}")


def throughput(servers, frames, count, cameras, label, balancer):
    before, cpu = relays(servers), [s.cpu() for s in servers]
    results = [0] * cameras
    threads = [threading.Thread(target=camera, args=(balancer, frames, count, i * 97, results, i)) for i in range(cameras)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    used = sum(s.cpu() for s in servers) - sum(cpu)
    fps = sum(results) / seconds
    ingest.log(f"  {label:<12} {fps:6.1f} frames/s in all ({fps / cameras:.1f} a camera), {seconds:5.1f} s; servers' CPU "
               f"{used / max(1, sum(results)) * 1000:.1f} ms a frame; {relays(servers) - before:.0f} requests relayed")
    return fps


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reel", default=".build/release/reel")
    parser.add_argument("--frames-dir", default=os.path.join(ingest.ROOT, "bench-data", "frames-720p"))
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--cameras", type=int, default=3)
    args = parser.parse_args()
    reel = os.path.abspath(args.reel)
    frames, _ = ingest.load_frames(args.frames_dir, 100)
    work = tempfile.mkdtemp(prefix="reel-bench-cluster-")
    postgres = PostgresServer().start()
    servers, balancers = [], []
    try:
        url = postgres.new_database()
        storage = os.path.join(work, "videos")  # one folder every server stores into, as a shared mount would be
        for index in range(3):
            server = ingest.Server(reel, work, f"node-{index}", threads=1, extra_args=[
                "--database-url", url, "--instance-id", f"node-{index}",
                "--recordings-dir", os.path.join(work, f"recordings-{index}")])
            server.storage = storage
            servers.append(server.start())
        hashing = Nginx([s.port for s in servers], hashing=True)
        round_robin = Nginx([s.port for s in servers], hashing=False)
        balancers = [hashing, round_robin]
        ingest.log(f"reel {reel}; 3 servers (x264 {ingest.PRESET}, 1 thread each), PostgreSQL 15, nginx; "
                   f"{os.cpu_count()} cores")
        relay_overhead(servers, frames, args.frames, hashing, round_robin)
        ingest.log(f"\n2. {args.cameras} cameras at once through nginx, {args.frames} frames each, as fast as answered")
        first = throughput(servers, frames, args.frames, args.cameras, "hashing", hashing)
        second = throughput(servers, frames, args.frames, args.cameras, "round-robin", round_robin)
        third = throughput(servers, frames, args.frames, args.cameras, "hashing", hashing)
        ingest.log(f"  round-robin / hashing: {second / ((first + third) / 2):.2f} (hashing measured before and after)")
        for server in servers:
            server.check(server.name)
    finally:
        for balancer in balancers:
            balancer.stop()
        for server in servers:
            server.stop()
        postgres.stop()
        ingest.kill_all_children()


if __name__ == "__main__":
    main()
