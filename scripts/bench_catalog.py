#!/usr/bin/env python3
"""Catalog benchmark of `reel serve`: the list, a status and a recording's entry
with 100,000 recordings in the catalog, on SQLite and on PostgreSQL.

Usage: scripts/bench_catalog.py [--reel .build/release/reel] [--entries 100000] [--quick]

Starts the real server (default .build/release/reel) on loopback in a temp folder,
once with the default SQLite catalog and once with `--database-url` on a
PostgreSQL 15 this script starts (Debian's postgresql-15, as Tests/Live does), and
PRINTS figures; it never asserts timing. For each catalog:

1. The server starts on an empty catalog (its migrations make the tables) and
   stops; --entries stored recordings, one a second back from now, are written
   straight into the tables (SQLite: one executemany transaction; PostgreSQL:
   COPY), as years of recordings would have left them; then the server starts again.
2. Request latency over one keep-alive session, p50/p95/p99/max: the first page
   (`GET /video/recordings?limit=50`, 300 times), a recording's status (300 random
   ids), the last page (its cursor is the oldest but one: the deepest keyset seek),
   `/metrics` (counts and sums every stored recording, 100 times).
3. The whole list walked at `limit=500` by its `next` cursors: pages, per-page
   p50/p99 and the total; every id is seen exactly once (checked).
4. A recording's own catalog work, 300 times: `create_video?id=<uuid>` (a lookup
   and an insert) then `finish_video` of that empty recording (an update, then the
   entry removed): latency of each, and the server's CPU (utime + stime) per
   create + finish pair, HTTP included.
Needs Python 3, requests, postgresql-15; Linux (/proc).
"""
import argparse
import csv
import io
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Live"))
import bench_ingest as ingest  # noqa: E402
from postgres import PG_BIN, PostgresServer  # noqa: E402

COLUMNS = ("id", "created_ms", "state", "frames", "duration", "bytes", "name", "location_kind", "location",
           "attempts", "has_thumbnail", "preset")


def rows(count):
    """Stored recordings, newest first, one a second apart, ending now."""
    now_ms = int(time.time() * 1000)
    for index in range(count):
        rid = str(uuid.UUID(int=random.getrandbits(128), version=4))
        name = f"video-{now_ms - index * 1000}.mp4"
        yield (rid, now_ms - index * 1000, "stored", 270, 10.0, random.randint(500_000, 2_000_000), name, "local",
               f"videos/{name}", 1, False, "veryfast")


