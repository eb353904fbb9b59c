"""Many `reel serve` as one service: three servers sharing a real PostgreSQL 15 catalog and the
Supabase stand-in as storage, behind Debian's nginx with the shipped configuration — once
round-robin (every request may land anywhere; what another server records is relayed there),
once hashing (each recording's requests go to its server) — and the same suite on the SQLite
default with one server.

Proves: the original client's exact requests and `reel capture` through nginx make complete
recordings (every frame answered 200 is in the MP4, counted by ffprobe); two recordings at once
stay apart; every server lists every recording with its thumbnail; kill -9 of a server answers
503 for its recording and leaves the others alone, and its restart recovers the recording;
SIGTERM drains a server (its recording stored, the server marked gone).
"""

from __future__ import annotations

import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from conftest import (FRAMES, HTTP_TIMEOUT, REEL_BIN, ReelServer, assert_error, download, ffprobe, finish_ok,
                      mean_abs_diff, metric_samples, poll, recording_status, top_level_boxes, upload, upload_ok, wait_stored)
from nginx import Nginx
from test_supabase import KEY, StandIn

pytestmark = pytest.mark.timeout(300)

SETUPS = ["sqlite-one-server", "postgres-round-robin", "postgres-hashing"]


@dataclass
class Cluster:
    setup: str
    nodes: list[ReelServer]
    balancer: Nginx
    start_node: object = field(repr=False)
    database: str | None = None

    def url(self, path: str) -> str:
        return self.balancer.url(path)

    def headers(self) -> dict[str, str]:
        return {}

    @property
    def hashing(self) -> bool:
        return self.setup != "postgres-round-robin"

    def relays(self) -> float:
        """Requests the servers passed to another, all together."""
        return sum(metric_samples(node)[("reel_relayed_requests_total", (("result", "answered"),))]
                   for node in self.nodes if node.running)

    def restart(self, index: int) -> ReelServer:
        self.nodes[index] = self.start_node(index, self.nodes[index].port)
        return self.nodes[index]


@pytest.fixture(params=SETUPS)
def cluster(request, server, tmp_path):
    setup = request.param
    standin = None
    database = None
    if setup.startswith("postgres"):
        database = request.getfixturevalue("postgres").new_database()
        standin = StandIn(tmp_path)

    def start_node(index: int, port: int | None = None) -> ReelServer:
        folders = dict(spool_dir=tmp_path / f"spool-{index}", storage_dir=tmp_path / f"videos-{index}",
                       recordings_dir=tmp_path / f"recordings-{index}", workdir=tmp_path / f"cwd-{index}")
        if database is None:
            return server(port=port, **folders)
        return server(port=port, database_url=database, instance_id=f"node-{index}", instance_timeout=3,
                      supabase_url=standin.url, supabase_key=KEY, bucket_name="videos", retry_max_seconds=2, **folders)

    nodes = [start_node(i) for i in range(1 if database is None else 3)]
    balancer = Nginx([node.port for node in nodes], hashing=setup != "postgres-round-robin")
    yield Cluster(setup, nodes, balancer, start_node, database)
    balancer.stop()
    if standin:
        standin.stop()


def three_servers(cluster: Cluster) -> None:
    if len(cluster.nodes) < 3:
        pytest.skip("needs several servers")


def frames_in(url: str, dest: Path) -> int:
    return ffprobe(download(url, dest))["frames"]


