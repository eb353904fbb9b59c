"""Deleting recordings: `DELETE /video/recordings/{id}`, the retention rules
`--keep-days` and `--keep-bytes`, and the page's Delete button.

Recordings are made old by rewriting `created` in the catalog
(`<recordings-dir>/catalog.sqlite`) while the server is stopped, then starting a new
server on the same folders. Retention runs once at start and then every 10 s,
so its effect is polled for, never slept for.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
import requests

from catalog import CatalogFile
from conftest import (FRAMES, HTTP_TIMEOUT, assert_error, finish, finish_ok, metric_samples, poll,
                      record, recording_status, stored, upload_ok)
from test_supabase import standin, supabase_server  # noqa: F401 (standin is a fixture)

DAY = 86400.0
# One retention pass at start, then one every 10 s: an effect shows within this.
PASS_SECONDS = 10.0
WITHIN_A_PASS = PASS_SECONDS + 8.0


# --- where a test's recordings live, on local storage or the Supabase stand-in ------


class Site:
    """The folders of one test's servers (kept across restarts) and its storage."""

    def __init__(self, kind: str, server, tmp_path: Path, standin=None, storage_dir: Path | None = None):
        self.kind, self.server, self.standin = kind, server, standin
        self.storage_dir = storage_dir or tmp_path / "videos"
        self.spool_dir = tmp_path / "spool"
        self.workdir = tmp_path / "cwd"
        self.recordings_dir = tmp_path / "recordings"

    def start(self, **options):
        folders = dict(storage_dir=self.storage_dir, spool_dir=self.spool_dir, workdir=self.workdir,
                       recordings_dir=self.recordings_dir)
        if self.kind == "supabase":
            return supabase_server(self.server, self.standin, **folders, **options)
        return self.server(**folders, **options)

    # The catalog, as the server saved it.
    @property
    def catalog(self) -> CatalogFile:
        return CatalogFile(self.recordings_dir)

    def has_entry(self, rid: str) -> bool:
        return self.catalog.has_entry(rid)

    def has_thumbnail(self, rid: str) -> bool:
        return self.catalog.has_thumbnail(rid)

    def entry(self, rid: str) -> dict:
        return self.catalog.entry(rid)

    def make_old(self, rid: str, days: float) -> None:
        """Moves the entry's `created` to `days` ago (only while no server runs)."""
        self.catalog.set_created(rid, time.time() - days * DAY)

    # The stored video.
    def has_video(self, name: str) -> bool:
        if self.kind == "supabase":
            return f"videos/{name}" in self.standin.objects()
        return (self.storage_dir / name).is_file()

    def catalog_ids(self) -> set[str]:
        return self.catalog.ids()


@pytest.fixture(params=["local", "supabase"])
def site(request, tmp_path):
    # The stand-in first, so the servers are killed before it stops.
    stand_in = request.getfixturevalue("standin") if request.param == "supabase" else None
    return Site(request.param, request.getfixturevalue("server"), tmp_path, stand_in)


@pytest.fixture
def local(tmp_path, server):
    return Site("local", server, tmp_path)


@pytest.fixture
def supabase(request, tmp_path):
    stand_in = request.getfixturevalue("standin")
    return Site("supabase", request.getfixturevalue("server"), tmp_path, stand_in)


