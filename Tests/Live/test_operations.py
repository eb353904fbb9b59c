"""What an operator watches: the metrics dashboards expect (reel's own gauges and
the standard process_* ones) and the reasons /readyz gives."""

from __future__ import annotations

import os
import time

import pytest
import requests

from conftest import HTTP_TIMEOUT, finish, finish_ok, metric_samples, poll, record
from test_supabase import KEY, standin  # noqa: F401 (standin is a fixture)



def samples(srv) -> dict[str, float]:
    """/metrics as `name{label="value"}` → value."""
    return {name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels) + "}" if labels else ""): value
            for (name, labels), value in metric_samples(srv).items()}


@pytest.mark.timeout(120)
def test_metrics_say_what_is_stored_the_disk_and_the_process(server):
    before = time.time()
    srv = server()
    answers = [finish_ok(srv, record(srv)) for _ in range(2)]
    m = samples(srv)
    assert m["reel_stored_recordings"] == 2
    assert m["reel_stored_bytes"] == sum(a["bytes"] for a in answers)
    vfs = os.statvfs(srv.spool_dir)
    free = vfs.f_bavail * vfs.f_frsize
    assert abs(m["reel_disk_free_bytes"] - free) < max(64 << 20, free * 0.05), (m["reel_disk_free_bytes"], free)
    assert m["reel_recordings_deleted_total{reason=\"request\"}"] == 0
    assert m["reel_frames_refused_total{reason=\"insufficient_storage\"}"] == 0

    pid = srv.proc.pid
    with open(f"/proc/{pid}/status") as status:
        rss = int(next(line for line in status if line.startswith("VmRSS:")).split()[1]) * 1024
    assert 0.7 * rss < m["process_resident_memory_bytes"] < 1.3 * rss
    assert m["process_virtual_memory_bytes"] >= m["process_resident_memory_bytes"]
    assert abs(m["process_open_fds"] - len(os.listdir(f"/proc/{pid}/fd"))) <= 8
    assert m["process_max_fds"] >= m["process_open_fds"]
    assert before - 2 <= m["process_start_time_seconds"] <= time.time() + 1
    assert m["process_cpu_seconds_total"] > 0

    r = requests.delete(srv.url(f"/video/recordings/{answers[0]['id']}"), timeout=HTTP_TIMEOUT)
    assert r.status_code == 200
    m = samples(srv)
    assert m["reel_stored_recordings"] == 1 and m["reel_stored_bytes"] == answers[1]["bytes"]
    assert m["reel_recordings_deleted_total{reason=\"request\"}"] == 1


def readiness(srv) -> tuple[int, list[str]]:
    r = requests.get(srv.url("/readyz"), timeout=HTTP_TIMEOUT)
    return r.status_code, r.json().get("reasons", [])


@pytest.mark.timeout(180)
def test_readyz_says_since_when_storage_is_unreachable_and_when_too_many_wait(server, standin):
    srv = server(supabase_url=standin.url, supabase_key=KEY, bucket_name="videos", retry_max_seconds=2,
                 max_pending=0)
    assert readiness(srv) == (200, [])
    standin.control("POST", "faults", {"down": True})
    rid = record(srv)
    assert finish(srv, rid).status_code == 500  # kept, pending
    status, reasons = readiness(srv)
    assert status == 503
    assert any(r.startswith("storage unreachable since 20") and r.endswith("Z") for r in reasons), reasons
    assert "recordings waiting for upload: 1, over --max-pending 0" in reasons, reasons
    standin.control("POST", "faults", {"down": False})
    poll(lambda: readiness(srv) == (200, []), 60, what="ready again once the upload went through")
    m = samples(srv)
    assert m["reel_stored_recordings"] == 1 and m["reel_uploads_pending"] == 0
