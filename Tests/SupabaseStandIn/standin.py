#!/usr/bin/env python3
"""A local stand-in for Supabase Storage, for tests only (127.0.0.1, stdlib only).

    python3 Tests/SupabaseStandIn/standin.py --port 0 --key KEY \
        --bucket videos:public --bucket private-videos:private [--data-dir DIR]

Prints exactly one line, ``listening http://127.0.0.1:PORT``, on stdout once the
socket listens; everything else (errors, --verbose request log) goes to stderr.

It answers like the real Storage API, quirks included:

* Every storage request needs ``Authorization: Bearer KEY`` *and* ``apikey: KEY``
  (except public downloads and signed-URL downloads).
* REST errors (object, info, bucket, sign routes) are answered with HTTP 400 and
  ``{"statusCode": "<real code as a string>", "error": ..., "message": ...}``;
  only 416 (Range), injected faults (429/5xx, "down" 503) and unknown routes
  (404) carry their own HTTP status.
* TUS (``/storage/v1/upload/resumable``) answers with real HTTP statuses
  (201/204/200, 400, 403, 404, 409, 412, 413, 415) and the same JSON error body.
  Chunks must be exactly 6 MiB except the last one (which may be 1..6 MiB).

Test-only control API (no auth): CONTROL_HELP below, `--help`, or GET /_control/help.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import email.utils
import hashlib
import hmac
import http
import json
import os
import signal
import socket
import sys
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote

CONTROL_HELP = """\
Control API (no auth; not recorded in /_control/requests):

POST /_control/faults    body: one object or a list of objects, each ONE of
    {"fail": N, "status": 503, "retry_after": 2, "match": "/storage/v1/object", "method": "POST", "skip": 0}
    {"drop": N, "after_bytes": K, "rst": false, "match": ..., "method": ..., "skip": 0}
    {"stall": N, "seconds": S, "match": ..., "method": ..., "skip": 0}
    {"down": true} | {"down": false}
  "down" may be combined with one of fail/drop/stall in the same object.
  Each fail/drop/stall object appends ONE entry to a FIFO queue. For every
  storage request (path starting with /storage/v1): if down, answer 503 (the
  queue is not consumed); else the FIRST queue entry whose "match" is a prefix of
  the request path (without query; default "/storage/v1") and whose "method"
  (default any) equals the request method takes the request: while its "skip"
  is > 0 it lets the request through untouched and decrements skip; otherwise
  it applies its fault and decrements its count, and is removed at 0. So
  [{"fail":2},{"drop":1}] fails two requests then drops the third, and
  {"drop":1,"method":"PATCH","skip":1} drops the second PATCH.
    fail:  the request body is read, then the answer is HTTP <status> (default
           503) with body {"statusCode": "<status>", "error": <reason>, "message":
           "injected fault"} and Retry-After: <retry_after> if given (any status).
    drop:  K bytes of the (decoded) request body are read (default 0; the whole
           body if shorter), then the connection is closed with no answer
           (shutdown; "rst": true sends a TCP RST instead of FIN).
    stall: nothing is read or answered for S seconds (default 5), then the
           connection is closed with no answer.
  Answer: {"queue": [...], "down": bool}.   GET = same; DELETE = clear all.
GET  /_control/objects   {"bucket/path": {"size": n, "sha256": hex, "content_type": t}}
                         (?detail=1 adds id, cache_control, created_at, updated_at)
GET  /_control/object/{bucket}/{path}   the raw bytes (404 if missing)
GET  /_control/requests  [{"seq", "time", "conn", "method", "path", "query",
                          "status" (null when dropped/stalled), "bytes" (body
                          bytes received), "fault" (null|"fail"|"drop"|"stall"|
                          "down"), "headers": {lower-case name: value} for
                          upload-offset, upload-length, upload-metadata,
                          x-upsert, content-type, content-length,
                          transfer-encoding, cache-control, range, tus-resumable,
                          expect}]   (?since=SEQ: only seq > SEQ; DELETE clears)
GET  /_control/uploads   TUS uploads: [{"id", "key", "offset", "length",
                          "expires_at", "done"}]
POST /_control/expire_uploads   every TUS upload expires now
POST /_control/buckets   {"id": "x", "public": false, "allowed_mime_types":
                          ["video/mp4"], "file_size_limit": null} -> bucket JSON
GET  /_control/buckets   list of buckets
POST /_control/config    {"max_object_bytes": n, "tus_expiry_seconds": s}
                          (partial; answer: the whole config)
POST /_control/reset     objects, uploads, faults, down, request log, runtime
                          buckets and config back to the command-line state
