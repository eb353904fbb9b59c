"""The catalog of recordings in a real database: SQLite in `<recordings-dir>/catalog.sqlite`
by default, a real PostgreSQL 15 (started by the test run) with `--database-url`.

Proves: the original client's recordings are listed with their thumbnails from the
database, by another server too; kill -9 mid-recording recovers into it; migrations
run on an empty database and a newer schema is refused by name; an older version's
JSON catalog is imported once and kept as a backup; PostgreSQL that is away is said,
answers 503, and loses no recording.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest
import requests

from catalog import CatalogFile
from conftest import (FRAMES, HTTP_TIMEOUT, REEL_BIN, STARTUP_TIMEOUT, assert_error, ffprobe, finish, finish_ok, poll,
                      record, recording_status, stored_path, upload, upload_ok, wait_stored)
from postgres import PostgresServer

pytestmark = pytest.mark.timeout(240)


def listed(srv) -> dict:
    r = requests.get(srv.url("/video/recordings?limit=500"), timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    return r.json()


def thumbnail(srv, rid: str) -> bytes:
    r = requests.get(srv.url(f"/video/recordings/{rid}/thumbnail.jpg"), timeout=HTTP_TIMEOUT)
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/jpeg", (r.status_code, r.text[:200])
    assert r.content[:2] == b"\xff\xd8"
    return r.content


def original_client_recording(srv, frames: int) -> tuple[str, dict]:
    """The old Python service's client: create_video, multipart uploads by id, finish_video."""
    rid = requests.get(srv.url("/video/create_video"), timeout=HTTP_TIMEOUT).json()["id"]
    for i in range(frames):
        r = requests.post(srv.url(f"/video/video_upload?id={rid}"),
                          files={"image": ("image.jpg", FRAMES[i % 3], "image/jpeg")}, timeout=HTTP_TIMEOUT)
        assert r.status_code == 200, r.text
    return rid, finish_ok(srv, rid)