def test_the_original_clients_exact_requests_make_a_complete_recording(cluster, tmp_path):
    base = cluster.balancer.base
    # As the original client sends them: no id anywhere, multipart frames, "video url" read back.
    r = requests.get(base + "/video/create_video", timeout=HTTP_TIMEOUT)
    assert r.status_code == 200 and r.json()["status"] == "success", r.text
    for i in range(30):
        r = requests.post(base + "/video/video_upload", files={"image": ("image.jpg", FRAMES[i % 3], "image/jpeg")},
                          timeout=HTTP_TIMEOUT)
        assert r.status_code == 200 and r.json()["status"] == "success", r.text
    r = requests.get(base + "/video/finish_video", timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    assert frames_in(r.json()["video url"], tmp_path / "v.mp4") == 30

    landed = set(cluster.balancer.upstreams("POST", "/video/video_upload"))
    if cluster.hashing:
        # One client address, one server: nothing relayed.
        assert len(landed) == 1 and cluster.relays() == 0, (landed, cluster.relays())
    else:
        assert len(landed) == 3, landed
        assert cluster.relays() > 0


def test_reel_capture_through_the_balancer_makes_a_complete_recording(cluster, tmp_path):
    result = subprocess.run([str(REEL_BIN), "capture", "--source", "pattern", "--size", "640x360", "--fps", "30",
                             "--frames", "40", "--server", cluster.balancer.base],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "captured 40, sent 40, dropped 0, broken 0" in result.stderr, result.stderr
    assert frames_in(result.stdout.strip(), tmp_path / "v.mp4") == 40
    if cluster.hashing:
        # capture chooses its recording's id: its first request goes where the rest do.
        assert len(set(cluster.balancer.upstreams("POST", "/video/video_upload"))) == 1
        assert cluster.relays() == 0, (cluster.balancer.folder / "access.log").read_text()[:3000]


def send(cluster: Cluster, rid: str, count: int, frame: bytes, errors: list) -> None:
    try:
        for _ in range(count):
            upload_ok(cluster, frame, rid, raw=True)
    except BaseException as error:  # noqa: BLE001 - reported by the test's thread
        errors.append(error)


def test_two_recordings_at_once_stay_apart_and_every_server_lists_both_with_thumbnails(cluster, tmp_path):
    ids = [str(uuid.uuid4()), str(uuid.uuid4())]
    for rid in ids:
        r = requests.get(cluster.url("/video/create_video"), params={"id": rid}, timeout=HTTP_TIMEOUT)
        assert r.status_code == 200 and r.json()["id"] == rid, r.text
    errors: list = []
    threads = [threading.Thread(target=send, args=(cluster, ids[0], 25, FRAMES[0], errors)),
               threading.Thread(target=send, args=(cluster, ids[1], 35, FRAMES[2], errors))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    answers = [finish_ok(cluster, rid) for rid in ids]
    assert [a["frames"] for a in answers] == [25, 35]
    videos = [download(a["video url"], tmp_path / f"{rid}.mp4") for a, rid in zip(answers, ids)]
    assert [ffprobe(v)["frames"] for v in videos] == [25, 35]
    # Each holds its own frames only: every frame looks like what was sent to it, not like the other's.
    sent = [tiny_frames(FRAMES[0])[0], tiny_frames(FRAMES[2])[0]]
    for own, video in enumerate(videos):
        for frame in tiny_frames(video.read_bytes()):
            assert mean_abs_diff(frame, sent[own]) < mean_abs_diff(frame, sent[1 - own])

    for node in cluster.nodes:
        r = requests.get(node.url("/video/recordings?limit=500"), timeout=HTTP_TIMEOUT)
        listed = {entry["id"]: entry for entry in r.json()["recordings"]}
        assert set(ids) <= set(listed), (node.port, listed.keys())
        for rid in ids:
            assert listed[rid]["state"] == "stored"
            thumbnail = requests.get(listed[rid]["thumbnail url"], timeout=HTTP_TIMEOUT)
            assert thumbnail.status_code == 200 and thumbnail.content[:2] == b"\xff\xd8", thumbnail.status_code


def tiny_frames(media: bytes) -> list[bytes]:
    """Every frame of a JPEG or an MP4, 64x36 in grey."""
    out = subprocess.run(["ffmpeg", "-v", "error", "-i", "pipe:0", "-f", "rawvideo", "-pix_fmt", "gray", "-s", "64x36",
                          "pipe:1"], input=media, capture_output=True, check=True, timeout=60).stdout
    return [out[i:i + 64 * 36] for i in range(0, len(out), 64 * 36)]


def started_on(node: ReelServer, frames: int) -> str:
    """A recording created on `node` itself, with `frames` frames."""
    rid = str(uuid.uuid4())
    r = requests.get(node.url("/video/create_video"), params={"id": rid}, headers=node.headers(), timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    for i in range(frames):
        upload_ok(node, FRAMES[i % 3], rid, raw=True)
    return rid


def test_a_live_view_asked_of_another_server_is_relayed_as_it_records(cluster, tmp_path):
    three_servers(cluster)
    rid = started_on(cluster.nodes[0], 10)
    view = requests.get(cluster.nodes[1].url(f"/video/recordings/{rid}/live.mp4"), stream=True, timeout=HTTP_TIMEOUT)
    assert view.status_code == 200 and view.headers["Content-Type"] == "video/mp4", view.status_code
    chunks = view.iter_content(chunk_size=None)
    first = next(chunks)
    assert first[4:8] == b"ftyp", first[:16]
    for i in range(10, 80):
        upload_ok(cluster.nodes[0], FRAMES[i % 3], rid, raw=True)
    # The spool's bytes too, as an HLS player asks for them: HEAD for the length, then a range.
    spool = cluster.nodes[1].url(f"/video/recordings/{rid}/spool.mp4")
    head = requests.head(spool, timeout=HTTP_TIMEOUT)
    assert head.status_code == 200 and int(head.headers["Content-Length"]) > 1000, head.headers
    part = requests.get(spool, headers={"Range": "bytes=0-99"}, timeout=HTTP_TIMEOUT)
    assert part.status_code == 206 and part.content == first[:100] if len(first) >= 100 else part.status_code == 206
    assert part.headers["Content-Range"].startswith("bytes 0-99/"), part.headers
    finish_ok(cluster, rid)
    # The relayed stream ends when the recording does, every fragment in it.
    (tmp_path / "live.mp4").write_bytes(first + b"".join(chunks))
    assert {"ftyp", "moov", "moof", "mdat"} <= set(top_level_boxes(tmp_path / "live.mp4"))
    assert ffprobe(tmp_path / "live.mp4")["frames"] >= 54  # from the latest keyframe on


def test_the_token_goes_with_a_relayed_request(postgres, server):
    url = postgres.new_database()
    a = server(database_url=url, instance_id="cams-a", token="s3cret")
    b = server(database_url=url, instance_id="cams-b", token="s3cret", storage_dir=a.storage_dir)
    rid = started_on(a, 3)
    assert upload_ok(b, FRAMES[0], rid, raw=True) == 4
    # A browser's request: the answer allows its origin once, not once per server.
    r = requests.get(b.url(f"/video/recordings/{rid}"), headers={**b.headers(), "Origin": "http://example.test"},
                     timeout=HTTP_TIMEOUT)
    assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == "*", r.headers
    playlist = requests.get(b.url(f"/video/recordings/{rid}/live.m3u8"), params={"token": "s3cret"}, timeout=HTTP_TIMEOUT)
    assert playlist.status_code == 200 and "spool.mp4?token=s3cret" in playlist.text, playlist.text
    # Without it, the server asked refuses at once; nothing is relayed.
    r = requests.post(b.url("/video/video_upload"), params={"id": rid}, data=FRAMES[0],
                      headers={"Content-Type": "image/jpeg"}, timeout=HTTP_TIMEOUT)
    assert_error(r, 401)
    assert metric_samples(b)[("reel_relayed_requests_total", (("result", "answered"),))] == 3


def test_relayed_live_views_hold_back_neither_other_relays_nor_the_stop(postgres, server):
    url = postgres.new_database()
    a = server(database_url=url, instance_id="cams-a")
    b = server(database_url=url, instance_id="cams-b", storage_dir=a.storage_dir)
    rid = started_on(a, 5)
    # More live views than a client keeps connections to one server by default (8).
    views = [requests.get(b.url(f"/video/recordings/{rid}/live.mp4"), stream=True, timeout=HTTP_TIMEOUT) for _ in range(12)]
    assert [v.status_code for v in views] == [200] * 12
    for i in range(5, 10):
        assert upload_ok(b, FRAMES[i % 3], rid, raw=True) == i + 1
    stopping = time.monotonic()
    assert b.terminate(timeout=30) == 0, b.log()
    assert time.monotonic() - stopping < 10, "relayed live views end when their server stops"
    for view in views:
        view.close()
    assert finish_ok(a, rid)["frames"] == 10


def test_a_frame_over_the_limit_is_refused_where_it_arrives(postgres, server):
    url = postgres.new_database()
    a = server(database_url=url, instance_id="cams-a", max_frame_bytes=20_000)
    b = server(database_url=url, instance_id="cams-b", max_frame_bytes=20_000, storage_dir=a.storage_dir)
    rid = started_on(a, 0)
    assert len(FRAMES[0]) > 64 * 1024 + 20_000, "the frame must be over the limit with room for a form"
    body = assert_error(upload(b, FRAMES[0], rid, raw=True), 413)
    assert body["message"] == "the frame is larger than the limit of 20000 bytes", body
    assert metric_samples(b)[("reel_relayed_requests_total", (("result", "answered"),))] == 0


def test_a_killed_server_s_recording_answers_503_the_others_go_on_and_its_restart_recovers_it(cluster, tmp_path):
    three_servers(cluster)
    lost = started_on(cluster.nodes[0], 20)
    other = started_on(cluster.nodes[1], 20)
    assert cluster.nodes[0].kill() != 0

    answer = upload(cluster, FRAMES[0], lost, raw=True)
    body = assert_error(answer, 503)
    assert "recording " + lost + " is recorded by the server node-0 " in body["message"], body
    assert int(answer.headers["Retry-After"]) >= 1
    # The others are untouched: every frame of theirs taken, through whichever server.
    for i in range(20, 40):
        assert upload_ok(cluster, FRAMES[i % 3], other, raw=True) == i + 1
    assert frames_in(finish_ok(cluster, other)["video url"], tmp_path / "other.mp4") == 40

    cluster.restart(0)
    status = wait_stored(cluster, lost, timeout=90)
    assert status["frames"] == 20
    assert frames_in(status["video url"], tmp_path / "lost.mp4") == 20
    for node in cluster.nodes:
        assert recording_status(node, lost)["state"] == "stored"


def test_sigterm_drains_a_server_its_recording_stored_and_the_service_goes_on(cluster, postgres, tmp_path):
    three_servers(cluster)
    rid = started_on(cluster.nodes[2], 15)
    assert cluster.nodes[2].terminate() == 0
    status = recording_status(cluster, rid)
    assert status["state"] == "stored" and status["frames"] == 15, status
    assert frames_in(status["video url"], tmp_path / "drained.mp4") == 15
    database = cluster.database.rsplit("/", 1)[1].split("?")[0]
    assert postgres.sql("SELECT state FROM instances WHERE id = 'node-2'", database).strip() == "gone"
    # New recordings go to the servers that are left.
    for _ in range(3):
        rid = str(uuid.uuid4())
        r = requests.get(cluster.url("/video/create_video"), params={"id": rid}, timeout=HTTP_TIMEOUT)
        assert r.status_code == 200, r.text
        upload_ok(cluster, FRAMES[0], rid, raw=True)
        assert finish_ok(cluster, rid)["frames"] == 1
