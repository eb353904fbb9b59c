"""Tests of the Supabase Storage stand-in (standin.py), over real loopback sockets.

    python3 -m pytest -q Tests/SupabaseStandIn
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

HERE = Path(__file__).resolve().parent
STANDIN = HERE / "standin.py"
KEY = "test-service-key"
MiB = 1024 * 1024
CHUNK = 6 * MiB
AUTH = {"Authorization": f"Bearer {KEY}", "apikey": KEY}
MP4 = {"Content-Type": "video/mp4"}
T = 10  # client timeout, seconds

# Loopback only: never let a proxy from the environment see these requests.
for _name in ("NO_PROXY", "no_proxy"):
    _hosts = [h for h in os.environ.get(_name, "").split(",") if h]
    for _host in ("127.0.0.1", "localhost"):
        if _host not in _hosts:
            _hosts.append(_host)
    os.environ[_name] = ",".join(_hosts)


def start(*args):
    err = tempfile.TemporaryFile(mode="w+")  # a file, not a pipe: a chatty stand-in never blocks
    proc = subprocess.Popen([sys.executable, str(STANDIN), "--port", "0", "--key", KEY, *args],
                            stdout=subprocess.PIPE, stderr=err, text=True)
    line = proc.stdout.readline()
    m = re.fullmatch(r"listening http://127\.0\.0\.1:(\d+)\n", line)
    if not m:
        proc.kill()
        proc.wait()
        err.seek(0)
        raise AssertionError(f"bad first line {line!r}; stderr: {err.read()}")
    proc.errfile = err
    return proc, f"http://127.0.0.1:{m.group(1)}"


def stop(proc):
    """Stop a stand-in; fail if it logged a traceback (a bug in the stand-in)."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    proc.errfile.seek(0)
    err = proc.errfile.read()
    proc.errfile.close()
    assert "Traceback" not in err and "Exception occurred" not in err, err


class StandIn:
    def __init__(self, base):
        self.base = base
        self.storage = base + "/storage/v1"

    def url(self, path):
        return self.storage + path

    def control(self, method, path, json=None):
        r = requests.request(method, self.base + "/_control/" + path, json=json, timeout=T)
        assert r.status_code == 200, r.text
        return r.json()

    def faults(self, spec):
        return self.control("POST", "faults", spec)

    def objects(self):
        return self.control("GET", "objects")

    def requests_log(self):
        return self.control("GET", "requests")

    def upload(self, bucket, path, data, headers=None, method="POST", session=None):
        h = {**AUTH, **MP4, "x-upsert": "false"}
        h.update(headers or {})
        return (session or requests).request(method, self.url(f"/object/{bucket}/{path}"),
                                             data=data, headers=h, timeout=T)

    # TUS
    def tus_create(self, bucket, path, length, content_type="video/mp4", upsert=False, headers=None,
                   data=None):
        meta = {"bucketName": bucket, "objectName": path, "contentType": content_type,
                "cacheControl": "3600"}
        h = {**AUTH, "Tus-Resumable": "1.0.0", "Upload-Length": str(length),
             "x-upsert": "true" if upsert else "false",
             "Upload-Metadata": ",".join(f"{k} {base64.b64encode(v.encode()).decode()}"
                                         for k, v in meta.items())}
        h.update(headers or {})
        return requests.post(self.url("/upload/resumable"), headers=h, data=data, timeout=T)

    @staticmethod
    def tus_patch(location, offset, data, headers=None):
        h = {**AUTH, "Tus-Resumable": "1.0.0", "Upload-Offset": str(offset),
             "Content-Type": "application/offset+octet-stream"}
        h.update(headers or {})
        return requests.patch(location, data=data, headers=h, timeout=T)

    @staticmethod
    def tus_head(location):
        return requests.head(location, headers={**AUTH, "Tus-Resumable": "1.0.0"}, timeout=T)


def assert_error(r, code, http_status=400, error=None):
    assert r.status_code == http_status, (r.status_code, r.text)
    body = r.json()
    assert set(body) == {"statusCode", "error", "message"}, body
    assert body["statusCode"] == str(code), body
    if error is not None:
        assert body["error"] == error, body
    assert r.headers["Content-Length"] == str(len(r.content))
    return body


def sha(b):
    return hashlib.sha256(b).hexdigest()