def iso(t: float) -> str:
    """ISO 8601 UTC with milliseconds, as the catalog writes `created`."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % int((t % 1) * 1000)


# --- the API ---------------------------------------------------------------------------


def delete(srv, rid: str, headers: dict | None = None) -> requests.Response:
    return requests.delete(srv.url(f"/video/recordings/{rid}"),
                           headers=srv.headers() if headers is None else headers, timeout=HTTP_TIMEOUT)


def delete_ok(srv, rid: str) -> None:
    r = delete(srv, rid)
    assert r.status_code == 200, (r.status_code, r.text)
    assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers
    assert r.json() == {"id": rid, "status": "success"}, r.text


def status_code(srv, rid: str) -> int:
    return requests.get(srv.url(f"/video/recordings/{rid}"), headers=srv.headers(), timeout=10).status_code


def listing(srv) -> dict:
    r = requests.get(srv.url("/video/recordings"), params={"limit": 500}, headers=srv.headers(), timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def listed_ids(srv) -> set[str]:
    return {r["id"] for r in listing(srv)["recordings"]}


def deletions(srv) -> dict[str, float]:
    """`reel_recordings_deleted_total` by reason."""
    return {dict(labels)["reason"]: value for (name, labels), value in metric_samples(srv).items()
            if name == "reel_recordings_deleted_total"}


def passes(srv) -> float:
    """`reel_retention_passes_total`: how many retention passes have run."""
    value = metric_samples(srv).get(("reel_retention_passes_total", ()))
    assert value is not None, "no reel_retention_passes_total in /metrics"
    return value


def wait_passes(srv, count: int) -> None:
    """Waits until `count` more retention passes have run: what they would delete is gone by then."""
    target = passes(srv) + count
    poll(lambda: passes(srv) >= target, WITHIN_A_PASS * count, what=f"{count} more retention passes")


def log_records(srv, message: str) -> list[dict]:
    """The JSON log records (--log-format json) with this message."""
    found = []
    for line in srv.log().splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue  # ffmpeg's own lines
        if isinstance(item, dict) and item.get("message") == message:
            found.append(item)
    return found


def assert_deleted(site: Site, srv, rid: str, name: str) -> None:
    assert not site.has_video(name), f"the video {name} of {rid} is still in storage"
    assert not site.has_entry(rid), f"the entry of {rid} is still in the catalog"
    assert not site.has_thumbnail(rid), f"the thumbnail of {rid} is still in the catalog"
    assert status_code(srv, rid) == 404


def assert_kept(site: Site, srv, rid: str, state: str = "stored") -> dict:
    status = recording_status(srv, rid)
    assert status["state"] == state, status
    entry = site.entry(rid)
    assert entry["state"] == state, entry
    if state == "stored":
        assert site.has_video(entry["name"]), f"the video of {rid} is gone"
    return status


def wait_deleted(site: Site, srv, rid: str, timeout: float = WITHIN_A_PASS) -> None:
    poll(lambda: status_code(srv, rid) == 404, timeout=timeout, interval=0.2, what=f"recording {rid} deleted")


def spool_names(srv, rid: str) -> list[str]:
    return [p.name for p in srv.spool_files() if p.name.startswith(rid)]


def make_failed(site: Site, srv) -> str:
    """A recording that a crash left unrecoverable: kill -9 mid-recording, then the
    spool overwritten with garbage. Returns its id; `srv` is dead afterwards and the
    next start marks the recording failed."""
    rid = record(srv, 5)
    assert srv.kill() != 0
    spool = sorted(p for p in site.spool_dir.iterdir() if p.name.startswith(rid))
    assert spool, list(site.spool_dir.iterdir())
    for path in spool:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.write_bytes(b"not a video " * 100)
    assert site.entry(rid)["state"] == "recording"
    return rid


# --- 1. DELETE through the API, local storage ------------------------------------------


@pytest.mark.timeout(120)
def test_delete_removes_a_stored_recording_everywhere(local):
    srv = local.start()
    kept, _ = stored(srv)
    rid, answer = stored(srv)
    name = answer["video url"].rsplit("/", 1)[1]
    thumbnail_url = recording_status(srv, rid)["thumbnail url"]
    assert (local.storage_dir / name).is_file() and local.has_thumbnail(rid) and local.has_entry(rid)
    assert listing(srv)["total"] == 2

    delete_ok(srv, rid)

    assert_deleted(local, srv, rid, name)
    assert_error(requests.get(srv.url(f"/video/recordings/{rid}"), timeout=10), 404)
    assert requests.get(answer["video url"], timeout=10).status_code == 404
    assert requests.get(thumbnail_url, timeout=10).status_code == 404
    after = listing(srv)
    assert after["total"] == 1 and [r["id"] for r in after["recordings"]] == [kept]
    assert_kept(local, srv, kept)

    body = assert_error(delete(srv, rid), 404)
    assert body["message"] == f"no recording with id {rid}", body
    unknown = "00000000-0000-4000-8000-000000000000"
    body = assert_error(delete(srv, unknown), 404)
    assert body["message"] == f"no recording with id {unknown}", body

    assert deletions(srv) == {"request": 1, "age": 0, "size": 0, "disk": 0}
    line = next(line for line in srv.log().splitlines() if "recording deleted" in line)
    for part in (f"recording.id={rid}", f"name={name}", "rule=request", "age.days=0.00", f"bytes={answer['bytes']}"):
        assert part in line, (part, line)


@pytest.mark.timeout(120)
def test_a_recording_in_progress_is_not_deleted(local):
    srv = local.start()
    rid = record(srv, 4)
    spool = spool_names(srv, rid)
    assert spool

    body = assert_error(delete(srv, rid), 409)
    assert body["message"] == f"recording {rid} is recording; it can be deleted once stored", body

    assert recording_status(srv, rid)["state"] == "recording"
    assert local.has_entry(rid)
    assert spool_names(srv, rid) == spool, "the spool is untouched"
    assert upload_ok(srv, FRAMES[0], rid, raw=True) == 5, "the recording goes on"
    answer = finish_ok(srv, rid)
    assert answer["frames"] == 5
    assert deletions(srv) == {"request": 0, "age": 0, "size": 0, "disk": 0}
    delete_ok(srv, rid)  # once stored, it can be
    assert_deleted(local, srv, rid, answer["video url"].rsplit("/", 1)[1])


@pytest.mark.timeout(120)
def test_a_failed_recording_is_deleted_with_what_its_spool_held(local):
    srv = local.start()
    rid = make_failed(local, srv)
    srv = local.start()
    status = recording_status(srv, rid)
    assert status["state"] == "failed" and status["last error"], status
    assert spool_names(srv, rid), "the unrecoverable spool is kept for a person to look at"

    delete_ok(srv, rid)

    assert spool_names(srv, rid) == []
    assert not local.has_entry(rid)
    assert status_code(srv, rid) == 404
    assert deletions(srv)["request"] == 1


@pytest.mark.timeout(120)
def test_delete_needs_the_token(local):
    srv = local.start(token="delete-secret")
    rid, answer = stored(srv)
    name = answer["video url"].rsplit("/", 1)[1].split("?", 1)[0]
    assert delete(srv, rid, headers={}).status_code == 401
    assert delete(srv, rid, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert local.has_video(name) and local.has_entry(rid)
    assert recording_status(srv, rid)["state"] == "stored"
    delete_ok(srv, rid)
    assert_deleted(local, srv, rid, name)


# --- 2. DELETE with Supabase Storage ---------------------------------------------------


@pytest.mark.timeout(180)
def test_delete_removes_the_object_from_supabase(supabase):
    standin = supabase.standin
    srv = supabase.start()
    rid, answer = stored(srv)
    name = answer["video url"].rsplit("/", 1)[1]
    assert f"videos/{name}" in standin.objects()

    delete_ok(srv, rid)

    assert_deleted(supabase, srv, rid, name)
    assert standin.objects() == {}
    deletes = [q for q in standin.requests() if q["method"] == "DELETE"]
    assert [(q["path"], q["status"]) for q in deletes] == [("/storage/v1/object/videos", 200)], deletes
    assert_error(delete(srv, rid), 404)
    assert deletions(srv) == {"request": 1, "age": 0, "size": 0, "disk": 0}


@pytest.mark.timeout(180)
def test_supabase_down_deletes_nothing_then_deleting_works_once_it_is_back(supabase):
    standin = supabase.standin
    srv = supabase.start()
    rid, answer = stored(srv)
    name = answer["video url"].rsplit("/", 1)[1]

    standin.control("POST", "faults", {"down": True})
    began = time.monotonic()
    body = assert_error(delete(srv, rid), 503)
    print(f"503 after {time.monotonic() - began:.1f} s: {body}")
    assert rid in body["message"], body
    status = recording_status(srv, rid)
    assert status["state"] == "stored", status
    assert status.get("last error", "").startswith("deleting failed:"), status
    assert supabase.has_video(name), "the object is still there"
    assert supabase.has_entry(rid) and supabase.has_thumbnail(rid)
    assert rid in listed_ids(srv)
    attempts = [q for q in standin.requests() if q["method"] == "DELETE"]
    assert len(attempts) >= 2 and all(q["fault"] == "down" for q in attempts), "retried: storage may come back"

    standin.control("POST", "faults", {"down": False})
    delete_ok(srv, rid)
    assert_deleted(supabase, srv, rid, name)
    assert deletions(srv) == {"request": 1, "age": 0, "size": 0, "disk": 0}


@pytest.mark.timeout(180)
def test_supabase_refusing_the_delete_is_a_502_and_deletes_nothing(supabase):
    """The stand-in answers an injected fault with Storage's JSON error body
    ({"statusCode": "403", "error": "Forbidden", "message": "injected fault"}):
    a refusal, not an outage, so it is not retried."""
    standin = supabase.standin
    srv = supabase.start()
    rid, answer = stored(srv)
    name = answer["video url"].rsplit("/", 1)[1]

    standin.control("POST", "faults", {"fail": 1, "status": 403, "method": "DELETE"})
    body = assert_error(delete(srv, rid), 502)
    assert rid in body["message"], body
    status = recording_status(srv, rid)
    assert status["state"] == "stored", status
    assert status.get("last error", "").startswith("deleting failed:"), status
    assert supabase.has_video(name)
    assert supabase.has_entry(rid) and supabase.has_thumbnail(rid)
    attempts = [q for q in standin.requests() if q["method"] == "DELETE"]
    assert [q["status"] for q in attempts] == [403], "a refusal is not retried"

    delete_ok(srv, rid)
    assert_deleted(supabase, srv, rid, name)
    assert deletions(srv) == {"request": 1, "age": 0, "size": 0, "disk": 0}


@pytest.mark.timeout(180)
def test_a_pending_recording_is_not_deleted(supabase):
    standin = supabase.standin
    srv = supabase.start()
    rid = record(srv, 3)
    standin.control("POST", "faults", {"down": True})
    assert assert_error(finish(srv, rid), 500)["pending"] is True
    body = assert_error(delete(srv, rid), 409)
    assert body["message"] == f"recording {rid} is pending; it can be deleted once stored", body
    assert recording_status(srv, rid)["state"] == "pending"
    assert any(p.suffix == ".mp4" for p in srv.spool_files()), "the pending video is kept"
    assert deletions(srv)["request"] == 0


# --- 3. retention by age -------------------------------------------------------------


@pytest.mark.timeout(240)
def test_keep_days_deletes_only_stored_recordings_older_than_that(site):
    srv = site.start()
    new, _ = stored(srv)
    ten_days, _ = stored(srv)
    forty_days, answer = stored(srv, frames=4)
    name = answer["video url"].rsplit("/", 1)[1]
    pending = None
    if site.kind == "supabase":
        # Storage down during finish: pending. It stays pending after the restart:
        # uploads keep failing (503), deleting still works.
        pending = record(srv, 3)
        site.standin.control("POST", "faults", {"down": True})
        assert assert_error(finish(srv, pending), 500)["pending"] is True
    failed = make_failed(site, srv)  # kills srv
    if site.kind == "supabase":
        site.standin.control("POST", "faults", [
            {"down": False},
            {"fail": 100000, "status": 503, "method": "POST", "match": "/storage/v1/object/videos"}])
    site.make_old(ten_days, 10)
    site.make_old(forty_days, 40)
    site.make_old(failed, 40)
    if pending:
        site.make_old(pending, 40)
    old_bytes = site.entry(forty_days)["bytes"]
    assert old_bytes == answer["bytes"] > 0

    srv = site.start(keep_days=30, log_format="json")
    wait_deleted(site, srv, forty_days)

    assert_deleted(site, srv, forty_days, name)
    assert_kept(site, srv, new)
    assert_kept(site, srv, ten_days)
    failed_status = assert_kept(site, srv, failed, "failed")
    assert failed_status["created"] < iso(time.time() - 39 * DAY), "still as old as the catalog said"
    if pending:
        assert_kept(site, srv, pending, "pending")
        assert any(p.name == f"{pending}.mp4" for p in srv.spool_files()), "the pending video is kept"
    survivors = {new, ten_days, failed} | ({pending} if pending else set())
    assert listed_ids(srv) == survivors and listing(srv)["total"] == len(survivors)

    (line,) = log_records(srv, "recording deleted")
    meta = line["metadata"]
    assert meta["recording.id"] == forty_days and meta["name"] == name and meta["rule"] == "age", meta
    assert abs(float(meta["age.days"]) - 40) < 0.01 and int(meta["bytes"]) == old_bytes, meta
    assert deletions(srv) == {"request": 0, "age": 1, "size": 0, "disk": 0}

    # The next passes leave the rest alone.
    wait_passes(srv, 2)
    assert listed_ids(srv) == survivors
    assert site.catalog_ids() == survivors
    if pending:
        assert recording_status(srv, pending)["state"] == "pending"
    assert deletions(srv) == {"request": 0, "age": 1, "size": 0, "disk": 0}


@pytest.mark.timeout(180)
def test_keep_days_never_deletes_a_recording_in_progress(site):
    """0.0001 days is 8.6 s: a recording in progress for longer is left alone,
    a stored one as old is deleted; stored in turn, the old one is deleted too."""
    srv = site.start(keep_days=0.0001, idle_seconds=600)
    in_progress = record(srv, 2)
    rid, answer = stored(srv)
    wait_deleted(site, srv, rid, timeout=8.64 + WITHIN_A_PASS)
    assert_deleted(site, srv, rid, answer["video url"].rsplit("/", 1)[1])

    status = recording_status(srv, in_progress)
    assert status["state"] == "recording", status
    assert spool_names(srv, in_progress), "its spool is untouched"
    assert upload_ok(srv, FRAMES[2], in_progress, raw=True) == 3
    name = finish_ok(srv, in_progress)["video url"].rsplit("/", 1)[1]
    wait_deleted(site, srv, in_progress)
    assert_deleted(site, srv, in_progress, name)
    assert deletions(srv) == {"request": 0, "age": 2, "size": 0, "disk": 0}


@pytest.mark.timeout(240)
def test_keep_days_never_deletes_a_pending_recording_on_local_storage(tmpfs, tmp_path, server):
    """Local storage on a full disk keeps a recording pending; an old pending
    recording stays, an old stored one beside it goes."""
    disk = tmpfs("8m")
    local = Site("local", server, tmp_path, storage_dir=disk / "videos")
    srv = local.start()
    old, answer = stored(srv, frames=1)
    name = answer["video url"].rsplit("/", 1)[1]
    from test_reliability import fill
    fill(disk / "filler", leave=64 * 1024)  # room for the start's write check, not for a video
    pending = record(srv, 40)
    assert assert_error(finish(srv, pending), 500)["pending"] is True
    pending_video = srv.spool_dir / "pending" / f"{pending}.mp4"
    assert pending_video.stat().st_size > 64 * 1024 + answer["bytes"] + 8192, "freeing the old one makes no room"
    assert srv.terminate() == 0
    local.make_old(old, 40)
    local.make_old(pending, 40)

    srv = local.start(keep_days=30)
    wait_deleted(local, srv, old)
    assert_deleted(local, srv, old, name)
    wait_passes(srv, 2)
    assert_kept(local, srv, pending, "pending")
    assert pending_video.exists()
    assert deletions(srv) == {"request": 0, "age": 1, "size": 0, "disk": 0}


@pytest.mark.timeout(240)
def test_retention_with_storage_down_deletes_nothing_until_it_is_back(supabase):
    standin = supabase.standin
    srv = supabase.start()
    rid, answer = stored(srv)
    name = answer["video url"].rsplit("/", 1)[1]
    assert srv.terminate() == 0
    supabase.make_old(rid, 40)
    standin.control("POST", "faults", {"down": True})

    srv = supabase.start(keep_days=30)
    poll(lambda: (recording_status(srv, rid).get("last error") or "").startswith("deleting failed:"),
         timeout=WITHIN_A_PASS, interval=0.3, what="the failed deletion noted on the entry")
    assert_kept(supabase, srv, rid)
    assert "retention paused until storage answers" in srv.log()
    assert deletions(srv)["age"] == 0

    standin.control("POST", "faults", {"down": False})
    wait_deleted(supabase, srv, rid, timeout=PASS_SECONDS + WITHIN_A_PASS)
    assert_deleted(supabase, srv, rid, name)
    assert deletions(srv) == {"request": 0, "age": 1, "size": 0, "disk": 0}


# --- 4. retention by size ------------------------------------------------------------


@pytest.mark.timeout(240)
def test_keep_bytes_at_start_deletes_the_oldest_until_under_the_limit(site):
    srv = site.start()
    made = [stored(srv, frames) for frames in (2, 3, 4, 5)]  # oldest first
    ids = [rid for rid, _ in made]
    sizes = [site.entry(rid)["bytes"] for rid in ids]
    assert sizes == [answer["bytes"] for _, answer in made] and all(sizes), sizes
    assert srv.terminate() == 0
    limit = sizes[2] + sizes[3] + 1000  # the newest two and a little

    srv = site.start(keep_bytes=limit)
    for rid, answer in made[:2]:
        wait_deleted(site, srv, rid)
        assert_deleted(site, srv, rid, answer["video url"].rsplit("/", 1)[1])
    for rid in ids[2:]:
        assert_kept(site, srv, rid)
    assert listed_ids(srv) == set(ids[2:])
    assert deletions(srv) == {"request": 0, "age": 0, "size": 2, "disk": 0}
    assert "rule=size" in srv.log()


@pytest.mark.timeout(240)
def test_keep_bytes_while_running_deletes_the_oldest_once_over(site):
    srv = site.start()
    made = [stored(srv, 3), stored(srv, 3)]
    total = sum(site.entry(rid)["bytes"] for rid, _ in made)
    assert srv.terminate() == 0

    srv = site.start(keep_bytes=total + 1000)
    poll(lambda: passes(srv) >= 1, WITHIN_A_PASS, what="the first retention pass")
    assert listed_ids(srv) == {rid for rid, _ in made}, "under the limit: nothing deleted at start"
    newest, answer = stored(srv, 1)  # smaller than either: after the oldest goes, under again
    assert answer["bytes"] > 1000
    began = time.monotonic()
    oldest, oldest_answer = made[0]
    wait_deleted(site, srv, oldest, timeout=15 + 3)
    print(f"deleted {time.monotonic() - began:.1f} s after the total went over")
    assert_deleted(site, srv, oldest, oldest_answer["video url"].rsplit("/", 1)[1])
    assert_kept(site, srv, made[1][0])
    assert_kept(site, srv, newest)
    assert deletions(srv) == {"request": 0, "age": 0, "size": 1, "disk": 0}


# --- the page ----------------------------------------------------------------------------


@pytest.fixture
def browser():
    import test_page  # Selenium: when it is missing, this fails
    if not (Path(test_page.CHROMIUM).exists() and Path(test_page.CHROMEDRIVER).exists()):
        pytest.fail("chromium and chromium-driver are needed: scripts/setup.sh installs them")
    driver = test_page.new_browser()
    yield driver
    driver.quit()


def click_delete_and_accept(browser, rid: str) -> str:
    """Clicks the card's Delete, accepts the confirmation; returns the question asked."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait
    card = browser.find_element(By.CSS_SELECTOR, f".card[data-id='{rid}']")
    card.find_element(By.CSS_SELECTOR, ".delete").click()
    alert = WebDriverWait(browser, 10).until(expected_conditions.alert_is_present())
    question = alert.text
    alert.accept()
    return question


