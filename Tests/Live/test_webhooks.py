"""Webhooks: `reel serve --webhook-url URL [--webhook-secret S]` POSTs a JSON
event to URL for each recording stored, failed or deleted.

A real receiver (http.server in a thread on 127.0.0.1) takes the POSTs; it can
be down (its port bound but not listening: connections are refused) or answer
503, so the tests can watch the outbox (the catalog's `webhook_events`) hold events, the same event sent again, in order, and across a restart of reel.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import shutil
import statistics
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from catalog import CatalogFile
from conftest import HTTP_TIMEOUT, REEL_BIN, finish_ok, metric_samples, poll, record, recording_status, stored
from test_supabase import standin, supabase_server  # noqa: F401 (standin is a fixture)

SECRET = "webhook-test-secret-5f2c"
ISO_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
COMMON_KEYS = {"event", "id", "created", "time", "frames", "duration", "bytes", "sequence"}
KEYS = {
    "recording.stored": COMMON_KEYS | {"video url"},
    "recording.failed": COMMON_KEYS | {"last error"},
    "recording.deleted": COMMON_KEYS | {"rule"},
}
# The outbox waits 1 s after a failed attempt, doubling: an event held back by a
# short outage goes out within this once the receiver is back.
DELIVERY_TIMEOUT = 30.0


# --- the receiver ----------------------------------------------------------------------


@dataclass
class Delivery:
    """One POST the receiver took, and how it answered."""

    arrived: float  # time.monotonic()
    wall: float  # time.time()
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    raw: bytes
    answered: int

    @property
    def accepted(self) -> bool:
        return 200 <= self.answered < 300

    @property
    def event(self) -> dict:
        return json.loads(self.raw)


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1. Its port is bound from the start (port 0:
    the kernel picks it), so its URL is known and no one else takes it; until
    `listen()`, connections to it are refused, as to a receiver that is down."""

    status: int = 200  # what it answers while it listens
    deliveries: list[Delivery] = field(default_factory=list)

    def __post_init__(self):
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                with receiver.lock:
                    status = receiver.status
                    receiver.deliveries.append(Delivery(
                        arrived=time.monotonic(), wall=time.time(), method=self.command, path=self.path,
                        headers={k.lower(): v for k, v in self.headers.items()}, raw=raw, answered=status))
                answer = b'{"ok":true}' if 200 <= status < 300 else b'{"error":"down for maintenance"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):  # quiet
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
        self.httpd.daemon_threads = True
        self.httpd.server_bind()
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks/reel"
        self.thread: threading.Thread | None = None

    def listen(self) -> "Receiver":
        self.httpd.server_activate()
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        return self

    def answer(self, status: int) -> None:
        with self.lock:
            self.status = status

    def close(self) -> None:
        if self.thread is not None:
            self.httpd.shutdown()
            self.thread.join(timeout=10)
        self.httpd.server_close()

    # What it received.
    def all(self) -> list[Delivery]:
        with self.lock:
            return list(self.deliveries)

    def accepted(self) -> list[Delivery]:
        return [d for d in self.all() if d.accepted]

    def events(self) -> list[dict]:
        """The events it took (answered 2xx), in the order they arrived."""
        return [d.event for d in self.accepted()]

    def wait_events(self, count: int, timeout: float = DELIVERY_TIMEOUT, what: str | None = None) -> list[dict]:
        poll(lambda: len(self.accepted()) >= count, timeout, interval=0.05,
             what=what or f"{count} webhook events delivered (have {len(self.accepted())})")
        return self.events()

    def wait_event(self, kind: str, rid: str, timeout: float = DELIVERY_TIMEOUT) -> tuple[dict, Delivery]:
        def found():
            return next(((d.event, d) for d in self.accepted() if d.event["event"] == kind and d.event["id"] == rid),
                        None)
        return poll(found, timeout, interval=0.02, what=f"{kind} of {rid} delivered")