@pytest.fixture(scope="module")
def server():
    proc, base = start("--bucket", "videos:public", "--bucket", "private:private",
                       "--bucket", "plain")
    yield StandIn(base)
    stop(proc)


@pytest.fixture
def s(server):
    server.control("POST", "reset")
    return server


# ----------------------------------------------------------------- start-up

def test_prints_exactly_one_line_then_serves(tmp_path):
    proc, base = start("--bucket", "v:public")
    try:
        assert requests.get(base + "/_control/objects", timeout=T).json() == {}
    finally:
        stop(proc)
    assert proc.stdout.read() == ""  # nothing after the one line


# ----------------------------------------------------------------- upload, info, duplicates

def test_upload_ok_then_info_and_control_objects(s):
    data = os.urandom(5000)
    r = s.upload("videos", "2024/clip one.mp4", data, {"cache-control": "max-age=3600"})
    assert r.status_code == 200
    body = r.json()
    assert body["Key"] == "videos/2024/clip one.mp4"
    assert re.fullmatch(r"[0-9a-f-]{36}", body["Id"])
    info = requests.get(s.url("/object/info/videos/2024/clip%20one.mp4"), headers=AUTH, timeout=T)
    assert info.status_code == 200
    j = info.json()
    assert (j["name"], j["size"], j["content_type"], j["id"]) == \
        ("2024/clip one.mp4", 5000, "video/mp4", body["Id"])
    assert s.objects() == {"videos/2024/clip one.mp4":
                           {"size": 5000, "sha256": sha(data), "content_type": "video/mp4"}}
    detail = s.control("GET", "objects?detail=1")["videos/2024/clip one.mp4"]
    assert detail["cache_control"] == "max-age=3600"
    raw = requests.get(s.base + "/_control/object/videos/2024/clip%20one.mp4", timeout=T)
    assert raw.content == data


def test_duplicate_is_http_400_with_status_code_409_and_upsert_replaces(s):
    r = s.upload("videos", "a.mp4", b"one")
    assert r.status_code == 200
    first_id = r.json()["Id"]
    body = assert_error(s.upload("videos", "a.mp4", b"two"), 409, error="Duplicate")
    assert body["message"] == "The resource already exists"
    # no x-upsert header at all: also a duplicate
    r = requests.post(s.url("/object/videos/a.mp4"), data=b"two", headers={**AUTH, **MP4}, timeout=T)
    assert_error(r, 409)
    assert s.objects()["videos/a.mp4"]["sha256"] == sha(b"one")
    r = s.upload("videos", "a.mp4", b"three", {"x-upsert": "true"})
    assert r.status_code == 200 and r.json()["Id"] == first_id
    assert s.objects()["videos/a.mp4"]["sha256"] == sha(b"three")
    r = s.upload("videos", "a.mp4", b"four", method="PUT")  # PUT = upsert, even with x-upsert false
    assert r.status_code == 200
    assert s.objects()["videos/a.mp4"]["sha256"] == sha(b"four")
    assert s.upload("videos", "new.mp4", b"x", method="PUT").status_code == 200


@pytest.mark.parametrize("headers", [
    {"Authorization": f"Bearer {KEY}"},                       # no apikey
    {"apikey": KEY},                                          # no Authorization
    {"Authorization": "Bearer wrong", "apikey": KEY},
    {"Authorization": f"Bearer {KEY}", "apikey": "wrong"},
    {"Authorization": KEY, "apikey": KEY},                    # not Bearer
])
def test_auth_needs_bearer_and_apikey(s, headers):
    r = requests.post(s.url("/object/videos/a.mp4"), data=b"x",
                      headers={**headers, **MP4}, timeout=T)
    assert_error(r, 403, error="Unauthorized")
    r = requests.get(s.url("/bucket/videos"), headers=headers, timeout=T)
    assert_error(r, 403)
    assert s.objects() == {}


def test_bucket_get_and_not_found(s):
    r = requests.get(s.url("/bucket/videos"), headers=AUTH, timeout=T)
    assert r.status_code == 200
    assert {k: r.json()[k] for k in ("id", "name", "public")} == \
        {"id": "videos", "name": "videos", "public": True}
    assert requests.get(s.url("/bucket/private"), headers=AUTH, timeout=T).json()["public"] is False
    assert requests.get(s.url("/bucket/plain"), headers=AUTH, timeout=T).json()["public"] is False
    assert_error(requests.get(s.url("/bucket/nope"), headers=AUTH, timeout=T), 404,
                 error="Bucket not found")
    assert_error(s.upload("nope", "a.mp4", b"x"), 404, error="Bucket not found")