@pytest.mark.timeout(240)
def test_the_page_deletes_a_stored_recording(local, browser):
    from selenium.webdriver.common.by import By
    from test_page import open_page
    srv = local.start()
    kept, _ = stored(srv)
    rid, answer = stored(srv)
    name = answer["video url"].rsplit("/", 1)[1]
    in_progress = record(srv, 1)

    open_page(browser, srv)
    cards = browser.find_elements(By.CSS_SELECTOR, ".card")
    assert len(cards) == 3
    button = browser.find_element(By.CSS_SELECTOR, f".card[data-id='{in_progress}'] .delete")
    assert not button.is_enabled(), "a recording in progress cannot be deleted"
    assert browser.find_element(By.CSS_SELECTOR, f".card[data-id='{rid}'] .delete").is_enabled()

    question = click_delete_and_accept(browser, rid)
    assert question.startswith("Delete the recording of "), question
    poll(lambda: not browser.find_elements(By.CSS_SELECTOR, f".card[data-id='{rid}']"), 30,
         what="the card to go")
    poll(lambda: browser.find_element(By.ID, "message").text == "Recording deleted.", 10, what="the message")
    assert not (local.storage_dir / name).exists()
    assert not local.has_entry(rid)
    assert status_code(srv, rid) == 404
    assert browser.find_elements(By.CSS_SELECTOR, f".card[data-id='{kept}']")
    assert listing(srv)["total"] == 2
    assert deletions(srv)["request"] == 1
    finish_ok(srv, in_progress)