"""

STORAGE = "/storage/v1"
TUS_PATH = STORAGE + "/upload/resumable"
TUS_CHUNK = 6 * 1024 * 1024
READ_BLOCK = 256 * 1024
RECORDED_HEADERS = ("upload-offset", "upload-length", "upload-metadata", "x-upsert",
                    "content-type", "content-length", "transfer-encoding",
                    "cache-control", "range", "tus-resumable", "expect")
MAX_REQUEST_LOG = 20000


class StorageError(Exception):
    """An error answered as {"statusCode": str(code), "error", "message"}.

    http_status None means "the Storage REST quirk": HTTP 400.
    """

    def __init__(self, code, error, message, http_status=None, headers=None):
        super().__init__(message)
        self.code = code
        self.error = error
        self.message = message
        self.http_status = http_status
        self.headers = headers or {}


def err_unauthorized(msg="Invalid Compact JWS"):
    return StorageError(403, "Unauthorized", msg)


def err_bucket_not_found():
    return StorageError(404, "Bucket not found", "Bucket not found")


def err_object_not_found():
    return StorageError(404, "not_found", "Object not found")


def err_duplicate():
    return StorageError(409, "Duplicate", "The resource already exists")


def err_too_large():
    return StorageError(413, "Payload too large", "The object exceeded the maximum allowed size")


def err_mime(mime):
    return StorageError(415, "invalid_mime_type", f"mime type {mime} is not supported")


def err_bad(msg, error="Bad Request"):
    return StorageError(400, error, msg)


def http_date(ts):
    return email.utils.formatdate(ts, usegmt=True)


def iso(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + ".%03dZ" % int((ts % 1) * 1000)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class ClientGone(Exception):
    pass


# --------------------------------------------------------------------------- state

class Blobs:
    """Object and upload bytes: in memory, or files under DIR/blobs."""

    def __init__(self, data_dir):
        self.dir = os.path.join(data_dir, "blobs") if data_dir else None
        self.mem = {}
        if self.dir:
            os.makedirs(self.dir, exist_ok=True)

    def _p(self, name):
        return os.path.join(self.dir, name)

    def put(self, name, data: bytes):
        if self.dir:
            tmp = self._p(name + ".tmp")
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, self._p(name))
        else:
            self.mem[name] = bytearray(data)

    def append(self, name, data: bytes):
        if self.dir:
            with open(self._p(name), "ab") as f:
                f.write(data)
        else:
            self.mem.setdefault(name, bytearray()).extend(data)

    def get(self, name) -> bytes:
        if self.dir:
            with open(self._p(name), "rb") as f:
                return f.read()
        return bytes(self.mem[name])

    def delete(self, name):
        if self.dir:
            try:
                os.remove(self._p(name))
            except FileNotFoundError:
                pass
        else:
            self.mem.pop(name, None)

    def clear(self):
        if self.dir:
            for n in os.listdir(self.dir):
                self.delete(n)
        else:
            self.mem.clear()


class State:
    def __init__(self, args):
        self.lock = threading.RLock()
        self.key = args.key
        self.data_dir = args.data_dir
        self.port = 0
        self.verbose = args.verbose
        default_mimes = [m.strip() for m in args.allowed_mime_types.split(",") if m.strip()]
        self.default_mimes = default_mimes
        self.initial_buckets = {}
        now = time.time()
        for spec in args.bucket or []:
            name, _, vis = spec.partition(":")
            if vis not in ("", "public", "private"):
                raise SystemExit(f"--bucket {spec}: visibility must be public or private")
            self.initial_buckets[name] = self._bucket(name, vis == "public", None, None, now)
        self.initial_config = {"max_object_bytes": args.max_object_bytes,
                               "tus_expiry_seconds": args.tus_expiry_seconds}
        self.blobs = Blobs(self.data_dir)
        self.seq = 0
        self._init_runtime()
        if self.data_dir:
            self._load()

    def _bucket(self, name, public, mimes, limit, now):
        return {"id": name, "name": name, "owner": "", "public": bool(public),
                "file_size_limit": limit,
                "allowed_mime_types": list(mimes) if mimes is not None else list(self.default_mimes),
                "created_at": iso(now), "updated_at": iso(now)}

    def _init_runtime(self):
        self.buckets = json.loads(json.dumps(self.initial_buckets))
        self.config = dict(self.initial_config)
        self.objects = {}      # "bucket/path" -> meta
        self.uploads = {}      # upload id -> meta
        self.faults = []
        self.down = False
        self.requests = []

    # persistence (only with --data-dir): buckets, objects and uploads survive restarts
    def _state_file(self):
        return os.path.join(self.data_dir, "state.json")

    def _load(self):
        try:
            with open(self._state_file()) as f:
                saved = json.load(f)
        except FileNotFoundError:
            return
        for name, b in saved.get("buckets", {}).items():
            if name not in self.initial_buckets:
                self.buckets[name] = b
        self.objects = saved.get("objects", {})
        self.uploads = saved.get("uploads", {})

    def save(self):
        if not self.data_dir:
            return
        extra = {n: b for n, b in self.buckets.items() if n not in self.initial_buckets}
        tmp = self._state_file() + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"buckets": extra, "objects": self.objects, "uploads": self.uploads}, f)
        os.replace(tmp, self._state_file())

    def reset(self):
        with self.lock:
            self._init_runtime()
            self.blobs.clear()
            self.save()

    # objects
    def put_object(self, bucket, path, data: bytes, content_type, cache_control, upsert):
        key = f"{bucket}/{path}"
        now = time.time()
        with self.lock:
            old = self.objects.get(key)
            if old is not None and not upsert:
                raise err_duplicate()
            version = uuid.uuid4().hex
            self.blobs.put("o-" + version, data)
            if old is not None:
                self.blobs.delete("o-" + old["version"])
            meta = {
                "id": old["id"] if old else str(uuid.uuid4()),
                "version": version,
                "bucket": bucket, "name": path,
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "etag": '"' + hashlib.md5(data).hexdigest() + '"',
                "content_type": content_type,
                "cache_control": cache_control,
                "created_at": old["created_at"] if old else now,
                "updated_at": now,
            }
            self.objects[key] = meta
            self.save()
            return meta

    def object_bytes(self, meta):
        with self.lock:
            return self.blobs.get("o-" + meta["version"])

    def delete_object(self, key):
        with self.lock:
            meta = self.objects.pop(key, None)
            if meta:
                self.blobs.delete("o-" + meta["version"])
                self.save()
            return meta

    # TUS
    def expire_uploads(self, now=None):
        now = time.time() if now is None else now
        with self.lock:
            gone = [uid for uid, u in self.uploads.items() if u["expires_at"] <= now]
            for uid in gone:
                self.blobs.delete("u-" + uid)
                del self.uploads[uid]
            if gone:
                self.save()

    def drop_upload(self, uid):
        with self.lock:
            if self.uploads.pop(uid, None) is not None:
                self.blobs.delete("u-" + uid)
                self.save()

    # request log
    def record(self, entry):
        with self.lock:
            self.seq += 1
            entry["seq"] = self.seq
            self.requests.append(entry)
            if len(self.requests) > MAX_REQUEST_LOG:
                del self.requests[: len(self.requests) - MAX_REQUEST_LOG]

    def take_fault(self, method, path):
        with self.lock:
            if self.down:
                return {"kind": "down"}
            for f in self.faults:
                if path.startswith(f["match"]) and (f["method"] is None or f["method"] == method):
                    if f["skip"] > 0:  # this entry lets the request through untouched
                        f["skip"] -= 1
                        return None
                    f["remaining"] -= 1
                    if f["remaining"] <= 0:
                        self.faults.remove(f)
                    return dict(f)
            return None

    # signed URLs: HS256 JWTs with {"url": "bucket/path", "iat", "exp"}; exp is fractional
    def sign(self, bucket_path, expires_in):
        now = time.time()
        header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
        payload = b64url(json.dumps({"url": bucket_path, "iat": int(now),
                                     "exp": round(now + expires_in, 3)},
                                    separators=(",", ":")).encode())
        sig = hmac.new(self.key.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{b64url(sig)}"

    def verify(self, token, bucket_path):
        parts = token.split(".")
        if len(parts) != 3:
            raise StorageError(400, "InvalidJWT", "jwt malformed")
        try:
            sig = b64url_decode(parts[2])
            payload = json.loads(b64url_decode(parts[1]))
        except (ValueError, binascii.Error):
            raise StorageError(400, "InvalidJWT", "jwt malformed")
        want = hmac.new(self.key.encode(), f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(sig, want):
            raise StorageError(400, "InvalidJWT", "invalid signature")
        exp = payload.get("exp")
        if not isinstance(exp, (int, float)) or time.time() >= exp:
            raise StorageError(400, "InvalidJWT", "jwt expired")
        if payload.get("url") != bucket_path:
            raise StorageError(400, "InvalidSignature", "The url do not match the signature")


# --------------------------------------------------------------------------- HTTP

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SupabaseStorageStandIn/1.0"

    def version_string(self):
        return self.server_version
    timeout = 300  # idle keep-alive connections are closed after this

    state: State  # set on the class by main()

    # ---- plumbing
    def log_message(self, format, *args):
        if self.state.verbose:
            sys.stderr.write("standin: %s - %s\n" % (self.address_string(), format % args))

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_PATCH = do_HEAD = do_DELETE = do_OPTIONS = do_GET

    def dispatch(self):
        self.body_bytes = 0
        self.status_sent = None
        self.body_consumed = False
        self.log_entry = None
        # The target as sent: http.server collapses a leading "//" in self.path, but
        # the real gateway does not route "//storage/v1/..." (answered 404 here too).
        try:
            target = self.raw_requestline.decode("iso-8859-1").split()[1]
        except (IndexError, UnicodeDecodeError):
            target = self.path
        path, _, query = target.partition("?")
        self.req_path = path.split("#", 1)[0]
        self.query = parse_qs(query, keep_blank_values=True)
        self.raw_query = query
        try:
            if self.req_path.startswith("/_control/") or self.req_path == "/_control":
                self.handle_control()
                return
            self.handle_storage()
        except ClientGone:
            self.close_connection = True
        except (ConnectionError, socket.timeout):
            self.close_connection = True
        except StorageError as e:
            self.send_error_json(e)
        except Exception:  # a bug in the stand-in: say so loudly, answer 500
            traceback.print_exc(file=sys.stderr)
            try:
                self.send_error_json(StorageError(500, "Internal", "stand-in crashed", 500))
            except Exception:
                self.close_connection = True

    def hdr(self, name, default=None):
        v = self.headers.get(name)
        return default if v is None else v.strip()

    def send(self, status, body=b"", headers=None, content_type="application/json",
             content_length=None):
        """One response with a correct Content-Length (none on 204/1xx)."""
        if not self.body_consumed:
            self.drain_body()
        self.status_sent = status
        self.record_request()
        self.send_response(status)
        hs = dict(headers or {})
        if content_type and status != 204:
            hs.setdefault("Content-Type", content_type)
        if status != 204:
            hs["Content-Length"] = str(len(body) if content_length is None else content_length)
        for k, v in hs.items():
            self.send_header(k, str(v))
        self.end_headers()
        if self.command != "HEAD" and status != 204 and body:
            self.wfile.write(body)

    def send_json(self, status, obj, headers=None):
        self.send(status, json.dumps(obj).encode(), headers)

    def send_error_json(self, e: StorageError):
        status = e.http_status or 400
        body = {"statusCode": str(e.code), "error": e.error, "message": e.message}
        self.send_json(status, body, e.headers)

    # ---- request bodies: Content-Length or chunked
    def _body_blocks(self, budget=None):
        """Yield the decoded body in blocks; never read more than `budget` body bytes."""
        te = (self.hdr("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            yield from self._read_chunked(budget)
            return
        cl = self.hdr("Content-Length")
        if cl is None:
            return
        if not cl.isdigit():
            self.close_connection = True
            raise err_bad("invalid content-length")
        n = int(cl)
        if budget is not None:
            n = min(n, budget)
        while n > 0:
            block = self.rfile.read(min(READ_BLOCK, n))
            if not block:
                raise ClientGone()
            n -= len(block)
            yield block

    def _read_chunked(self, budget):
        seen = 0
        while True:
            line = self.rfile.readline(65537)
            if not line:
                raise ClientGone()
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                self.close_connection = True
                raise err_bad("invalid chunked encoding")
            if size == 0:
                while True:  # trailers, then the empty line
                    t = self.rfile.readline(65537)
                    if not t:
                        raise ClientGone()
                    if t in (b"\r\n", b"\n"):
                        return
            left = size
            while left > 0:
                take = min(READ_BLOCK, left)
                if budget is not None:
                    take = min(take, budget - seen)
                    if take <= 0:
                        return
                block = self.rfile.read(take)
                if not block:
                    raise ClientGone()
                left -= len(block)
                seen += len(block)
                yield block
            if self.rfile.readline(3) not in (b"\r\n", b"\n"):
                self.close_connection = True
                raise err_bad("invalid chunked encoding")

    def read_body(self, limit=None, stop_after=None):
        """Read the request body; returns (data, bytes received).

        data is None when the body is over `limit` (the rest is then read and thrown
        away, so the connection stays usable). With stop_after, at most that many
        body bytes are read from the socket (for the drop fault).
        """
        self.body_consumed = True
        parts = []
        total = 0
        over = False
        for block in self._body_blocks(stop_after):
            total += len(block)
            self.body_bytes = total
            if limit is not None and total > limit:
                over = True
                parts = []
            if not over:
                parts.append(block)
        return (None if over else b"".join(parts)), total

    def drain_body(self):
        if self.body_consumed:
            return
        try:
            self.read_body(limit=0)
        except StorageError:
            pass

    def record_request(self):
        """Log the storage request before its client can see the outcome, so a test that
        reads the log (or resets it) right after an answer never races the handler."""
        entry, self.log_entry = self.log_entry, None
        if entry is not None:
            entry["status"] = self.status_sent
            entry["bytes"] = self.body_bytes
            self.state.record(entry)

    def abort_connection(self, rst=False):
        self.close_connection = True
        self.record_request()
        try:
            if rst:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           b"\x01\x00\x00\x00\x00\x00\x00\x00")
                self.connection.close()
            else:
                self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # ---- storage routes
    def check_auth(self):
        auth = self.hdr("Authorization")
        apikey = self.hdr("apikey")
        if auth is None:
            raise err_unauthorized("headers must have required property 'authorization'")
        if apikey is None:
            raise err_unauthorized("headers must have required property 'apikey'")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or token.strip() != self.state.key or apikey != self.state.key:
            raise err_unauthorized("invalid signature")

    def handle_storage(self):
        st = self.state
        method = self.command
        entry = {"time": time.time(), "conn": self.client_address[1], "method": method,
                 "path": self.req_path, "query": self.raw_query,
                 "headers": {h: self.headers[h] for h in RECORDED_HEADERS if self.headers.get(h) is not None},
                 "status": None, "bytes": 0, "fault": None}
        self.log_entry = entry
        try:
            fault = st.take_fault(method, self.req_path) if self.req_path.startswith(STORAGE) else None
            if fault:
                entry["fault"] = fault["kind"]
                self.apply_fault(fault)
            else:
                try:
                    self.route_storage()
                except StorageError as e:
                    self.send_error_json(e)
        finally:
            self.record_request()

    def apply_fault(self, f):
        kind = f["kind"]
        if kind == "down":
            self.send_error_json(StorageError(503, "Service Unavailable",
                                              "storage is down (stand-in)", 503))
        elif kind == "fail":
            status = f["status"]
            headers = {}
            if f.get("retry_after") is not None:
                headers["Retry-After"] = str(f["retry_after"])
            try:
                reason = http.HTTPStatus(status).phrase
            except ValueError:
                reason = "Error"
            self.send_error_json(StorageError(status, reason, "injected fault", status, headers))
        elif kind == "drop":
            try:
                self.read_body(stop_after=f["after_bytes"])
            except StorageError:
                pass
            self.abort_connection(f.get("rst", False))
        elif kind == "stall":
            time.sleep(f["seconds"])
            self.abort_connection()

    def route_storage(self):
        p = self.req_path
        m = self.command
        if p == TUS_PATH or p.startswith(TUS_PATH + "/"):
            return self.handle_tus(p[len(TUS_PATH):].lstrip("/"))
        if not p.startswith(STORAGE + "/"):
            raise StorageError(404, "Not Found", f"Route {m}:{p} not found", 404)
        rest = p[len(STORAGE) + 1:]
        if rest == "bucket" and m == "GET":
            self.check_auth()
            with self.state.lock:
                return self.send_json(200, list(self.state.buckets.values()))
        if rest.startswith("bucket/") and m == "GET":
            self.check_auth()
            return self.get_bucket(unquote(rest[len("bucket/"):]))
        if rest.startswith("object/"):
            rest = rest[len("object/"):]
            first, _, tail = rest.partition("/")
            if first == "info" and m in ("GET", "HEAD"):
                self.check_auth()
                return self.object_info(*self.split_key(tail))
            if first == "public" and m in ("GET", "HEAD"):
                return self.public_download(*self.split_key(tail))
            if first == "sign":
                if m == "POST":
                    self.check_auth()
                    return self.sign_object(*self.split_key(tail))
                if m in ("GET", "HEAD"):
                    return self.signed_download(*self.split_key(tail))
            if first == "authenticated" and m in ("GET", "HEAD"):
                self.check_auth()
                return self.auth_download(*self.split_key(tail))
            if m in ("POST", "PUT"):
                self.check_auth()
                return self.upload(*self.split_key(rest), upsert_forced=(m == "PUT"))
            if m in ("GET", "HEAD"):
                self.check_auth()
                return self.auth_download(*self.split_key(rest))
            if m == "DELETE":
                self.check_auth()
                if "/" in rest:
                    return self.delete_one(*self.split_key(rest))
                return self.delete_many(unquote(rest))
        raise StorageError(404, "Not Found", f"Route {m}:{p} not found", 404)

    def split_key(self, s):
        bucket, _, path = s.partition("/")
        bucket, path = unquote(bucket), unquote(path)
        if not bucket:
            raise err_bucket_not_found()
        if not path or path.startswith("/") or "//" in path or any(
                seg in (".", "..") for seg in path.split("/")):
            raise StorageError(400, "InvalidKey", f"Invalid key: {path}")
        return bucket, path

    def bucket(self, name):
        with self.state.lock:
            b = self.state.buckets.get(name)
            return dict(b) if b else None

    def limit_for(self, b):
        lim = self.state.config["max_object_bytes"]
        if b.get("file_size_limit"):
            lim = min(lim, int(b["file_size_limit"]))
        return lim

    def check_mime(self, b, content_type):
        mime = (content_type or "").split(";", 1)[0].strip().lower()
        allowed = b.get("allowed_mime_types")
        if not mime:
            mime = "text/plain"  # what supabase clients send without a type
        if allowed:
            ok = False
            for a in allowed:
                a = a.lower()
                if a == mime or (a.endswith("/*") and mime.startswith(a[:-1])) or a == "*/*":
                    ok = True
            if not ok:
                raise err_mime(mime)
        return content_type or "text/plain;charset=UTF-8"

    def get_bucket(self, name):
        b = self.bucket(name)
        if not b:
            raise err_bucket_not_found()
        self.send_json(200, b)

    def upload(self, bucket, path, upsert_forced):
        b = self.bucket(bucket)
        if not b:
            raise err_bucket_not_found()
        upsert = upsert_forced or (self.hdr("x-upsert", "false").lower() == "true")
        ctype = self.check_mime(b, self.hdr("Content-Type"))
        limit = self.limit_for(b)
        cl = self.hdr("Content-Length")
        if cl is not None and cl.isdigit() and int(cl) > limit:
            self.drain_body()
            raise err_too_large()
        data, _ = self.read_body(limit=limit)
        if data is None:
            raise err_too_large()
        meta = self.state.put_object(bucket, path, data, ctype,
                                     self.hdr("cache-control", "no-cache"), upsert)
        self.send_json(200, {"Key": f"{bucket}/{path}", "Id": meta["id"]})

    def find_object(self, bucket, path):
        if not self.bucket(bucket):
            raise err_bucket_not_found()
        with self.state.lock:
            meta = self.state.objects.get(f"{bucket}/{path}")
            meta = dict(meta) if meta else None
        if not meta:
            raise err_object_not_found()
        return meta

    def object_info(self, bucket, path):
        meta = self.find_object(bucket, path)
        self.send_json(200, {
            "id": meta["id"], "name": path, "bucket_id": bucket, "version": meta["version"],
            "size": meta["size"], "content_type": meta["content_type"],
            "cache_control": meta["cache_control"], "etag": meta["etag"],
            "metadata": {}, "last_modified": iso(meta["updated_at"]),
            "created_at": iso(meta["created_at"]),
        })

    def public_download(self, bucket, path):
        b = self.bucket(bucket)
        if not b or not b["public"]:
            raise err_bucket_not_found()
        self.serve_object(bucket, path)

    def auth_download(self, bucket, path):
        self.serve_object(bucket, path)

    def sign_object(self, bucket, path):
        data, _ = self.read_body(limit=1 << 20)
        try:
            body = json.loads(data or b"{}")
        except ValueError:
            raise err_bad("Body is not valid JSON")
        exp = body.get("expiresIn") if isinstance(body, dict) else None
        if isinstance(exp, bool) or not isinstance(exp, (int, float)) or exp <= 0:
            raise err_bad("body must have required property 'expiresIn'")
        self.find_object(bucket, path)
        token = self.state.sign(f"{bucket}/{path}", float(exp))
        url = f"/object/sign/{quote(bucket, safe='')}/{quote(path, safe='/')}?token={token}"
        self.send_json(200, {"signedURL": url})

    def signed_download(self, bucket, path):
        token = (self.query.get("token") or [None])[0]
        if not token:
            raise StorageError(400, "InvalidJWT", "querystring must have required property 'token'")
        self.state.verify(token, f"{bucket}/{path}")
        self.serve_object(bucket, path)

    def delete_one(self, bucket, path):
        self.find_object(bucket, path)
        self.state.delete_object(f"{bucket}/{path}")
        self.send_json(200, {"message": "Successfully deleted"})

    def delete_many(self, bucket):
        if not self.bucket(bucket):
            raise err_bucket_not_found()
        data, _ = self.read_body(limit=1 << 20)
        try:
            prefixes = json.loads(data or b"{}").get("prefixes") or []
        except (ValueError, AttributeError):
            raise err_bad("body must have required property 'prefixes'")
        out = []
        for name in prefixes:
            meta = self.state.delete_object(f"{bucket}/{name}")
            if meta:
                out.append({"name": name, "bucket_id": bucket, "id": meta["id"]})
        self.send_json(200, out)

    def serve_object(self, bucket, path):
        self.drain_body()
        with self.state.lock:  # metadata and bytes of the same version
            meta = self.find_object(bucket, path)
            data = self.state.object_bytes(meta)
        size = len(data)
        headers = {"Accept-Ranges": "bytes", "ETag": meta["etag"],
                   "Last-Modified": http_date(meta["updated_at"]),
                   "Cache-Control": meta["cache_control"] or "no-cache"}
        if "download" in self.query:
            name = self.query["download"][0] or meta["name"].rsplit("/", 1)[-1]
            headers["Content-Disposition"] = f'attachment; filename="{name}"'
        ctype = meta["content_type"]
        rng = self.parse_range(self.hdr("Range"), size)
        if rng == "unsatisfiable":
            headers["Content-Range"] = f"bytes */{size}"
            e = StorageError(416, "InvalidRange", "The requested range is not satisfiable", 416, headers)
            return self.send_error_json(e)
        if rng is None:
            return self.send(200, data, headers, ctype)
        start, end = rng
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        return self.send(206, data[start:end + 1], headers, ctype)

    @staticmethod
    def parse_range(value, size):
        """None (serve all), (start, end) inclusive, or "unsatisfiable"."""
        if not value:
            return None
        unit, _, spec = value.partition("=")
        if unit.strip().lower() != "bytes" or "," in spec:
            return None  # unknown unit or multiple ranges: ignore Range
        first, dash, last = spec.strip().partition("-")
        if not dash:
            return None
        try:
            if first == "":
                n = int(last)
                if n <= 0:
                    return "unsatisfiable"
                if size == 0:
                    return "unsatisfiable"
                return (max(0, size - n), size - 1)
            start = int(first)
            end = int(last) if last else size - 1
        except ValueError:
            return None
        if start < 0:
            return None
        if start >= size:
            return "unsatisfiable"
        if end < start:
            return None  # syntactically invalid: Range ignored
        return (start, min(end, size - 1))

    # ---- TUS 1.0.0
    def tus_headers(self, extra=None):
        h = {"Tus-Resumable": "1.0.0"}
        h.update(extra or {})
        return h

    def tus_error(self, status, error, message, extra=None):
        return StorageError(status, error, message, status, self.tus_headers(extra))

    def handle_tus(self, upload_id):
        m = self.command
        if m == "OPTIONS":
            return self.send(204, headers=self.tus_headers({
                "Tus-Version": "1.0.0", "Tus-Extension": "creation,creation-with-upload,expiration,termination",
                "Tus-Max-Size": str(self.state.config["max_object_bytes"])}))
        try:
            self.check_auth()
        except StorageError as e:
            raise self.tus_error(403, e.error, e.message)
        if self.hdr("Tus-Resumable") != "1.0.0":
            raise self.tus_error(412, "Precondition Failed", "Unsupported TUS version",
                                 {"Tus-Version": "1.0.0"})
        if not upload_id:
            if m == "POST":
                return self.tus_create()
            raise self.tus_error(405, "Method Not Allowed", f"{m} not allowed here")
        self.state.expire_uploads()
        with self.state.lock:
            u = self.state.uploads.get(upload_id)
            u = dict(u) if u else None
        if not u:
            raise self.tus_error(404, "Not Found", "Upload not found")
        if m == "HEAD":
            h = {"Upload-Offset": str(u["offset"]), "Upload-Length": str(u["length"]),
                 "Cache-Control": "no-store", "Upload-Expires": http_date(u["expires_at"])}
            if u["metadata_raw"]:
                h["Upload-Metadata"] = u["metadata_raw"]
            return self.send(200, b"", self.tus_headers(h), content_type=None)
        if m == "PATCH":
            return self.tus_patch(upload_id)
        if m == "DELETE":
            self.state.drop_upload(upload_id)
            return self.send(204, headers=self.tus_headers())
        raise self.tus_error(405, "Method Not Allowed", f"{m} not allowed here")

    @staticmethod
    def parse_metadata(raw):
        out = {}
        for pair in (raw or "").split(","):
            pair = pair.strip()
            if not pair:
                continue
            k, _, v = pair.partition(" ")
            try:
                out[k] = base64.b64decode(v.strip(), validate=True).decode() if v.strip() else ""
            except (ValueError, binascii.Error):
                raise ValueError(k)
        return out

    def tus_create(self):
        st = self.state
        raw_meta = self.hdr("Upload-Metadata", "")
        try:
            meta = self.parse_metadata(raw_meta)
        except ValueError as e:
            raise self.tus_error(400, "Bad Request", f"Upload-Metadata: bad value for {e}")
        if self.hdr("Upload-Defer-Length") is not None:
            raise self.tus_error(400, "Bad Request", "Upload-Defer-Length is not supported")
        length = self.hdr("Upload-Length")
        if length is None or not length.isdigit():
            raise self.tus_error(400, "Bad Request", "Upload-Length header required")
        length = int(length)
        bucket, path = meta.get("bucketName"), meta.get("objectName")
        if not bucket or not path:
            raise self.tus_error(400, "Bad Request", "metadata bucketName and objectName are required")
        try:
            bucket, path = self.split_key(quote(bucket, safe="") + "/" + quote(path, safe="/"))
        except StorageError as e:
            raise self.tus_error(400, e.error, e.message)
        b = self.bucket(bucket)
        if not b:
            raise self.tus_error(404, "Bucket not found", "Bucket not found")
        try:
            ctype = self.check_mime(b, meta.get("contentType") or "")
        except StorageError as e:
            raise self.tus_error(415, e.error, e.message)
        if length > self.limit_for(b):
            raise self.tus_error(413, "Payload too large", "The object exceeded the maximum allowed size")
        upsert = self.hdr("x-upsert", "false").lower() == "true"
        key = f"{bucket}/{path}"
        st.expire_uploads()
        now = time.time()
        uid = uuid.uuid4().hex
        with st.lock:
            if key in st.objects and not upsert:
                raise self.tus_error(409, "Duplicate", "The resource already exists")
            for other in st.uploads.values():
                if other["key"] == key and not other["done"]:
                    raise self.tus_error(409, "Conflict",
                                         "The object is already being uploaded (resumable upload in progress)")
            st.uploads[uid] = {
                "id": uid, "key": key, "bucket": bucket, "path": path, "length": length,
                "offset": 0, "content_type": ctype, "upsert": upsert,
                "cache_control": meta.get("cacheControl") or "no-cache",
                "metadata_raw": raw_meta, "created_at": now,
                "expires_at": now + st.config["tus_expiry_seconds"], "done": False,
            }
            st.blobs.put("u-" + uid, b"")
            st.save()
        location = f"http://127.0.0.1:{st.port}{TUS_PATH}/{uid}"
        headers = {"Location": location}
        ct = (self.hdr("Content-Type") or "").lower()
        cl = self.hdr("Content-Length", "0")
        has_body = self.hdr("Transfer-Encoding") is not None or (cl.isdigit() and int(cl) > 0)
        if ct == "application/offset+octet-stream" and has_body:  # creation-with-upload
            try:
                offset = self.tus_append(uid, 0)
            except StorageError as e:
                e.headers.update(headers)
                raise
            headers["Upload-Offset"] = str(offset)
        elif length == 0:
            self.tus_append(uid, 0)
            headers["Upload-Offset"] = "0"
        with st.lock:
            u = st.uploads.get(uid)
            if u:
                headers["Upload-Expires"] = http_date(u["expires_at"])
        self.send(201, b"", self.tus_headers(headers), content_type=None)

    def tus_patch(self, uid):
        if (self.hdr("Content-Type") or "").lower() != "application/offset+octet-stream":
            raise self.tus_error(415, "Unsupported Media Type",
                                 "Content-Type must be application/offset+octet-stream")
        off = self.hdr("Upload-Offset")
        if off is None or not off.isdigit():
            raise self.tus_error(400, "Bad Request", "Upload-Offset header required")
        new_offset = self.tus_append(uid, int(off))
        with self.state.lock:
            u = self.state.uploads.get(uid)
            exp = {"Upload-Expires": http_date(u["expires_at"])} if u else {}
        self.send(204, headers=self.tus_headers({"Upload-Offset": str(new_offset), **exp}))

    def tus_append(self, uid, offset):
        """Read one chunk for upload uid at `offset`; returns the new offset."""
        st = self.state
        with st.lock:
            u = st.uploads.get(uid)
            if not u:
                raise self.tus_error(404, "Not Found", "Upload not found")
            if offset != u["offset"]:
                raise self.tus_error(409, "Conflict",
                                     f"Upload-Offset {offset} does not match the current offset {u['offset']}")
            length, current = u["length"], u["offset"]
        remaining = length - current
        # A chunk is taken whole or not at all (the real server writes 6 MiB parts).
        data, n = self.read_body(limit=TUS_CHUNK)
        if data is None:
            raise self.tus_error(400, "Bad Request", f"chunk of {n} bytes: chunks must be at most "
                                                     f"{TUS_CHUNK} bytes (6 MiB)")
        if n > remaining:
            raise self.tus_error(400, "Bad Request", f"chunk of {n} bytes exceeds the upload length "
                                                     f"({remaining} bytes left)")
        if n != TUS_CHUNK and n != remaining:
            raise self.tus_error(400, "Bad Request",
                                 f"chunk of {n} bytes: every chunk but the last must be exactly "
                                 f"{TUS_CHUNK} bytes (6 MiB)")
        with st.lock:
            u = st.uploads.get(uid)
            if not u:
                raise self.tus_error(404, "Not Found", "Upload not found")
            if u["offset"] != current:  # another PATCH won the race
                raise self.tus_error(409, "Conflict", "Upload-Offset does not match the current offset")
            st.blobs.append("u-" + uid, data)
            u["offset"] = current + n
            if u["offset"] == length and not u["done"]:
                blob = st.blobs.get("u-" + uid)
                try:
                    st.put_object(u["bucket"], u["path"], blob, u["content_type"],
                                  u["cache_control"], u["upsert"])
                except StorageError:
                    st.drop_upload(uid)
                    raise self.tus_error(409, "Duplicate", "The resource already exists")
                u["done"] = True
                st.blobs.put("u-" + uid, b"")  # keep the record (HEAD) but not the bytes
            st.save()
            return u["offset"]

    # ---- control API
    def handle_control(self):
        st = self.state
        p = self.req_path.rstrip("/")
        m = self.command

        def body_json():
            data, _ = self.read_body(limit=1 << 20)
            try:
                return json.loads(data) if data else {}
            except ValueError:
                raise StorageError(400, "Bad Request", "body is not JSON", 400)

        def bad(msg):
            return StorageError(400, "Bad Request", msg, 400)

        if p == "/_control/faults":
            if m == "POST":
                body = body_json()
                items = body if isinstance(body, list) else [body]
                new = []
                down = None
                for it in items:
                    if not isinstance(it, dict):
                        raise bad("each fault must be an object")
                    if "down" in it:
                        down = bool(it["down"])
                    kinds = [k for k in ("fail", "drop", "stall") if k in it]
                    if len(kinds) > 1:
                        raise bad("one of fail/drop/stall per object (post a list for several)")
                    if not kinds:
                        if "down" not in it:
                            raise bad("expected fail, drop, stall or down")
                        continue
                    kind = kinds[0]
                    f = {"kind": kind, "remaining": int(it[kind]), "skip": int(it.get("skip", 0)),
                         "match": it.get("match") or STORAGE,
                         "method": (it.get("method") or None) and it["method"].upper()}
                    if kind == "fail":
                        f["status"] = int(it.get("status", 503))
                        f["retry_after"] = it.get("retry_after")
                    elif kind == "drop":
                        f["after_bytes"] = int(it.get("after_bytes", 0))
                        f["rst"] = bool(it.get("rst", False))
                    else:
                        f["seconds"] = float(it.get("seconds", 5))
                    if f["remaining"] > 0:
                        new.append(f)
                with st.lock:
                    st.faults.extend(new)
                    if down is not None:
                        st.down = down
            elif m == "DELETE":
                with st.lock:
                    st.faults.clear()
                    st.down = False
            elif m != "GET":
                raise bad("GET, POST or DELETE")
            with st.lock:
                return self.send_json(200, {"queue": [dict(f) for f in st.faults], "down": st.down})
        if p == "/_control/objects" and m == "GET":
            detail = "detail" in self.query
            with st.lock:
                out = {}
                for k, o in st.objects.items():
                    out[k] = {"size": o["size"], "sha256": o["sha256"], "content_type": o["content_type"]}
                    if detail:
                        out[k].update({"id": o["id"], "cache_control": o["cache_control"],
                                       "created_at": o["created_at"], "updated_at": o["updated_at"]})
            return self.send_json(200, out)
        if p.startswith("/_control/object/") and m == "GET":
            key = unquote(p[len("/_control/object/"):])
            with st.lock:
                o = st.objects.get(key)
                data = st.blobs.get("o-" + o["version"]) if o else None
            if data is None:
                raise StorageError(404, "not_found", "Object not found", 404)
            return self.send(200, data, content_type=o["content_type"])
        if p == "/_control/requests":
            if m == "DELETE":
                with st.lock:
                    st.requests.clear()
                return self.send_json(200, [])
            since = int((self.query.get("since") or ["0"])[0] or 0)
            with st.lock:
                out = [dict(r) for r in st.requests if r["seq"] > since]
            return self.send_json(200, out)
        if p == "/_control/uploads" and m == "GET":
            st.expire_uploads()
            with st.lock:
                out = [{k: u[k] for k in ("id", "key", "offset", "length", "expires_at", "done")}
                       for u in st.uploads.values()]
            return self.send_json(200, out)
        if p == "/_control/expire_uploads" and m == "POST":
            self.drain_body()
            with st.lock:
                for u in st.uploads.values():
                    u["expires_at"] = time.time() - 1
            st.expire_uploads()
            return self.send_json(200, {"ok": True})
        if p == "/_control/buckets":
            if m == "POST":
                body = body_json()
                if not isinstance(body, dict) or not body.get("id"):
                    raise bad('expected {"id": ..., "public": bool}')
                name = str(body["id"])
                with st.lock:
                    st.buckets[name] = st._bucket(name, body.get("public", False),
                                                  body.get("allowed_mime_types"),
                                                  body.get("file_size_limit"), time.time())
                    st.save()
                    return self.send_json(200, st.buckets[name])
            with st.lock:
                return self.send_json(200, list(st.buckets.values()))
        if p == "/_control/config":
            if m == "POST":
                body = body_json()
                with st.lock:
                    for k in ("max_object_bytes", "tus_expiry_seconds"):
                        if k in body:
                            st.config[k] = float(body[k]) if k == "tus_expiry_seconds" else int(body[k])
            with st.lock:
                return self.send_json(200, dict(st.config))
        if p == "/_control/reset" and m == "POST":
            self.drain_body()
            st.reset()
            return self.send_json(200, {"ok": True})
        if p == "/_control/help":
            return self.send(200, CONTROL_HELP.encode(), content_type="text/plain; charset=utf-8")
        raise StorageError(404, "Not Found", f"no control route {m} {p}", 404)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def main(argv=None):
    ap = argparse.ArgumentParser(description="Local stand-in for Supabase Storage (tests only).",
                                 epilog=CONTROL_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=0, help="0 = any free port")
    ap.add_argument("--key", required=True, help="the only accepted API key (Bearer and apikey)")
    ap.add_argument("--bucket", action="append", metavar="NAME[:public|:private]",
                    help="a bucket (private unless :public); repeatable")
    ap.add_argument("--data-dir", help="keep objects, buckets and TUS uploads here (default: memory)")
    ap.add_argument("--max-object-bytes", type=int, default=50 * 1024 * 1024)
    ap.add_argument("--tus-expiry-seconds", type=float, default=3600.0)
    ap.add_argument("--allowed-mime-types", default="video/mp4",
                    help="comma-separated default allowed types of buckets (default video/mp4)")
    ap.add_argument("--verbose", action="store_true", help="log requests on stderr")
    args = ap.parse_args(argv)

    state = State(args)
    Handler.state = state
    server = Server(("127.0.0.1", args.port), Handler)
    state.port = server.server_address[1]
    # SIGTERM stops it like Ctrl-C. A parent may have spawned it with signals
    # blocked or ignored (a Swift test runner does): undo both.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.stdout.write(f"listening http://127.0.0.1:{state.port}\n")
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