def test_mime_type_refused(s):
    body = assert_error(s.upload("videos", "a.txt", b"x", {"Content-Type": "text/plain"}), 415)
    assert "text/plain" in body["message"]
    r = requests.post(s.url("/object/videos/a.mp4"), data=b"x", headers=AUTH, timeout=T)
    assert_error(r, 415)  # no Content-Type at all
    assert s.upload("videos", "a.mp4", b"x", {"Content-Type": "video/mp4; codecs=avc1"}).status_code == 200
    assert list(s.objects()) == ["videos/a.mp4"]


def test_too_large_and_connection_stays_usable(s):
    s.control("POST", "config", {"max_object_bytes": 1000})
    with requests.Session() as sess:
        assert_error(s.upload("videos", "big.mp4", b"x" * 1001, session=sess), 413,
                     error="Payload too large")
        assert_error(s.upload("videos", "big.mp4", iter([b"x" * 600, b"y" * 600]), session=sess), 413)
        assert s.upload("videos", "ok.mp4", b"x" * 1000, session=sess).status_code == 200
    assert list(s.objects()) == ["videos/ok.mp4"]
    log = s.requests_log()
    assert len({e["conn"] for e in log}) == 1  # keep-alive over errors too
    assert [e["bytes"] for e in log] == [1001, 1200, 1000]


def test_default_limit_is_50_mb(s):
    assert s.control("GET", "config")["max_object_bytes"] == 50 * MiB


def test_chunked_upload_body(s):
    parts = [os.urandom(1000), os.urandom(70000), b"", os.urandom(3)]
    r = s.upload("videos", "chunked.mp4", (p for p in parts if p))
    assert r.status_code == 200
    assert s.objects()["videos/chunked.mp4"]["sha256"] == sha(b"".join(parts))
    entry = s.requests_log()[-1]
    assert entry["headers"]["transfer-encoding"] == "chunked" and entry["bytes"] == 71003


def test_delete_object(s):
    s.upload("videos", "d.mp4", b"x")
    r = requests.delete(s.url("/object/videos/d.mp4"), headers=AUTH, timeout=T)
    assert r.status_code == 200
    assert s.objects() == {}
    assert_error(requests.delete(s.url("/object/videos/d.mp4"), headers=AUTH, timeout=T), 404)


# ----------------------------------------------------------------- downloads

def test_public_download_with_range(s):
    data = bytes(range(256)) * 4
    s.upload("videos", "r.mp4", data)
    url = s.url("/object/public/videos/r.mp4")
    r = requests.get(url, timeout=T)
    assert r.status_code == 200 and r.content == data
    assert r.headers["Content-Type"] == "video/mp4"
    assert r.headers["Content-Length"] == "1024" and r.headers["Accept-Ranges"] == "bytes"
    r = requests.get(url, headers={"Range": "bytes=10-19"}, timeout=T)
    assert r.status_code == 206 and r.content == data[10:20]
    assert r.headers["Content-Range"] == "bytes 10-19/1024" and r.headers["Content-Length"] == "10"
    r = requests.get(url, headers={"Range": "bytes=1000-"}, timeout=T)
    assert r.status_code == 206 and r.content == data[1000:]
    r = requests.get(url, headers={"Range": "bytes=-4"}, timeout=T)
    assert r.status_code == 206 and r.content == data[-4:]
    r = requests.get(url, headers={"Range": "bytes=1000-5000"}, timeout=T)
    assert r.status_code == 206 and r.headers["Content-Range"] == "bytes 1000-1023/1024"
    r = requests.get(url, headers={"Range": "bytes=1024-"}, timeout=T)
    assert r.status_code == 416 and r.headers["Content-Range"] == "bytes */1024"
    r = requests.head(url, timeout=T)
    assert r.status_code == 200 and r.headers["Content-Length"] == "1024" and r.content == b""
    assert_error(requests.get(s.url("/object/public/videos/missing.mp4"), timeout=T), 404,
                 error="not_found")