def fill_sqlite(path, count):
    started = time.monotonic()
    with sqlite3.connect(path) as db:
        db.executemany(f"INSERT INTO recordings ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                       rows(count))
    return time.monotonic() - started


def fill_postgres(postgres, database, count):
    started = time.monotonic()
    text = io.StringIO()
    writer = csv.writer(text)
    for row in rows(count):
        writer.writerow(["true" if value is True else "false" if value is False else value for value in row])
    subprocess.run([str(PG_BIN / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p",
                    str(postgres.port), "-U", "reel", "-d", database, "-c",
                    f"\\copy recordings ({', '.join(COLUMNS)}) FROM STDIN WITH (FORMAT csv)"],
                   input=text.getvalue(), text=True, check=True, capture_output=True)
    postgres.sql("ANALYZE recordings", database)
    return time.monotonic() - started


def timed(session, url, times, check=None):
    latencies = []
    for _ in range(times):
        started = time.perf_counter()
        r = session.get(url() if callable(url) else url, timeout=30)
        latencies.append(time.perf_counter() - started)
        if r.status_code != 200 and not (check and check(r)):
            ingest.problem(f"{r.request.url}: {r.status_code} {r.text[:200]}")
    return latencies


def line(label, latencies):
    p = lambda q: ingest.ms(ingest.percentile(latencies, q))  # noqa: E731
    ingest.log(f"  {label:<44} p50 {p(50):>7.2f} ms  p95 {p(95):>7.2f}  p99 {p(99):>7.2f}  max {ingest.ms(max(latencies)):>7.2f}"
               f"  ({len(latencies)} requests)")


def measure(server, entries, quick):
    base = server.base
    repeat = 100 if quick else 300
    with ingest.new_session() as session:
        first = session.get(base + "/video/recordings?limit=50", timeout=30).json()
        if first["total"] != entries:
            ingest.problem(f"the list says {first['total']} recordings, not {entries}")
        line("first page, limit=50", timed(session, base + "/video/recordings?limit=50", repeat))
        ids = [e["id"] for e in first["recordings"]]

        # The whole list by its cursors.
        seen, pages, cursor, walk = [], [], None, time.perf_counter()
        while True:
            started = time.perf_counter()
            page = session.get(base + "/video/recordings", params={"limit": 500, "before": cursor} if cursor else
                               {"limit": 500}, timeout=30).json()
            pages.append(time.perf_counter() - started)
            seen += [e["id"] for e in page["recordings"]]
            cursor = page["next"]
            if cursor is None:
                break
        walk = time.perf_counter() - walk
        if len(seen) != entries or len(set(seen)) != entries:
            ingest.problem(f"walking the list gave {len(seen)} ids, {len(set(seen))} different, of {entries}")
        line(f"every page, limit=500 ({len(pages)} pages, {walk:.1f} s in all)", pages)
        line("the last page (deepest cursor), limit=50",
             timed(session, f"{base}/video/recordings?limit=50&before={seen[-2]}", repeat))
        sample = random.sample(seen, min(repeat, len(seen)))
        line("a recording's status, random ids",
             timed(session, lambda: f"{base}/video/recordings/{sample.pop()}", len(sample)))
        line("/metrics (stored count and bytes over all)", timed(session, base + "/metrics", 100))

        # A recording's own entry: created, then finished empty (updated, then removed).
        creates, finishes = [], []
        cpu_before = server.cpu()
        for _ in range(repeat):
            rid = str(uuid.uuid4())
            started = time.perf_counter()
            r = session.get(f"{base}/video/create_video?id={rid}", timeout=30)
            creates.append(time.perf_counter() - started)
            if r.status_code != 200:
                ingest.problem(f"create_video: {r.status_code} {r.text[:200]}")
            started = time.perf_counter()
            r = session.get(f"{base}/video/finish_video?id={rid}", timeout=30)
            finishes.append(time.perf_counter() - started)
            if r.status_code != 409:  # no frames: nothing to store, the entry goes
                ingest.problem(f"finish_video of an empty recording: {r.status_code} {r.text[:200]}")
        cpu = server.cpu() - cpu_before
        line("create_video?id= (lookup + insert)", creates)
        line("finish_video, empty (update + delete)", finishes)
        ingest.log(f"  server CPU per create + finish pair: {cpu / repeat * 1000:.2f} ms (HTTP included)")
        del ids


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reel", default=".build/release/reel")
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="fewer requests per figure")
    args = parser.parse_args()
    reel = os.path.abspath(args.reel)
    random.seed(7)
    work = tempfile.mkdtemp(prefix="reel-bench-catalog-")
    postgres = PostgresServer().start()
    try:
        ingest.log(f"reel {reel}; {args.entries} recordings in the catalog; {os.cpu_count()} cores")
        for kind in ("sqlite", "postgres"):
            recordings = os.path.join(work, f"recordings-{kind}")
            extra = ["--recordings-dir", recordings]
            if kind == "postgres":
                url = postgres.new_database()
                database = url.rsplit("/", 1)[1].split("?")[0]
                extra += ["--database-url", url]
            server = ingest.Server(reel, work, f"catalog-{kind}", threads=1, preset="ultrafast", extra_args=extra)
            server.start()
            server.stop(clean=False)
            if kind == "sqlite":
                seconds = fill_sqlite(os.path.join(recordings, "catalog.sqlite"), args.entries)
                size = sum(os.path.getsize(os.path.join(recordings, f)) for f in os.listdir(recordings)
                           if f.startswith("catalog.sqlite"))
                where = f"SQLite file {size / 1e6:.1f} MB"
            else:
                seconds = fill_postgres(postgres, database, args.entries)
                where = "PostgreSQL table " + postgres.sql(
                    "SELECT pg_size_pretty(pg_total_relation_size('recordings'))", database).strip()
            ingest.log(f"\n{kind}: {args.entries} entries written in {seconds:.1f} s ({where}, indexes included)")
            server.start()
            measure(server, args.entries, args.quick)
            # The empty recordings are said as warnings ("ended without frames"): only what else was said counts.
            for text in server.log_text().splitlines():
                if (" warning " in text or " error " in text) and "ended without frames" not in text:
                    ingest.problem(f"{kind}: server log: {text.strip()}")
            server.stop()
    finally:
        postgres.stop()
        ingest.kill_all_children()


if __name__ == "__main__":
    main()