@pytest.mark.timeout(240)
def test_the_page_shows_why_a_recording_was_not_deleted(supabase, browser):
    from selenium.webdriver.common.by import By
    from test_page import open_page
    standin = supabase.standin
    srv = supabase.start()
    rid, answer = stored(srv)
    name = answer["video url"].rsplit("/", 1)[1]
    open_page(browser, srv)

    standin.control("POST", "faults", {"down": True})
    click_delete_and_accept(browser, rid)
    error = poll(lambda: browser.find_element(By.CSS_SELECTOR, f".card[data-id='{rid}'] .error").text, 60,
                 interval=0.2, what="the card to say why")
    assert error.startswith("Not deleted: "), error
    message = browser.find_element(By.ID, "message")
    assert message.text == error, (message.text, error)
    assert message.get_attribute("data-kind") == "error"
    card = browser.find_element(By.CSS_SELECTOR, f".card[data-id='{rid}']")
    assert card.get_attribute("data-state") == "stored"
    assert card.find_element(By.CSS_SELECTOR, ".delete").is_enabled(), "it may be tried again"
    assert supabase.has_video(name) and supabase.has_entry(rid)
    assert deletions(srv)["request"] == 0


@pytest.mark.timeout(240)
def test_keep_bytes_makes_room_on_a_shared_disk_before_the_guard_refuses(tmpfs, server):
    """With --keep-bytes and the videos on the spool's own disk, the oldest stored
    recordings also go when that disk has less than twice --min-free free, as many
    as cover the shortfall — here one — so recording goes on instead of being refused (507)."""
    disk = tmpfs("64m")
    srv = server(storage_dir=disk / "videos", spool_dir=disk / "spool", min_free="16M", keep_bytes="1G")
    ids = [stored(srv)[0] for _ in range(3)]
    sizes = {rid: recording_status(srv, rid)["bytes"] for rid in ids}
    assert min(sizes.values()) > 40_000, sizes
    free = shutil.disk_usage(disk).free
    threshold = 2 * 16 * 1024 * 1024
    (disk / "filler").write_bytes(b"\0" * (free - (threshold - 20_000)))
    assert shutil.disk_usage(disk).free < threshold
    poll(lambda: status_code(srv, ids[0]) == 404, WITHIN_A_PASS, what="the oldest recording deleted for room")
    wait_passes(srv, 1)  # that pass is over, and one more found nothing to do
    assert shutil.disk_usage(disk).free >= threshold
    assert all(status_code(srv, rid) == 200 for rid in ids[1:]), "only what was needed went"
    assert deletions(srv).get("disk") == 1 and deletions(srv).get("size") == 0
    rid = record(srv, 3)  # not refused: the guard (16M) was never reached
    finish_ok(srv, rid)