def test_private_bucket_public_url_refused_authenticated_download_ok(s):
    s.upload("private", "p.mp4", b"secret")
    assert_error(requests.get(s.url("/object/public/private/p.mp4"), timeout=T), 404,
                 error="Bucket not found")
    r = requests.get(s.url("/object/private/p.mp4"), headers={**AUTH, "Range": "bytes=1-2"}, timeout=T)
    assert r.status_code == 206 and r.content == b"ec"
    assert requests.get(s.url("/object/authenticated/private/p.mp4"), headers=AUTH,
                        timeout=T).content == b"secret"
    assert_error(requests.get(s.url("/object/private/p.mp4"), timeout=T), 403)


def test_info_not_found(s):
    r = requests.get(s.url("/object/info/videos/none.mp4"), headers=AUTH, timeout=T)
    body = assert_error(r, 404, error="not_found")
    assert body["message"] == "Object not found"


def test_signed_url_works_then_expires(s):
    s.upload("private", "dir/s.mp4", b"signed bytes")
    r = requests.post(s.url("/object/sign/private/dir/s.mp4"), json={"expiresIn": 1},
                      headers=AUTH, timeout=T)
    assert r.status_code == 200
    signed = r.json()["signedURL"]
    assert signed.startswith("/object/sign/private/dir/s.mp4?token=")  # relative to /storage/v1
    full = s.storage + signed
    got = requests.get(full, timeout=T)
    assert got.status_code == 200 and got.content == b"signed bytes"
    assert got.headers["Content-Type"] == "video/mp4"
    assert requests.get(full, headers={"Range": "bytes=0-5"}, timeout=T).content == b"signed"
    token = signed.split("token=")[1]
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    assert_error(requests.get(s.url(f"/object/sign/private/dir/s.mp4?token={tampered}"), timeout=T),
                 400, error="InvalidJWT")
    assert_error(requests.get(s.url(f"/object/sign/private/other.mp4?token={token}"), timeout=T), 400)
    assert_error(requests.get(s.url("/object/sign/private/dir/s.mp4"), timeout=T), 400)
    time.sleep(1.5)
    body = assert_error(requests.get(full, timeout=T), 400, error="InvalidJWT")
    assert body["message"] == "jwt expired"


def test_sign_errors(s):
    assert_error(requests.post(s.url("/object/sign/private/none.mp4"), json={"expiresIn": 60},
                               headers=AUTH, timeout=T), 404)
    s.upload("private", "x.mp4", b"x")
    assert_error(requests.post(s.url("/object/sign/private/x.mp4"), json={"expiresIn": 60},
                               timeout=T), 403)
    assert_error(requests.post(s.url("/object/sign/private/x.mp4"), json={},
                               headers=AUTH, timeout=T), 400)


# ----------------------------------------------------------------- TUS

def test_tus_create_patch_head_and_6_mib_rule(s):
    data = os.urandom(CHUNK + 1234)
    r = s.tus_create("videos", "tus/a.mp4", len(data))
    assert r.status_code == 201, r.text
    assert r.headers["Tus-Resumable"] == "1.0.0"
    loc = r.headers["Location"]
    assert re.fullmatch(re.escape(s.storage) + r"/upload/resumable/[\w-]+", loc)
    h = s.tus_head(loc)
    assert h.status_code == 200
    assert (h.headers["Upload-Offset"], h.headers["Upload-Length"], h.headers["Cache-Control"]) == \
        ("0", str(len(data)), "no-store")
    # a non-final chunk that is not 6 MiB
    r = s.tus_patch(loc, 0, data[:1000])
    assert r.status_code == 400, r.text
    assert s.tus_head(loc).headers["Upload-Offset"] == "0"
    # a chunk over 6 MiB
    assert s.tus_patch(loc, 0, data).status_code == 400
    # wrong content type
    r = s.tus_patch(loc, 0, data[:CHUNK], {"Content-Type": "application/octet-stream"})
    assert r.status_code == 415
    r = s.tus_patch(loc, 0, data[:CHUNK])
    assert r.status_code == 204, r.text
    assert r.headers["Upload-Offset"] == str(CHUNK) and r.headers["Tus-Resumable"] == "1.0.0"
    assert "Content-Length" not in r.headers and r.content == b""
    assert s.tus_head(loc).headers["Upload-Offset"] == str(CHUNK)
    assert s.objects() == {}
    # replay of the same chunk: offset mismatch
    assert s.tus_patch(loc, 0, data[:CHUNK]).status_code == 409
    r = s.tus_patch(loc, CHUNK, data[CHUNK:])
    assert r.status_code == 204 and r.headers["Upload-Offset"] == str(len(data))
    assert s.objects() == {"videos/tus/a.mp4":
                           {"size": len(data), "sha256": sha(data), "content_type": "video/mp4"}}
    assert s.control("GET", "objects?detail=1")["videos/tus/a.mp4"]["cache_control"] == "3600"
    h = s.tus_head(loc)
    assert h.headers["Upload-Offset"] == h.headers["Upload-Length"] == str(len(data))
    patches = [e for e in s.requests_log() if e["method"] == "PATCH" and e["status"] == 204]
    assert [(e["headers"]["upload-offset"], e["bytes"]) for e in patches] == \
        [("0", CHUNK), (str(CHUNK), 1234)]


