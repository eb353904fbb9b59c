"""`reel serve` with Supabase Storage: the project's stand-in on loopback behaves
as the real Storage API does (errors inside HTTP 400, TUS, signed URLs), with
faults injected to play storage refusing uploads and storage being down."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from conftest import REPO, assert_error, decode_errors, ffprobe, finish, finish_ok, poll, record

STANDIN = REPO / "Tests" / "SupabaseStandIn" / "standin.py"
KEY = "live-test-service-key"


class StandIn:
    def __init__(self, tmp_path: Path):
        self.log = open(tmp_path / "standin.log", "w+")
        self.proc = subprocess.Popen(
            [sys.executable, str(STANDIN), "--port", "0", "--key", KEY,
             "--bucket", "videos:public", "--bucket", "private-videos:private"],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        match = re.fullmatch(r"listening (http://127\.0\.0\.1:\d+)\n", line)
        assert match, f"stand-in did not start: {line!r}"
        self.url = match.group(1)

    def control(self, method: str, path: str, json=None):
        r = requests.request(method, f"{self.url}/_control/{path}", json=json, timeout=10)
        assert r.status_code < 300, r.text
        return r.json() if r.content and r.headers.get("Content-Type", "").startswith("application/json") else r.content

    def object(self, key: str) -> bytes:
        return self.control("GET", f"object/{key}")

    def objects(self) -> dict:
        return self.control("GET", "objects")

    def requests(self) -> list:
        return self.control("GET", "requests")

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture
def standin(tmp_path):
    s = StandIn(tmp_path)
    yield s
    s.stop()


def supabase_server(server, standin, bucket="videos", **options):
    return server(supabase_url=standin.url, supabase_key=options.pop("key", KEY), bucket_name=bucket,
                  retry_max_seconds=2, **options)


def recording_status(srv, rid: str) -> dict:
    return requests.get(srv.url(f"/video/recordings/{rid}"), timeout=10).json()


def check_playable(path: Path, frames: int):
    info = ffprobe(path)
    assert info["codec"] == "h264" and info["frames"] == frames, info
    assert decode_errors(path) == ""


def test_public_bucket_answers_a_public_url_that_plays(server, standin, tmp_path):
    srv = supabase_server(server, standin)
    rid = record(srv, 27)
    answer = finish_ok(srv, rid)
    url = answer["video url"]
    assert re.fullmatch(re.escape(standin.url) + r"/storage/v1/object/public/videos/video-\d+\.mp4", url), url
    name = url.rsplit("/", 1)[1]
    r = requests.get(url, timeout=30)
    assert r.status_code == 200
    assert r.content == standin.object(f"videos/{name}"), "the URL serves the stored bytes"
    assert len(r.content) == answer["bytes"]
    (tmp_path / "v.mp4").write_bytes(r.content)
    check_playable(tmp_path / "v.mp4", 27)
    upload_request = next(q for q in standin.requests() if q["method"] == "POST" and "/object/videos/" in q["path"])
    assert upload_request["headers"]["content-type"] == "video/mp4"
    assert upload_request["headers"]["x-upsert"] == "false"
    assert srv.spool_files() == [], "the local copy is gone once stored"
    status = recording_status(srv, rid)
    assert status["state"] == "stored" and status["video url"] == url


def test_private_bucket_answers_a_signed_url(server, standin, tmp_path):
    srv = supabase_server(server, standin, bucket="private-videos")
    rid = record(srv, 10)
    url = finish_ok(srv, rid)["video url"]
    assert url.startswith(f"{standin.url}/storage/v1/object/sign/private-videos/video-") and "token=" in url, url
    r = requests.get(url, timeout=30)
    assert r.status_code == 200
    (tmp_path / "v.mp4").write_bytes(r.content)
    check_playable(tmp_path / "v.mp4", 10)
    public = requests.get(url.split("?")[0].replace("/object/sign/", "/object/public/"), timeout=10)
    assert public.status_code != 200


def test_a_private_video_url_is_signed_again_before_it_expires(server, standin, tmp_path):
    srv = supabase_server(server, standin, bucket="private-videos", signed_url_seconds=4)
    rid = record(srv, 5)
    first = finish_ok(srv, rid)["video url"]
    assert recording_status(srv, rid)["video url"] == first, "fresh: kept"
    time.sleep(2.5)  # past half its life: the next look signs again
    renewed = recording_status(srv, rid)["video url"]
    assert renewed != first
    listed = requests.get(srv.url("/video/recordings"), timeout=10).json()["recordings"][0]["video url"]
    assert listed == renewed
    time.sleep(2.0)  # the first URL has expired, the renewed one plays
    assert requests.get(first, timeout=10).status_code != 200
    r = requests.get(renewed, timeout=30)
    assert r.status_code == 200
    (tmp_path / "v.mp4").write_bytes(r.content)
    check_playable(tmp_path / "v.mp4", 5)


def test_a_large_recording_goes_up_resumably(server, standin, tmp_path):
    # A 1 MB threshold and near-lossless frames make a file of several 6 MiB chunks.
    srv = supabase_server(server, standin, resumable_bytes=1_000_000, crf=2, preset="ultrafast")
    rid = record(srv, 120)
    answer = finish_ok(srv, rid)
    name = answer["video url"].rsplit("/", 1)[1]
    stored = standin.object(f"videos/{name}")
    assert len(stored) == answer["bytes"] > 6 * 1024 * 1024, answer
    patches = [q for q in standin.requests() if q["method"] == "PATCH"]
    assert len(patches) >= 2 and all(q["status"] == 204 for q in patches), patches
    (tmp_path / "v.mp4").write_bytes(stored)
    check_playable(tmp_path / "v.mp4", 120)


def test_storage_down_keeps_the_recording_pending_until_it_is_back(server, standin, tmp_path):
    srv = supabase_server(server, standin)
    rid = record(srv, 15)
    standin.control("POST", "faults", {"down": True})
    body = assert_error(finish(srv, rid), 500)
    assert body["pending"] is True and body["id"] == rid, body
    status = recording_status(srv, rid)
    assert status["state"] == "pending" and status["last error"], status
    pending = [p for p in srv.spool_files() if p.suffix == ".mp4"]
    assert len(pending) == 1, srv.spool_files()
    kept = pending[0].read_bytes()

    standin.control("POST", "faults", {"down": False})
    stored = poll(lambda: (s := recording_status(srv, rid))["state"] == "stored" and s,
                  timeout=30, interval=0.3, what="the pending recording stored")
    name = stored["video url"].rsplit("/", 1)[1]
    assert standin.object(f"videos/{name}") == kept, "the same bytes as the pending copy"
    assert poll(lambda: srv.spool_files() == [], timeout=5, what="the local copy removed")


def test_a_pending_recording_is_uploaded_after_a_restart(server, standin, tmp_path):
    srv = supabase_server(server, standin)
    rid = record(srv, 12)
    standin.control("POST", "faults", {"down": True})
    assert_error(finish(srv, rid), 500)
    kept = next(p for p in srv.spool_files() if p.suffix == ".mp4").read_bytes()
    assert srv.kill() != 0
    standin.control("POST", "faults", {"down": False})

    again = supabase_server(server, standin, storage_dir=srv.storage_dir, spool_dir=srv.spool_dir, workdir=srv.workdir)
    objects = poll(lambda: standin.objects() or None, timeout=30, interval=0.3, what="the upload after the restart")
    (key, info), = objects.items()
    assert standin.object(key) == kept and info["size"] == len(kept)
    assert poll(lambda: again.spool_files() == [], timeout=5, what="the local copy removed")
    assert recording_status(again, rid)["state"] == "stored"


def test_storage_refusing_the_upload_is_told_and_kept(server, standin):
    srv = supabase_server(server, standin)
    standin.control("POST", "config", {"max_object_bytes": 1000})  # the bucket's size limit, lowered after start
    rid = record(srv, 5)
    body = assert_error(finish(srv, rid), 500)
    assert body["pending"] is True and "larger than the bucket allows" in body["message"], body
    assert any(p.suffix == ".mp4" for p in srv.spool_files()), "nothing is deleted before it is stored"


def start_failure(server, standin, **options) -> str:
    """The last line `reel serve` printed when it refused to start."""
    with pytest.raises(RuntimeError) as failed:
        supabase_server(server, standin, **options)
    return str(failed.value).strip().splitlines()[-1]


def test_a_wrong_key_stops_the_start_with_the_reason(server, standin):
    assert start_failure(server, standin, key="not-the-key") == (
        f"error: Supabase Storage at {standin.url}, bucket videos refused SUPABASE_KEY (Unauthorized: invalid "
        "signature); check the key: the service role key can read buckets")


def test_a_missing_bucket_stops_the_start_with_the_reason(server, standin):
    assert start_failure(server, standin, bucket="no-such-bucket") == (
        f"error: Supabase Storage at {standin.url}, bucket no-such-bucket: the bucket does not exist, or the key may "
        "not see it; create it or fix BUCKET_NAME")


def test_storage_down_at_start_is_a_warning_and_recordings_wait_for_it(server, standin, tmp_path):
    standin.control("POST", "faults", {"down": True})
    srv = supabase_server(server, standin)
    assert "Supabase Storage cannot be reached now; recordings are kept and uploaded when it answers" in srv.log()
    rid = record(srv, 5)
    body = assert_error(finish(srv, rid), 500)
    assert body["pending"] is True, body
    standin.control("POST", "faults", {"down": False})
    status = poll(lambda: (s := recording_status(srv, rid))["state"] == "stored" and s, 60, what="the upload after storage came back")
    (tmp_path / "v.mp4").write_bytes(standin.object(f"videos/{status['video url'].rsplit('/', 1)[1]}"))
    check_playable(tmp_path / "v.mp4", 5)


def test_transient_failures_are_retried_within_finish(server, standin, tmp_path):
    srv = supabase_server(server, standin)
    rid = record(srv, 8)
    standin.control("POST", "faults", [{"fail": 2, "status": 503, "method": "POST", "match": "/storage/v1/object/videos"}])
    answer = finish_ok(srv, rid)
    name = answer["video url"].rsplit("/", 1)[1]
    (tmp_path / "v.mp4").write_bytes(standin.object(f"videos/{name}"))
    check_playable(tmp_path / "v.mp4", 8)
    uploads = [q for q in standin.requests() if q["method"] == "POST" and q["path"].startswith("/storage/v1/object/videos")]
    assert [q["status"] for q in uploads] == [503, 503, 200]