@pytest.fixture
def receivers():
    """Factory: `receivers(listening=True)` makes a Receiver; all are closed at teardown.
    Ask for it before `server`, so the servers are killed before their receiver goes."""
    made: list[Receiver] = []

    def make(listening: bool = True, status: int = 200) -> Receiver:
        receiver = Receiver(status=status)
        made.append(receiver)
        return receiver.listen() if listening else receiver

    yield make
    for receiver in made:
        receiver.close()


# --- helpers ---------------------------------------------------------------------------


def delete_ok(srv, rid: str) -> None:
    r = requests.delete(srv.url(f"/video/recordings/{rid}"), headers=srv.headers(), timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "success", "id": rid}


def webhooks_total(srv, result: str) -> float | None:
    return metric_samples(srv).get(("reel_webhooks_total", (("result", result),)))


def webhooks_pending(srv) -> float | None:
    return metric_samples(srv).get(("reel_webhooks_pending", ()))


def signature(raw: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def parse_iso(text: str) -> float:
    assert ISO_MS.fullmatch(text), text
    return time.mktime(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone + int(text[20:23]) / 1000


def check_body(delivery: Delivery, kind: str) -> dict:
    """The event is a JSON object with exactly the keys of its kind, written with sorted keys."""
    pairs = json.loads(delivery.raw, object_pairs_hook=lambda items: items)
    keys = [k for k, _ in pairs]
    assert keys == sorted(keys), f"keys not sorted: {keys}"
    event = dict(pairs)
    assert set(event) == KEYS[kind], f"{kind}: keys {sorted(event)}, expected {sorted(KEYS[kind])}"
    assert event["event"] == kind, event
    assert isinstance(event["sequence"], int) and event["sequence"] >= 1, event
    assert isinstance(event["frames"], int) and isinstance(event["bytes"], int), event
    assert isinstance(event["duration"], (int, float)), event
    assert ISO_MS.fullmatch(event["created"]) and ISO_MS.fullmatch(event["time"]), event
    return event


_VERSION: list[str] = []


def reel_version() -> str:
    if not _VERSION:
        result = subprocess.run([str(REEL_BIN), "--version"], capture_output=True, text=True, timeout=30)
        assert result.returncode == 0 and result.stdout.strip(), result
        _VERSION.append(result.stdout.strip())
    return _VERSION[0]


def check_post(delivery: Delivery, receiver: Receiver) -> None:
    assert delivery.method == "POST" and delivery.path == "/hooks/reel", (delivery.method, delivery.path)
    assert delivery.headers.get("content-type", "").split(";")[0].strip() == "application/json", delivery.headers
    assert delivery.headers.get("user-agent") == f"reel/{reel_version()}", delivery.headers


def check_in_order(events: list[dict]) -> None:
    """Sequences strictly increase with no number used twice; a recording's stored comes before its deleted."""
    sequences = [e["sequence"] for e in events]
    assert sequences == sorted(set(sequences)), f"sequences out of order or repeated: {sequences}"
    seen_stored = set()
    for e in events:
        if e["event"] == "recording.stored":
            seen_stored.add(e["id"])
        if e["event"] == "recording.deleted":
            assert e["id"] in seen_stored, f"deleted before stored: {e}"


def outbox(recordings_dir: Path) -> list[tuple[int, str]]:
    """The events waiting in the catalog: (sequence, body without it)."""
    return CatalogFile(recordings_dir).webhook_events()


def without_sequence(raw: bytes) -> dict:
    event = json.loads(raw)
    del event["sequence"]
    return event


# --- 1. what an event says, signed or not ------------------------------------------------


@pytest.mark.timeout(120)
def test_stored_and_deleted_events_say_what_happened_signed(receivers, server, tmp_path):
    receiver = receivers()
    srv = server(webhook_url=receiver.url, webhook_secret=SECRET, recordings_dir=tmp_path / "recordings")
    before_finish = time.time()
    rid, answer = stored(srv, 5)
    after_finish = time.time()
    status = recording_status(srv, rid)

    event, delivery = receiver.wait_event("recording.stored", rid)
    check_post(delivery, receiver)
    assert check_body(delivery, "recording.stored") == event
    assert event["id"] == rid
    assert event["sequence"] == 1, "the first event of a new server"
    assert event["frames"] == answer["frames"] == 5
    assert event["bytes"] == answer["bytes"] > 0
    assert event["duration"] == pytest.approx(answer["duration"], abs=0.001)
    assert event["created"] == status["created"]
    assert event["video url"] == answer["video url"] == status["video url"], (event, answer)
    assert event["video url"] == f"{srv.base}/videos/{answer['video url'].rsplit('/', 1)[1]}"
    assert before_finish - 1 <= parse_iso(event["time"]) <= after_finish + 1, (event["time"], before_finish)
    video = requests.get(event["video url"], timeout=HTTP_TIMEOUT)
    assert video.status_code == 200 and len(video.content) == event["bytes"]

    # Signed: HMAC-SHA256 of the raw body under the secret; another key does not verify.
    header = delivery.headers.get("x-reel-signature")
    assert header is not None, delivery.headers
    assert re.fullmatch(r"sha256=[0-9a-f]{64}", header), header
    assert hmac.compare_digest(header, signature(delivery.raw, SECRET))
    assert not hmac.compare_digest(header, signature(delivery.raw, SECRET + "x"))
    assert not hmac.compare_digest(header, signature(delivery.raw, "wrong-secret"))
    assert not hmac.compare_digest(header, signature(delivery.raw + b" ", SECRET)), "the body is what is signed"

    before_delete = time.time()
    delete_ok(srv, rid)
    after_delete = time.time()
    deleted, delivery = receiver.wait_event("recording.deleted", rid)
    check_post(delivery, receiver)
    assert check_body(delivery, "recording.deleted") == deleted
    assert deleted["rule"] == "request"
    assert deleted["sequence"] == 2
    assert (deleted["id"], deleted["created"], deleted["frames"], deleted["bytes"]) == (
        rid, event["created"], event["frames"], event["bytes"])
    assert deleted["duration"] == event["duration"]
    assert before_delete - 1 <= parse_iso(deleted["time"]) <= after_delete + 1
    assert hmac.compare_digest(delivery.headers["x-reel-signature"], signature(delivery.raw, SECRET))
    assert not hmac.compare_digest(delivery.headers["x-reel-signature"], signature(delivery.raw, "wrong-secret"))

    assert [d.event["sequence"] for d in receiver.all()] == [1, 2], "each sent once"
    poll(lambda: webhooks_total(srv, "delivered") == 2, 5, what="reel_webhooks_total{result=delivered} 2")
    assert webhooks_total(srv, "failed") == 0
    poll(lambda: webhooks_pending(srv) == 0, 5, what="reel_webhooks_pending 0")
    poll(lambda: outbox(tmp_path / "recordings") == [], 5, what="an empty outbox")
    assert SECRET not in srv.log(), "the secret is never logged"


@pytest.mark.timeout(120)
def test_without_a_secret_there_is_no_signature(receivers, server):
    receiver = receivers()
    srv = server(webhook_url=receiver.url)
    rid, _ = stored(srv)
    delete_ok(srv, rid)
    receiver.wait_events(2)
    for delivery in receiver.all():
        check_post(delivery, receiver)
        assert "x-reel-signature" not in delivery.headers, delivery.headers
    assert [(e["event"], e["id"]) for e in receiver.events()] == [("recording.stored", rid), ("recording.deleted", rid)]


# --- 2. a receiver that is down for a while ------------------------------------------------


@pytest.mark.timeout(180)
def test_events_wait_while_the_receiver_is_down_and_all_arrive_in_order(receivers, server, tmp_path):
    receiver = receivers(listening=False)  # connections refused
    recordings_dir = tmp_path / "recordings"
    srv = server(webhook_url=receiver.url, webhook_secret=SECRET, recordings_dir=recordings_dir)
    first, _ = stored(srv)
    delete_ok(srv, first)
    second, _ = stored(srv)
    poll(lambda: (webhooks_total(srv, "failed") or 0) >= 2, 15, what="two failed attempts while refused")
    assert len(outbox(recordings_dir)) == 3, outbox(recordings_dir)
    assert receiver.all() == []

    # Up, but answering 503: refused again; the same event is what comes again.
    receiver.answer(503)
    receiver.listen()
    third, _ = stored(srv)
    poll(lambda: receiver.all(), 15, what="an attempt answered 503")
    assert len(outbox(recordings_dir)) == 4, outbox(recordings_dir)
    delete_ok(srv, third)
    receiver.answer(200)

    events = receiver.wait_events(5)
    assert [(e["event"], e["id"]) for e in events] == [
        ("recording.stored", first), ("recording.deleted", first), ("recording.stored", second),
        ("recording.stored", third), ("recording.deleted", third)], events
    assert [e["sequence"] for e in events] == [1, 2, 3, 4, 5]
    check_in_order(events)
    refused = [d for d in receiver.all() if not d.accepted]
    assert refused and all(d.answered == 503 for d in refused)
    accepted = {d.event["sequence"]: d.raw for d in receiver.accepted()}
    for d in refused:
        assert d.raw == accepted[d.event["sequence"]], "a refused event is sent again byte for byte"
        assert d.event["sequence"] == 1, "nothing after the oldest event goes out before it is taken"
    for d in receiver.all():
        assert hmac.compare_digest(d.headers["x-reel-signature"], signature(d.raw, SECRET))
    assert len(receiver.accepted()) == 5, "each event taken once"

    poll(lambda: webhooks_pending(srv) == 0, 5, what="reel_webhooks_pending back to 0")
    assert webhooks_total(srv, "failed") >= 3  # two refused connections and at least one 503
    assert webhooks_total(srv, "delivered") == 5
    assert outbox(recordings_dir) == []
    assert "webhook not delivered; it is sent again" in srv.log()


@pytest.mark.timeout(120)
def test_pending_counts_an_event_kept_while_the_delivery_waits(receivers, server, tmp_path):
    """`reel_webhooks_pending` is the number of events in the outbox when it is read,
    also while the delivery waits to send the oldest again (a wait of up to a minute)."""
    receiver = receivers(listening=False)
    recordings_dir = tmp_path / "recordings"
    srv = server(webhook_url=receiver.url, recordings_dir=recordings_dir)
    stored(srv)
    # Three refusals: the next attempt is 4 s away.
    poll(lambda: (webhooks_total(srv, "failed") or 0) >= 3, 15, what="three failed attempts")
    assert webhooks_pending(srv) == 1
    stored(srv)
    assert len(outbox(recordings_dir)) == 2
    waited = time.monotonic()
    try:
        poll(lambda: webhooks_pending(srv) == 2, 1.5, what="reel_webhooks_pending 2")
    except AssertionError:
        pending = webhooks_pending(srv)
        raise AssertionError(f"reel_webhooks_pending says {pending} while 2 events wait in the outbox "
                             f"({time.monotonic() - waited:.1f} s after the second was kept)") from None
    receiver.listen()
    receiver.wait_events(2)
    poll(lambda: webhooks_pending(srv) == 0, 5, what="reel_webhooks_pending 0")


# --- 3. across a restart of reel --------------------------------------------------------------


@pytest.mark.timeout(180)
def test_events_left_at_shutdown_are_sent_after_the_next_start(receivers, server, tmp_path):
    receiver = receivers(listening=False)
    recordings_dir = tmp_path / "recordings"
    srv = server(webhook_url=receiver.url, recordings_dir=recordings_dir)
    ids = [stored(srv)[0] for _ in range(3)]
    kept = dict(outbox(recordings_dir))
    assert list(kept) == [1, 2, 3], kept
    assert [json.loads(b)["id"] for b in kept.values()] == ids
    # Once an attempt has been made after the three were kept, the gauge counts them.
    tried = webhooks_total(srv, "failed") or 0
    poll(lambda: (webhooks_total(srv, "failed") or 0) > tried, 15, what="another failed attempt")
    assert webhooks_pending(srv) == 3

    stopping = time.monotonic()
    assert srv.terminate(timeout=30) == 0, srv.log()
    assert time.monotonic() - stopping < 10, "a webhook waiting to be sent again does not hold up the stop"
    assert dict(outbox(recordings_dir)) == kept, "the outbox is left as it was"
    assert receiver.all() == []

    receiver.listen()
    again = server(webhook_url=receiver.url, recordings_dir=recordings_dir, storage_dir=srv.storage_dir,
                   spool_dir=srv.spool_dir, workdir=srv.workdir)
    events = receiver.wait_events(3)
    assert [(e["event"], e["id"], e["sequence"]) for e in events] == [
        ("recording.stored", rid, n) for n, rid in enumerate(ids, 1)], events
    assert [without_sequence(d.raw) for d in receiver.accepted()] == [json.loads(b) for b in kept.values()], \
        "the events as they were kept"

    # The numbers go on from there: none is used twice.
    fourth, _ = stored(again)
    event, _ = receiver.wait_event("recording.stored", fourth)
    assert event["sequence"] == 4, event
    check_in_order(receiver.events())
    poll(lambda: outbox(recordings_dir) == [], 5, what="an empty outbox")
    poll(lambda: webhooks_pending(again) == 0, 5, what="reel_webhooks_pending 0")


@pytest.mark.timeout(180)
def test_sequence_numbers_are_not_used_again_after_a_restart(receivers, server, tmp_path):
    """Sequence numbers go on over the server's life, even when every event was
    delivered before the stop (an empty outbox)."""
    receiver = receivers()
    recordings_dir = tmp_path / "recordings"
    srv = server(webhook_url=receiver.url, recordings_dir=recordings_dir)
    first, _ = stored(srv)
    delete_ok(srv, first)
    second, _ = stored(srv)
    assert [e["sequence"] for e in receiver.wait_events(3)] == [1, 2, 3]
    poll(lambda: outbox(recordings_dir) == [], 5, what="an empty outbox")
    assert srv.terminate() == 0

    again = server(webhook_url=receiver.url, recordings_dir=recordings_dir, storage_dir=srv.storage_dir,
                   spool_dir=srv.spool_dir, workdir=srv.workdir)
    third, _ = stored(again)
    event, _ = receiver.wait_event("recording.stored", third)
    sequences = [e["sequence"] for e in receiver.events()]
    assert event["sequence"] == 4, f"sequence numbers after the restart: {sequences} (1 to 3 were used before it)"


# --- 4. a recording that failed ------------------------------------------------------------


@pytest.mark.timeout(180)
def test_a_recording_that_cannot_be_recovered_sends_failed(receivers, server, tmp_path):
    """kill -9 in the middle of a recording, and its spool damaged while the server
    is down: the next start cannot recover it, marks it failed and says so."""
    receiver = receivers()
    recordings_dir = tmp_path / "recordings"
    srv = server(recordings_dir=recordings_dir)
    rid = record(srv, 5)
    assert srv.kill() != 0
    spool = sorted(p for p in srv.spool_dir.iterdir() if p.name.startswith(rid))
    assert spool, list(srv.spool_dir.iterdir())
    for path in spool:
        if path.is_dir():
            shutil.rmtree(path)  # the journal: gone
        else:
            path.write_bytes(b"not a video " * 100)

    again = server(webhook_url=receiver.url, webhook_secret=SECRET, recordings_dir=recordings_dir,
                   storage_dir=srv.storage_dir, spool_dir=srv.spool_dir, workdir=srv.workdir)
    status = recording_status(again, rid)
    assert status["state"] == "failed", status
    event, delivery = receiver.wait_event("recording.failed", rid)
    check_post(delivery, receiver)
    assert check_body(delivery, "recording.failed") == event
    assert event["last error"] and event["last error"] == status["last error"], (event, status)
    assert event["created"] == status["created"]
    assert (event["frames"], event["bytes"]) == (status["frames"], status["bytes"])
    assert event["sequence"] == 1
    assert hmac.compare_digest(delivery.headers["x-reel-signature"], signature(delivery.raw, SECRET))

    delete_ok(again, rid)
    deleted, delivery = receiver.wait_event("recording.deleted", rid)
    assert check_body(delivery, "recording.deleted") == deleted
    assert deleted["rule"] == "request" and deleted["sequence"] == 2
    assert [e["event"] for e in receiver.events()] == ["recording.failed", "recording.deleted"]


# --- retention's deletions say which rule -----------------------------------------------------


@pytest.mark.timeout(180)
def test_retention_by_age_and_by_size_sends_deleted_with_its_rule(receivers, server, tmp_path):
    receiver = receivers()
    recordings_dir = tmp_path / "recordings"
    folders = dict(recordings_dir=recordings_dir, storage_dir=tmp_path / "videos", spool_dir=tmp_path / "spool",
                   workdir=tmp_path / "cwd")
    srv = server(webhook_url=receiver.url, **folders)
    old, _ = stored(srv)
    big, big_answer = stored(srv)
    newest, newest_answer = stored(srv)
    receiver.wait_events(3)
    assert srv.terminate() == 0

    created = CatalogFile(recordings_dir).set_created(old, time.time() - 3 * 86400)
    srv = server(webhook_url=receiver.url, keep_days=2, **folders)
    deleted, delivery = receiver.wait_event("recording.deleted", old, timeout=30)
    assert check_body(delivery, "recording.deleted") == deleted
    assert deleted["rule"] == "age", deleted
    assert deleted["created"] == created
    assert srv.terminate() == 0

    # Two left; room for the newest only: the older goes by size.
    srv = server(webhook_url=receiver.url, keep_bytes=newest_answer["bytes"] + big_answer["bytes"] // 2, **folders)
    deleted, delivery = receiver.wait_event("recording.deleted", big, timeout=30)
    assert check_body(delivery, "recording.deleted") == deleted
    assert deleted["rule"] == "size" and deleted["bytes"] == big_answer["bytes"], deleted
    assert recording_status(srv, newest)["state"] == "stored"
    assert [(e["event"], e["id"]) for e in receiver.events()] == [
        ("recording.stored", old), ("recording.stored", big), ("recording.stored", newest),
        ("recording.deleted", old), ("recording.deleted", big)]


# --- 5. Supabase Storage ---------------------------------------------------------------------


@pytest.mark.timeout(180)
def test_with_supabase_the_stored_event_has_the_storage_url(receivers, server, standin):
    receiver = receivers()
    srv = supabase_server(server, standin, webhook_url=receiver.url, webhook_secret=SECRET)
    rid, answer = stored(srv, 4)
    event, delivery = receiver.wait_event("recording.stored", rid)
    assert check_body(delivery, "recording.stored") == event
    assert event["video url"] == answer["video url"], (event, answer)
    assert re.fullmatch(re.escape(standin.url) + r"/storage/v1/object/public/videos/video-\d+\.mp4",
                        event["video url"]), event
    name = event["video url"].rsplit("/", 1)[1]
    assert len(standin.object(f"videos/{name}")) == event["bytes"] == answer["bytes"]
    assert hmac.compare_digest(delivery.headers["x-reel-signature"], signature(delivery.raw, SECRET))

    delete_ok(srv, rid)
    deleted, delivery = receiver.wait_event("recording.deleted", rid)
    assert check_body(delivery, "recording.deleted") == deleted and deleted["rule"] == "request"
    assert f"videos/{name}" not in standin.objects()




# --- latency --------------------------------------------------------------------------------


@pytest.mark.timeout(300)
def test_delivery_latency(receivers, server, capsys):
    """From finish_video's answer to the receiver having recording.stored, over 20 recordings."""
    receiver = receivers()
    srv = server(webhook_url=receiver.url, webhook_secret=SECRET)
    latencies = []
    for _ in range(20):
        rid = record(srv, 3)
        finish_ok(srv, rid)
        answered = time.monotonic()
        _, delivery = receiver.wait_event("recording.stored", rid, timeout=10)
        latencies.append(delivery.arrived - answered)
    ms = sorted(x * 1000 for x in latencies)
    p50 = statistics.median(ms)
    p95 = ms[min(len(ms) - 1, round(0.95 * len(ms)) - 1)]
    with capsys.disabled():
        print(f"\nwebhook delivery after finish_video's answer, {len(ms)} recordings: p50 {p50:.0f} ms, "
              f"p95 {p95:.0f} ms, min {ms[0]:.0f} ms, max {ms[-1]:.0f} ms")
    assert ms[-1] < 3000, ms


@pytest.mark.timeout(120)
@pytest.mark.parametrize("catalog", ["sqlite", "postgres"])
def test_an_earlier_versions_outbox_is_imported_sent_and_its_numbers_go_on(receivers, server, tmp_path, request, catalog):
    """An earlier version kept events as files (`<recordings-dir>/outbox/<sequence>.json`, and the
    last number given in `sequence`): they are imported into the catalog once, sent as they were, and
    the next event is numbered after them; the files move to `json-backup/outbox`."""
    receiver = receivers()
    recordings_dir = tmp_path / "recordings"
    folder = recordings_dir / "outbox"
    folder.mkdir(parents=True)
    old = {"bytes": 1000, "created": "2026-11-01T10:00:00.000Z", "duration": 1.0, "event": "recording.stored",
           "frames": 27, "id": "0b6b1f8e-5c1e-4a4e-9f0e-2d7c8b9a1e3f", "sequence": 41, "time": "2026-11-01T10:00:02.000Z",
           "video url": "http://cams.example.com/videos/video-1.mp4"}
    (folder / "000000000041.json").write_text(json.dumps(old))
    (folder / "sequence").write_text("42")
    options = {"database_url": request.getfixturevalue("postgres").new_database()} if catalog == "postgres" else {}
    srv = server(webhook_url=receiver.url, recordings_dir=recordings_dir, **options)
    assert receiver.wait_events(1) == [old]
    assert not folder.exists() and (recordings_dir / "json-backup" / "outbox" / "000000000041.json").is_file()
    rid, _ = stored(srv)
    event, _ = receiver.wait_event("recording.stored", rid)
    assert event["sequence"] == 43, event


@pytest.mark.timeout(180)
def test_servers_sharing_a_catalog_send_each_event_once_in_order_and_take_over_from_a_lost_one(receivers, server,
                                                                                               postgres):
    """Servers sharing a PostgreSQL catalog share its events: one at a time delivers them, each once,
    in the order they happened whichever server made them; when the one delivering is killed,
    another takes over after --instance-timeout and what was waiting arrives."""
    receiver = receivers(listening=False)
    url = postgres.new_database()
    database = url.rsplit("/", 1)[1].split("?")[0]
    a = server(webhook_url=receiver.url, database_url=url, instance_id="cams-a", instance_timeout=2)
    b = server(webhook_url=receiver.url, database_url=url, instance_id="cams-b", instance_timeout=2,
               storage_dir=a.storage_dir)
    ids = [stored(a)[0], stored(b)[0], stored(a)[0]]
    poll(lambda: (webhooks_total(a, "failed") or 0) + (webhooks_total(b, "failed") or 0) >= 1, 15,
         what="a failed attempt while the receiver is down")
    holder = postgres.sql("SELECT holder FROM webhook_delivery", database).strip()
    assert holder in ("cams-a", "cams-b"), holder
    lost, other = (a, b) if holder == "cams-a" else (b, a)
    assert lost.kill() != 0
    receiver.listen()
    events = receiver.wait_events(3, timeout=60, what="the events, from the server that is left")
    assert [(e["event"], e["id"], e["sequence"]) for e in events] == [
        ("recording.stored", rid, n) for n, rid in enumerate(ids, 1)], events
    assert len(receiver.accepted()) == 3, "each taken once"
    assert webhooks_total(other, "delivered") == 3
    assert postgres.sql("SELECT holder FROM webhook_delivery", database).strip() == other.args[other.args.index(
        "--instance-id") + 1]