def test_tus_resume_after_dropped_chunk_sends_only_the_rest(s):
    data = os.urandom(2 * CHUNK + 10)
    loc = s.tus_create("videos", "tus/resume.mp4", len(data)).headers["Location"]
    assert s.tus_patch(loc, 0, data[:CHUNK]).status_code == 204
    s.faults({"drop": 1, "after_bytes": MiB, "match": "/storage/v1/upload/resumable", "method": "PATCH"})
    with pytest.raises(requests.exceptions.ConnectionError):
        s.tus_patch(loc, CHUNK, data[CHUNK:2 * CHUNK])
    offset = int(s.tus_head(loc).headers["Upload-Offset"])
    assert offset == CHUNK  # the half-received chunk is not kept
    for start in range(offset, len(data), CHUNK):
        r = s.tus_patch(loc, start, data[start:start + CHUNK])
        assert r.status_code == 204
    assert s.objects()["videos/tus/resume.mp4"]["sha256"] == sha(data)
    patches = [e for e in s.requests_log() if e["method"] == "PATCH"]
    assert [(e["headers"]["upload-offset"], e["bytes"], e["status"], e["fault"]) for e in patches] == [
        ("0", CHUNK, 204, None),
        (str(CHUNK), MiB, None, "drop"),
        (str(CHUNK), CHUNK, 204, None),
        (str(2 * CHUNK), 10, 204, None),
    ]


def test_tus_small_single_chunk_and_creation_with_upload(s):
    r = s.tus_create("videos", "tus/small.mp4", 5)
    loc = r.headers["Location"]
    assert s.tus_patch(loc, 0, b"12345").headers["Upload-Offset"] == "5"
    assert s.objects()["videos/tus/small.mp4"]["size"] == 5
    r = s.tus_create("videos", "tus/cwu.mp4", 3,
                     headers={"Content-Type": "application/offset+octet-stream"})
    assert r.status_code == 201  # no body: plain creation
    r = s.tus_create("videos", "tus/cwu2.mp4", 3, data=b"abc",
                     headers={"Content-Type": "application/offset+octet-stream"})
    assert r.status_code == 201 and r.headers["Upload-Offset"] == "3"
    assert s.objects()["videos/tus/cwu2.mp4"]["sha256"] == sha(b"abc")


def test_tus_errors(s):
    assert s.tus_create("videos", "e.mp4", 10, headers={"apikey": "wrong"}).status_code == 403
    assert s.tus_create("videos", "e.mp4", 10, headers={"Tus-Resumable": "0.2.2"}).status_code == 412
    assert s.tus_create("nope", "e.mp4", 10).status_code == 404
    r = s.tus_create("videos", "e.txt", 10, content_type="text/plain")
    assert r.status_code == 415 and r.json()["statusCode"] == "415"
    s.control("POST", "config", {"max_object_bytes": 100})
    r = s.tus_create("videos", "e.mp4", 101)
    assert r.status_code == 413 and r.json()["statusCode"] == "413"
    assert s.tus_head(s.storage + "/upload/resumable/doesnotexist").status_code == 404
    assert s.tus_create("videos", "e.mp4", 100, headers={"Upload-Length": ""}).status_code == 400
    loc = s.tus_create("videos", "e.mp4", 100).headers["Location"]
    assert requests.head(loc, headers=AUTH, timeout=T).status_code == 412  # no Tus-Resumable
    assert s.tus_patch(loc, 0, b"x" * 100, headers={"Authorization": "Bearer no"}).status_code == 403
    assert s.tus_patch(loc, 0, b"x" * 101).status_code == 400  # beyond Upload-Length