def serve_once(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """`reel serve` that is expected to refuse to start."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    return subprocess.run([str(REEL_BIN), "serve", "--host", "127.0.0.1", "--port", "1", "--min-free", "1M",
                           "--storage-dir", str(tmp_path / "videos"), "--spool-dir", str(tmp_path / "spool"),
                           "--recordings-dir", str(tmp_path / "recordings"), *args],
                          capture_output=True, text=True, timeout=STARTUP_TIMEOUT, cwd=tmp_path)


@pytest.fixture(params=["sqlite", "postgres"])
def catalog(request):
    """The options that put the catalog in SQLite (the default) or in a PostgreSQL database of the test's own."""
    if request.param == "sqlite":
        return {}
    return {"database_url": request.getfixturevalue("postgres").new_database()}


def test_recordings_and_thumbnails_are_answered_from_the_database_by_another_server_too(catalog, server, tmp_path):
    first = server(recordings_dir=tmp_path / "recordings", **catalog)
    made = [original_client_recording(first, frames) for frames in (5, 8)]
    page = listed(first)
    assert [e["id"] for e in page["recordings"]] == [made[1][0], made[0][0]] and page["total"] == 2
    thumbs = {rid: thumbnail(first, rid) for rid, _ in made}
    assert first.terminate() == 0

    # Another server: its own spool and (with PostgreSQL) its own recordings folder; the same storage and catalog.
    second = server(storage_dir=first.storage_dir,
                    recordings_dir=tmp_path / ("recordings" if not catalog else "recordings-2"), **catalog)
    page = listed(second)
    assert [e["id"] for e in page["recordings"]] == [made[1][0], made[0][0]]
    for (rid, answer), entry in zip(reversed(made), page["recordings"]):
        assert entry["state"] == "stored" and entry["frames"] == answer["frames"] and entry["bytes"] == answer["bytes"]
        # The same video, on this server's address.
        assert entry["video url"].split("/videos/")[1] == answer["video url"].split("/videos/")[1]
        assert thumbnail(second, rid) == thumbs[rid]
        assert ffprobe(stored_path(second, recording_status(second, rid)))["frames"] == answer["frames"]
    if not catalog:
        assert CatalogFile(tmp_path / "recordings").ids() == {rid for rid, _ in made}


def test_a_recording_killed_midway_is_recovered_into_the_database(catalog, server, tmp_path):
    folders = dict(spool_dir=tmp_path / "spool", storage_dir=tmp_path / "videos", recordings_dir=tmp_path / "recordings",
                   workdir=tmp_path / "cwd")
    srv = server(**folders, **catalog)
    done, _ = original_client_recording(srv, 3)
    rid = record(srv, 40)
    assert recording_status(srv, rid)["state"] == "recording"
    assert srv.kill() != 0

    again = server(**folders, **catalog)
    status = wait_stored(again, rid, timeout=60)
    assert status["frames"] == 40, status
    assert ffprobe(stored_path(again, status))["frames"] == 40
    thumbnail(again, rid)
    assert [e["id"] for e in listed(again)["recordings"]] == [rid, done]


def test_a_client_chosen_id_is_unique_across_servers_sharing_postgres(postgres, server):
    url = postgres.new_database()
    one = server(database_url=url, instance_id="one")
    two = server(database_url=url, instance_id="two", storage_dir=one.storage_dir)
    rid = str(uuid.uuid4())
    assert requests.get(one.url(f"/video/create_video?id={rid}"), timeout=HTTP_TIMEOUT).json()["id"] == rid
    assert_error(requests.get(two.url(f"/video/create_video?id={rid}"), timeout=HTTP_TIMEOUT), 409)
    assert upload_ok(one, FRAMES[0], rid) == 1
    assert finish_ok(one, rid)["frames"] == 1
    assert [e["id"] for e in listed(two)["recordings"]] == [rid]


def test_migrations_run_once_on_an_empty_database_and_a_newer_schema_is_refused_by_name(postgres, server, tmp_path):
    url = postgres.new_database()
    database = url.rsplit("/", 1)[1].split("?")[0]
    srv = server(database_url=url)
    assert "catalog schema migrated" in srv.log()
    assert postgres.sql("SELECT version FROM reel_migrations ORDER BY version", database).split() == ["1", "2", "3", "4"]
    assert postgres.sql("SELECT count(*) FROM recordings", database).strip() == "0"
    assert srv.terminate() == 0
    again = server(database_url=url)
    assert "catalog schema migrated" not in again.log()
    assert again.terminate() == 0

    postgres.sql("INSERT INTO reel_migrations (version, applied_ms) VALUES (7, 0)", database)
    result = serve_once(tmp_path / "newer", "--database-url", url)
    assert result.returncode == 1
    assert (f"catalog database 127.0.0.1:{postgres.port}/{database}: its schema is version 7, newer than this reel "
            "knows (4); run a newer reel") in result.stderr, result.stderr


def write_old_catalog(folder: Path) -> dict[str, dict]:
    """Entries as the JSON catalog of an earlier version wrote them, and a thumbnail."""
    folder.mkdir(parents=True, exist_ok=True)
    entries = {
        "2f0c1c6e-1111-4c3b-9a3e-000000000001": {
            "attempts": 1, "bytes": 52011, "created": "2026-11-20T08:00:00.250Z", "duration": 2.0, "frames": 54,
            "hasThumbnail": True, "location": {"servedLocally": {"path": "videos/video-1.mp4"}}, "name": "video-1.mp4",
            "preset": "veryfast", "state": "stored"},
        "2f0c1c6e-1111-4c3b-9a3e-000000000002": {
            "attempts": 0, "bytes": 0, "created": "2026-11-21T08:00:00.500Z", "duration": 0, "frames": 0,
            "hasThumbnail": False, "lastError": "the spool could not be read", "state": "failed"},
    }
    for rid, entry in entries.items():
        (folder / f"{rid}.json").write_text(json.dumps({"id": rid, **entry}, indent=2, sort_keys=True))
    (folder / "2f0c1c6e-1111-4c3b-9a3e-000000000001.jpg").write_bytes(FRAMES[0])
    return entries


def test_an_older_versions_json_catalog_is_imported_once_and_kept_as_a_backup(catalog, server, tmp_path):
    recordings = tmp_path / "recordings"
    entries = write_old_catalog(recordings)
    srv = server(recordings_dir=recordings, workdir=tmp_path / "cwd", **catalog)
    assert "recordings imported into the catalog database" in srv.log()
    page = listed(srv)
    assert [e["id"] for e in page["recordings"]] == sorted(entries, reverse=True)
    for entry in page["recordings"]:
        old = entries[entry["id"]]
        assert (entry["state"], entry["created"], entry["frames"]) == (old["state"], old["created"], old["frames"])
    assert page["recordings"][1]["video url"].endswith("/videos/video-1.mp4")
    assert thumbnail(srv, "2f0c1c6e-1111-4c3b-9a3e-000000000001") == FRAMES[0]
    assert sorted(p.name for p in recordings.iterdir() if not p.name.startswith("catalog.sqlite")) == ["json-backup"]
    assert len(list((recordings / "json-backup").iterdir())) == 3
    assert srv.terminate() == 0

    again = server(recordings_dir=recordings, workdir=tmp_path / "cwd", **catalog)
    assert "recordings imported" not in again.log()
    assert listed(again)["total"] == 2


def test_postgres_not_answering_at_start_is_said_in_one_line(tmp_path):
    from conftest import free_port
    port = free_port()
    result = serve_once(tmp_path, "--database-url", f"postgres://reel:secret@127.0.0.1:{port}/reel")
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: catalog database 127.0.0.1:{port}/reel: "), result.stderr
    assert "secret" not in result.stderr
    assert "connection refused" in last.lower() or "no answer" in last, last

    result = serve_once(tmp_path, "--database-url", "mysql://reel@127.0.0.1/reel")
    assert result.returncode != 0
    assert "--database-url (REEL_DATABASE_URL): the value given is not a postgres:// URL" in result.stderr, result.stderr


def test_postgres_going_away_answers_503_and_loses_no_recording(server, tmp_path):
    """PostgreSQL stops mid-recording: frames still go in, the list answers 503 naming
    the database, finish still stores the video; once PostgreSQL is back the catalog
    has the recording as stored, and a restart lists it."""
    own = PostgresServer().start()
    try:
        url = own.new_database()
        database = url.rsplit("/", 1)[1].split("?")[0]
        folders = dict(spool_dir=tmp_path / "spool", storage_dir=tmp_path / "videos",
                       recordings_dir=tmp_path / "recordings", workdir=tmp_path / "cwd")
        srv = server(database_url=url, retry_max_seconds=2, **folders)
        rid = record(srv, 10)
        own.halt()

        r = requests.get(srv.url("/video/recordings"), timeout=30)
        body = assert_error(r, 503)
        assert body["message"].startswith(f"catalog database 127.0.0.1:{own.port}/{database}: "), body
        assert r.headers.get("Retry-After") == "5"
        for i in range(10, 20):
            assert upload_ok(srv, FRAMES[i % 3], rid, raw=True) == i + 1
        answer = finish_ok(srv, rid)
        assert answer["frames"] == 20
        assert ffprobe(stored_path(srv, answer))["frames"] == 20
        assert "cannot save the recording's entry; it is kept in memory" in srv.log()

        own.start()
        poll(lambda: own.sql(f"SELECT state FROM recordings WHERE id = '{rid}'", database).strip() == "stored",
             timeout=30, interval=0.5, what="the kept change saved once PostgreSQL is back")
        assert recording_status(srv, rid)["frames"] == 20
        assert srv.terminate() == 0
        again = server(database_url=url, **folders)
        assert [e["id"] for e in listed(again)["recordings"]] == [rid]
        assert listed(again)["recordings"][0]["state"] == "stored"
    finally:
        own.stop()


def test_a_server_starting_on_a_shared_catalog_leaves_another_servers_recordings_alone(postgres, server):
    """Each server takes up only its own crash's leftovers (`--instance-id`), and retries only the
    uploads whose video is on its own disk."""
    url = postgres.new_database()
    a = server(database_url=url, instance_id="cams-a")
    rid = record(a, 10)
    b = server(database_url=url, instance_id="cams-b", storage_dir=a.storage_dir)
    assert recording_status(b, rid)["state"] == "recording"
    # Its frames, status and live view reaching the other server are relayed to the one that records it.
    assert upload_ok(b, FRAMES[0], rid, raw=True) == 11
    assert recording_status(b, rid)["frames"] == 11
    playlist = requests.get(b.url(f"/video/recordings/{rid}/live.m3u8"), timeout=HTTP_TIMEOUT)
    assert playlist.status_code == 200 and playlist.text.startswith("#EXTM3U"), playlist.text
    # One hop at most: a request relayed already is refused, naming the server that records it.
    answer = requests.post(b.url("/video/video_upload"), params={"id": rid}, data=FRAMES[0],
                           headers={"Content-Type": "image/jpeg", "X-Reel-Relayed-By": "cams-c"}, timeout=HTTP_TIMEOUT)
    body = assert_error(answer, 421)
    assert body["message"] == (f"recording {rid} is recorded by the server cams-a (http://127.0.0.1:{a.port}), not by this "
                               "one (cams-b), and the request was relayed here already; send it to cams-a"), body
    assert b.kill() != 0
    b = server(database_url=url, instance_id="cams-b", storage_dir=a.storage_dir)
    assert recording_status(b, rid)["state"] == "recording"
    for i in range(11, 20):
        assert upload_ok(a, FRAMES[i % 3], rid, raw=True) == i + 1
    assert finish_ok(a, rid)["frames"] == 20
    assert recording_status(b, rid)["state"] == "stored"
    assert rid not in b.log(), b.log()


def test_a_lost_server_s_recording_answers_503_naming_it_until_it_is_back_and_recovers_it(postgres, server, tmp_path):
    url = postgres.new_database()
    database = url.rsplit("/", 1)[1].split("?")[0]
    folders = dict(spool_dir=tmp_path / "spool-a", storage_dir=tmp_path / "videos", recordings_dir=tmp_path / "rec-a",
                   workdir=tmp_path / "cwd-a")
    a = server(database_url=url, instance_id="cams-a", instance_timeout=2, **folders)
    b = server(database_url=url, instance_id="cams-b", instance_timeout=2, storage_dir=tmp_path / "videos")
    assert postgres.sql("SELECT id, state FROM instances ORDER BY id", database).split() == ["cams-a|up", "cams-b|up"]
    rid = record(a, 30)
    assert a.kill() != 0

    # While its heartbeat is recent: relayed to, it cannot be reached. Past --instance-timeout: it is lost.
    body = assert_error(upload(b, FRAMES[0], rid, raw=True), 503)
    assert body["message"] == (f"recording {rid} is recorded by the server cams-a (http://127.0.0.1:{a.port}), which cannot "
                               "be reached: connection refused; its frames are kept by the client and taken when it is "
                               "back: try again in 2 s") or "which has not answered for" in body["message"], body

    def refused():
        r = upload(b, FRAMES[0], rid, raw=True)
        # (a Response of an error is falsy)
        return [r] if r.status_code == 503 and "has not answered" in r.json()["message"] else None
    answer = poll(refused, timeout=10, interval=0.2, what="503 for the lost server's recording")[0]
    body = assert_error(answer, 503)
    assert body["message"].startswith(f"recording {rid} is recorded by the server cams-a (http://127.0.0.1:{a.port}), "
                                      "which has not answered for "), body
    assert answer.headers.get("Retry-After") == "1"
    assert listed(b)["recordings"][0]["id"] == rid, "the list still answers"

    again = server(database_url=url, instance_id="cams-a", instance_timeout=2, **folders)
    status = wait_stored(again, rid, timeout=60)
    assert status["frames"] == 30 and recording_status(b, rid)["state"] == "stored"
    assert_error(upload(b, FRAMES[0], rid, raw=True), 409)
    assert again.terminate() == 0
    assert postgres.sql("SELECT state FROM instances WHERE id = 'cams-a'", database).strip() == "gone"


def test_a_storage_folder_not_shared_with_a_server_up_on_the_same_catalog_is_refused_at_start(postgres, server, tmp_path):
    url = postgres.new_database()
    a = server(database_url=url, instance_id="cams-a")
    assert (a.storage_dir / ".reel-instances" / "cams-a").read_text() == f"http://127.0.0.1:{a.port}"
    result = serve_once(tmp_path / "b", "--database-url", url, "--instance-id", "cams-b")
    assert result.returncode == 1
    assert (f"error: the storage folder {tmp_path / 'b' / 'videos'} is not the one the server cams-a "
            f"(http://127.0.0.1:{a.port}) stores into: its mark {tmp_path / 'b' / 'videos'}/.reel-instances/cams-a is not "
            "here. Servers sharing a catalog (--database-url) need the same storage: a folder they all mount "
            "(--storage-dir), or Supabase Storage") in result.stderr, result.stderr
    # Once cams-a is gone, a folder of one's own is fine: nobody else stores.
    assert a.terminate() == 0
    again = server(database_url=url, instance_id="cams-b")
    assert (again.storage_dir / ".reel-instances" / "cams-b").is_file()