def test_tus_duplicates_and_concurrent_uploads(s):
    s.upload("videos", "dup.mp4", b"exists")
    r = s.tus_create("videos", "dup.mp4", 3)
    assert r.status_code == 409 and r.json()["statusCode"] == "409"
    assert r.json()["error"] == "Duplicate"
    r = s.tus_create("videos", "dup.mp4", 3, upsert=True)
    assert r.status_code == 201
    assert s.tus_patch(r.headers["Location"], 0, b"new").status_code == 204
    assert s.objects()["videos/dup.mp4"]["sha256"] == sha(b"new")
    # two uploads to one path at once
    first = s.tus_create("videos", "race.mp4", 3)
    assert first.status_code == 201
    assert s.tus_create("videos", "race.mp4", 3).status_code == 409
    assert s.tus_create("videos", "race.mp4", 3, upsert=True).status_code == 409
    d = requests.delete(first.headers["Location"], headers={**AUTH, "Tus-Resumable": "1.0.0"}, timeout=T)
    assert d.status_code == 204
    assert s.tus_head(first.headers["Location"]).status_code == 404
    second = s.tus_create("videos", "race.mp4", 3)
    assert second.status_code == 201
    # the object appears (plain upload) before the TUS upload completes: 409 at creation time
    assert s.upload("videos", "race.mp4", b"abc").status_code == 200
    r = s.tus_patch(second.headers["Location"], 0, b"xyz")
    assert r.status_code == 409 and r.json()["statusCode"] == "409"
    assert s.objects()["videos/race.mp4"]["sha256"] == sha(b"abc")
    assert s.tus_head(second.headers["Location"]).status_code == 404


def test_tus_upload_url_expires(s):
    s.control("POST", "config", {"tus_expiry_seconds": 1})
    loc = s.tus_create("videos", "exp.mp4", 3).headers["Location"]
    assert s.tus_head(loc).status_code == 200
    time.sleep(1.2)
    assert s.tus_head(loc).status_code == 404
    assert s.tus_patch(loc, 0, b"abc").status_code == 404
    s.control("POST", "config", {"tus_expiry_seconds": 3600})
    loc2 = s.tus_create("videos", "exp.mp4", 3).headers["Location"]  # the path is free again
    assert loc2 != loc
    s.control("POST", "expire_uploads")
    assert s.tus_head(loc2).status_code == 404
    assert s.control("GET", "uploads") == []
    assert s.tus_create("videos", "exp.mp4", 3).status_code == 201


# ----------------------------------------------------------------- faults

def test_fail_n_with_503_then_ok(s):
    state = s.faults({"fail": 2, "status": 503})
    assert state["down"] is False and len(state["queue"]) == 1
    for _ in range(2):
        r = s.upload("videos", "f.mp4", b"abc")
        body = assert_error(r, 503, http_status=503)
        assert "Retry-After" not in r.headers
    assert s.upload("videos", "f.mp4", b"abc").status_code == 200
    assert s.control("GET", "faults")["queue"] == []
    log = s.requests_log()
    assert [(e["status"], e["fault"], e["bytes"]) for e in log] == \
        [(503, "fail", 3), (503, "fail", 3), (200, None, 3)]
    assert body["error"] == "Service Unavailable"


def test_fail_429_with_retry_after_and_match(s):
    s.faults({"fail": 1, "status": 429, "retry_after": 2, "match": "/storage/v1/object/public"})
    assert s.upload("videos", "m.mp4", b"abc").status_code == 200  # does not match
    r = requests.get(s.url("/object/public/videos/m.mp4"), timeout=T)
    assert_error(r, 429, http_status=429)
    assert r.headers["Retry-After"] == "2"
    assert requests.get(s.url("/object/public/videos/m.mp4"), timeout=T).content == b"abc"


def test_fault_queue_is_fifo_and_method_filter(s):
    s.faults([{"fail": 1, "status": 500}, {"drop": 1}, {"fail": 1, "status": 502, "method": "GET"}])
    assert s.upload("videos", "q.mp4", b"abc").status_code == 500
    with pytest.raises(requests.exceptions.ConnectionError):
        s.upload("videos", "q.mp4", b"abc")
    assert s.upload("videos", "q.mp4", b"abc").status_code == 200  # GET-only fault left
    assert requests.get(s.url("/object/public/videos/q.mp4"), timeout=T).status_code == 502
    assert s.control("GET", "faults")["queue"] == []


def test_skip_lets_the_first_matching_requests_through(s):
    s.faults([{"fail": 1, "status": 503, "method": "POST", "skip": 2}, {"fail": 1, "status": 500}])
    assert requests.get(s.url("/bucket/videos"), headers=AUTH, timeout=T).status_code == 500
    assert s.upload("videos", "s1.mp4", b"a").status_code == 200
    assert s.upload("videos", "s2.mp4", b"a").status_code == 200
    assert s.upload("videos", "s3.mp4", b"a").status_code == 503
    assert s.upload("videos", "s3.mp4", b"a").status_code == 200
    # TUS: the second PATCH loses its connection, as a client test would set it up
    data = os.urandom(CHUNK + 5)
    s.faults({"drop": 1, "after_bytes": 0, "method": "PATCH", "skip": 1})
    loc = s.tus_create("videos", "skip.mp4", len(data)).headers["Location"]
    assert s.tus_patch(loc, 0, data[:CHUNK]).status_code == 204
    with pytest.raises(requests.exceptions.ConnectionError):
        s.tus_patch(loc, CHUNK, data[CHUNK:])
    assert s.tus_patch(loc, CHUNK, data[CHUNK:]).status_code == 204
    assert s.objects()["videos/skip.mp4"]["sha256"] == sha(data)


def test_drop_mid_body(s):
    data = os.urandom(200_000)
    s.faults({"drop": 1, "after_bytes": 100_000})
    with pytest.raises(requests.exceptions.ConnectionError):
        s.upload("videos", "drop.mp4", data)
    assert s.objects() == {}
    e = s.requests_log()[-1]
    assert (e["status"], e["fault"], e["bytes"]) == (None, "drop", 100_000)
    s.faults({"drop": 1, "after_bytes": 10, "rst": True})
    with pytest.raises(requests.exceptions.ConnectionError):
        s.upload("videos", "drop.mp4", data)
    assert s.upload("videos", "drop.mp4", data).status_code == 200


def test_stall(s):
    s.faults({"stall": 2, "seconds": 0.6})
    with pytest.raises(requests.exceptions.Timeout):
        requests.get(s.url("/bucket/videos"), headers=AUTH, timeout=0.2)
    t0 = time.monotonic()
    with pytest.raises(requests.exceptions.ConnectionError):  # closed after S, no answer
        requests.get(s.url("/bucket/videos"), headers=AUTH, timeout=5)
    assert time.monotonic() - t0 >= 0.5
    assert requests.get(s.url("/bucket/videos"), headers=AUTH, timeout=T).status_code == 200


def test_down_and_up(s):
    s.upload("videos", "d.mp4", b"abc")
    assert s.faults({"down": True})["down"] is True
    s.faults({"fail": 1, "status": 500})
    assert_error(s.upload("videos", "x.mp4", b"abc"), 503, http_status=503)
    assert requests.get(s.url("/object/public/videos/d.mp4"), timeout=T).status_code == 503
    assert s.tus_create("videos", "t.mp4", 3).status_code == 503
    assert list(s.objects()) == ["videos/d.mp4"]  # control still answers
    s.faults({"down": False})
    assert s.upload("videos", "x.mp4", b"abc").status_code == 500  # queue untouched while down
    assert s.upload("videos", "x.mp4", b"abc").status_code == 200
    assert [e["fault"] for e in s.requests_log()][-5:] == ["down", "down", "down", "fail", None]


# ----------------------------------------------------------------- control API, HTTP details

def test_runtime_bucket_and_reset(s):
    b = s.control("POST", "buckets", {"id": "rt", "public": False})
    assert (b["id"], b["public"]) == ("rt", False)
    assert requests.get(s.url("/bucket/rt"), headers=AUTH, timeout=T).json()["public"] is False
    assert s.upload("rt", "a.mp4", b"x").status_code == 200
    s.control("POST", "buckets", {"id": "pub2", "public": True, "allowed_mime_types": ["text/plain"]})
    assert s.upload("pub2", "a.txt", b"x", {"Content-Type": "text/plain"}).status_code == 200
    s.faults({"fail": 5})
    s.control("POST", "config", {"max_object_bytes": 1})
    s.control("POST", "reset")
    assert s.objects() == {} and s.requests_log() == []
    assert s.control("GET", "faults") == {"queue": [], "down": False}
    assert s.control("GET", "config")["max_object_bytes"] == 50 * MiB
    assert_error(requests.get(s.url("/bucket/rt"), headers=AUTH, timeout=T), 404)


def test_request_log_filters_and_clear(s):
    s.upload("videos", "l.mp4", b"abc", {"cache-control": "max-age=60"})
    log = s.requests_log()
    assert len(log) == 1
    e = log[0]
    assert (e["method"], e["path"], e["status"], e["bytes"]) == ("POST", "/storage/v1/object/videos/l.mp4", 200, 3)
    assert e["headers"]["x-upsert"] == "false" and e["headers"]["content-type"] == "video/mp4"
    assert e["headers"]["cache-control"] == "max-age=60"
    s.upload("videos", "m.mp4", b"abc")
    assert [x["path"] for x in s.control("GET", f"requests?since={e['seq']}")] == \
        ["/storage/v1/object/videos/m.mp4"]
    assert s.control("DELETE", "requests") == [] and s.requests_log() == []


def test_keep_alive_and_content_length_on_every_response(s):
    host, port = s.base.split("//")[1].split(":")
    c = http.client.HTTPConnection(host, int(port), timeout=T)
    try:
        def call(method, path, body=None, headers=None):
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            payload = r.read()
            if r.status != 204:
                assert r.getheader("Content-Length") == str(len(payload)) or method == "HEAD"
            return r, payload
        call("POST", "/storage/v1/object/videos/k.mp4", b"abc", {**AUTH, **MP4})
        call("POST", "/storage/v1/object/videos/k.mp4", b"abc", {**AUTH, **MP4})  # 400
        call("GET", "/storage/v1/object/public/videos/k.mp4")
        r, _ = call("HEAD", "/storage/v1/object/public/videos/k.mp4")
        assert r.getheader("Content-Length") == "3"
        call("GET", "/storage/v1/nowhere")
        r, body = call("POST", "//storage/v1/object/videos/k2.mp4", b"abc", {**AUTH, **MP4})
        assert r.status == 404 and b"//storage" in body  # a doubled slash is not forgiven
        r, _ = call("POST", "/storage/v1/upload/resumable", None, {
            **AUTH, "Tus-Resumable": "1.0.0", "Upload-Length": "2", "Content-Length": "0",
            "Upload-Metadata": "bucketName dmlkZW9z,objectName ay50dXM=,contentType dmlkZW8vbXA0"})
        assert r.status == 201
        path = r.getheader("Location").split(port, 1)[1]
        r, _ = call("PATCH", path, b"ab", {**AUTH, "Tus-Resumable": "1.0.0", "Upload-Offset": "0",
                                           "Content-Type": "application/offset+octet-stream"})
        assert r.status == 204
        r, _ = call("HEAD", path, None, {**AUTH, "Tus-Resumable": "1.0.0"})
        assert r.status == 200 and r.getheader("Upload-Offset") == "2"
        call("GET", "/_control/objects")
    finally:
        c.close()
    assert len({e["conn"] for e in s.requests_log()}) == 1


def test_data_dir_keeps_objects_and_uploads_across_restarts(tmp_path):
    args = ("--bucket", "v:public", "--data-dir", str(tmp_path))
    proc, base = start(*args)
    si = StandIn(base)
    try:
        assert si.upload("v", "keep.mp4", b"kept").status_code == 200
        loc = si.tus_create("v", "t.mp4", 4).headers["Location"]
        assert si.tus_head(loc).headers["Upload-Offset"] == "0"
    finally:
        stop(proc)
    proc, base = start(*args)
    si = StandIn(base)
    try:
        assert requests.get(si.url("/object/public/v/keep.mp4"), timeout=T).content == b"kept"
        loc = base + "/storage/v1/upload/resumable/" + loc.rsplit("/", 1)[1]
        assert si.tus_patch(loc, 0, b"tusd").status_code == 204
        assert si.objects()["v/t.mp4"]["sha256"] == sha(b"tusd")
    finally:
        stop(proc)
