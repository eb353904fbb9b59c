"""Live end-to-end tests of `reel serve`: the real binary, a real socket, real files.

Every test starts its own server(s) with the `server` factory fixture: a
subprocess listening on 127.0.0.1 on a free port, with its working folder,
storage folder and spool folder under the test's tmp_path. Nothing here talks
to anything but loopback.

The binary comes from $REEL_BIN (default: <repo>/.build/debug/reel).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures"
REEL_BIN = Path(os.environ.get("REEL_BIN") or REPO / ".build" / "debug" / "reel")

# Loopback only: never let a proxy from the environment see these requests.
for _name in ("NO_PROXY", "no_proxy"):
    _hosts = [h for h in os.environ.get(_name, "").split(",") if h]
    for _host in ("127.0.0.1", "localhost"):
        if _host not in _hosts:
            _hosts.append(_host)
    os.environ[_name] = ",".join(_hosts)

def _die_with_parent():  # pragma: no cover - runs in the child
    """Linux: the server gets SIGKILL if pytest itself dies without its teardown."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


STARTUP_TIMEOUT = 30.0
HTTP_TIMEOUT = 60.0


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def poll(predicate, timeout: float, interval: float = 0.05, what: str = "condition"):
    """Calls `predicate` until it returns something truthy; returns that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.1f} s waiting for {what}")
        time.sleep(interval)


@dataclass
class ReelServer:
    """One `reel serve` process."""

    port: int
    workdir: Path
    storage_dir: Path
    spool_dir: Path
    log_path: Path
    args: list[str]
    token: str | None = None
    proc: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # --- life cycle -------------------------------------------------------

    def start(self) -> "ReelServer":
        assert REEL_BIN.exists(), f"no reel binary at {REEL_BIN} (set REEL_BIN)"
        # The server reads REEL_* from its environment and a .env file in its
        # working folder; start from a clean environment so only argv counts.
        env = {k: v for k, v in os.environ.items() if not k.startswith("REEL_")}
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [str(REEL_BIN), "serve", *self.args],
                cwd=self.workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent if os.name == "posix" else None,
            )
        self.wait_healthy()
        return self

    def wait_healthy(self, timeout: float = STARTUP_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"reel serve exited with {self.proc.returncode} before it was healthy:\n{self.log()}")
            try:
                r = requests.get(self.url("/healthz"), timeout=2)
                if r.status_code == 200 and r.json() == {"status": "success"}:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"reel serve not healthy after {timeout} s:\n{self.log()}")
            time.sleep(0.05)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM, then waits for the exit; returns the exit code."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    stop = terminate

    def kill(self) -> int:
        """SIGKILL (kill -9), then waits for the exit."""
        if self.proc.poll() is None:
            self.proc.kill()
        return self.proc.wait(timeout=30)

    # --- helpers for the tests -------------------------------------------

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def stored_videos(self) -> list[Path]:
        return sorted(self.storage_dir.glob("video-*.mp4"))

    def spool_files(self) -> list[Path]:
        """Every file in the spool, pending uploads included (not the folders themselves)."""
        return sorted(p for p in self.spool_dir.rglob("*") if p.is_file()) if self.spool_dir.exists() else []


# What a person must never read from reel: a Foundation or NIO error's debug description.
FOREIGN_ERROR_TEXT = re.compile(r"NSCocoaErrorDomain|Error Domain=|UserInfo=|errno:")


def foreign_error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if FOREIGN_ERROR_TEXT.search(line)]


@pytest.fixture(autouse=True)
def messages_are_readable(monkeypatch):
    """Every answer a test receives and every output of a reel command it runs is
    checked for foreign error text; servers' logs are checked by `server`."""
    found: list[str] = []
    send = requests.Session.send

    def checked_send(self, request, **kwargs):
        response = send(self, request, **kwargs)
        if "json" in response.headers.get("content-type", "") and not kwargs.get("stream"):
            found.extend(f"{request.method} {request.url}: {line}" for line in foreign_error_lines(response.text))
        return response

    run = subprocess.run

    def checked_run(args, *rest, **kwargs):
        result = run(args, *rest, **kwargs)
        if isinstance(args, (list, tuple)) and args and str(args[0]) == str(REEL_BIN):
            for stream in (result.stdout, result.stderr):
                if isinstance(stream, bytes):
                    stream = stream.decode(errors="replace")
                found.extend(f"reel {' '.join(map(str, args[1:3]))}: {line}" for line in foreign_error_lines(stream or ""))
        return result

    monkeypatch.setattr(requests.Session, "send", checked_send)
    monkeypatch.setattr(subprocess, "run", checked_run)
    yield
    assert not found, "messages with a foreign error's debug text:\n" + "\n".join(found)


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL 15 for the whole run; `postgres.new_database()` gives a test its own database."""
    from postgres import PostgresServer
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture
def server(tmp_path, request):
    """Factory: `server(**options)` starts a `reel serve` and returns a ReelServer.

    Keyword options become `--option value` (underscores to dashes; a value of
    True is a bare flag). `storage_dir`/`spool_dir`/`workdir` reuse folders (to
    restart on the same spool); `port` reuses a port. Every process still running
    at teardown is killed; its log is printed when the test failed.
    """
    started: list[ReelServer] = []
    counter = [0]

    def start(*, storage_dir: Path | None = None, spool_dir: Path | None = None,
              workdir: Path | None = None, port: int | None = None, **options) -> ReelServer:
        counter[0] += 1
        n = counter[0]
        workdir = workdir or tmp_path / f"cwd{n}"
        storage_dir = storage_dir or tmp_path / f"storage{n}"
        spool_dir = spool_dir or tmp_path / f"spool{n}"
        workdir.mkdir(parents=True, exist_ok=True)
        last_error = None
        for _attempt in range(3):  # a free port can be taken between probe and bind
            p = port or free_port()
            args = ["--host", "127.0.0.1", "--port", str(p),
                    "--storage-dir", str(storage_dir), "--spool-dir", str(spool_dir)]
            # The tests' recordings are small: keep 64M free, not the default 1G,
            # so they run on a machine with a nearly full disk too.
            # A fixed preset, so no test but test_capacity's depends on the machine's cores.
            for key, value in {"min_free": "64M", "preset": "veryfast", **options}.items():
                flag = "--" + key.replace("_", "-")
                args += [flag] if value is True else [flag, str(value)]
            srv = ReelServer(port=p, workdir=workdir, storage_dir=storage_dir, spool_dir=spool_dir,
                             log_path=tmp_path / f"server{n}.log", args=args, token=options.get("token"))
            started.append(srv)
            try:
                return srv.start()
            except RuntimeError as error:
                last_error = error
                if srv.running:
                    srv.kill()
                if port is not None:
                    break
        raise last_error

    yield start

    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    foreign = []
    for srv in started:
        if srv.proc is not None and srv.proc.poll() is None:
            srv.proc.kill()
            srv.proc.wait(timeout=30)
        if failed:
            print(f"\n----- reel serve log ({srv.base}, {srv.log_path}) -----\n{srv.log()}")
        foreign += [f"{srv.log_path.name}: {line}" for line in foreign_error_lines(srv.log())]
    assert not foreign, "reel serve logged a foreign error's debug text:\n" + "\n".join(foreign)


# --- the API, as the original client calls it ------------------------------------


def create(srv: ReelServer) -> str:
    r = requests.get(srv.url("/video/create_video"), headers=srv.headers(), timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "success" and body["id"], body
    return body["id"]


def upload(srv: ReelServer, data: bytes, rid: str | None = None, raw: bool = False) -> requests.Response:
    params = {"id": rid} if rid else None
    if raw:
        headers = {"Content-Type": "image/jpeg", **srv.headers()}
        return requests.post(srv.url("/video/video_upload"), params=params, data=data,
                             headers=headers, timeout=HTTP_TIMEOUT)
    return requests.post(srv.url("/video/video_upload"), params=params, headers=srv.headers(),
                         files={"image": ("image.jpg", data, "image/jpeg")}, timeout=HTTP_TIMEOUT)


def upload_ok(srv: ReelServer, data: bytes, rid: str | None = None, raw: bool = False) -> int:
    r = upload(srv, data, rid, raw)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "success", body
    if rid:
        assert body["id"] == rid
    return body["frames"]


def finish(srv: ReelServer, rid: str | None = None) -> requests.Response:
    params = {"id": rid} if rid else None
    return requests.get(srv.url("/video/finish_video"), params=params, headers=srv.headers(),
                        timeout=HTTP_TIMEOUT)


def finish_ok(srv: ReelServer, rid: str | None = None) -> dict:
    r = finish(srv, rid)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "success", body
    return body


def download(url: str, dest: Path, headers: dict | None = None) -> Path:
    r = requests.get(url, headers=headers, timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, (r.status_code, r.text[:200])
    assert r.headers.get("Content-Type", "").startswith("video/mp4"), r.headers
    dest.write_bytes(r.content)
    return dest


def assert_error(r: requests.Response, status: int) -> dict:
    """A JSON error answer `{"status":"error","message":…}` with `status`."""
    assert r.status_code == status, f"expected {status}, got {r.status_code}: {r.text[:300]}"
    assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers
    body = r.json()
    assert body.get("status") == "error", body
    assert isinstance(body.get("message"), str) and body["message"], body
    return body


# --- media checks ----------------------------------------------------------------


def ffprobe(path: Path) -> dict:
    """The first video stream (with an exact decoded frame count) and the format."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
         "-show_entries", "stream=codec_name,pix_fmt,width,height,nb_read_frames,r_frame_rate,duration",
         "-show_entries", "format=duration,format_name", "-of", "json", str(path)],
        check=True, capture_output=True, text=True, timeout=120).stdout
    info = json.loads(out)
    stream = info["streams"][0]
    return {
        "codec": stream.get("codec_name"),
        "pix_fmt": stream.get("pix_fmt"),
        "width": int(stream["width"]),
        "height": int(stream["height"]),
        "frames": int(stream["nb_read_frames"]),
        "rate": stream.get("r_frame_rate"),
        "duration": float(info["format"]["duration"]),
        "stream_duration": float(stream["duration"]) if "duration" in stream else None,
        "format": info["format"].get("format_name"),
    }


def decode_errors(path: Path) -> str:
    """What `ffmpeg -v error -i f -f null -` prints: empty when the file decodes cleanly."""
    r = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-f", "null", "-"],
                       capture_output=True, text=True, timeout=120)
    return (r.stdout + r.stderr).strip() + ("" if r.returncode == 0 else f" (exit {r.returncode})")


def top_level_boxes(path: Path) -> list[str]:
    """The types of the top-level MP4 boxes, in file order."""
    data = path.read_bytes()
    boxes, offset = [], 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset:offset + 4], "big")
        kind = data[offset + 4:offset + 8].decode("latin-1")
        if size == 1:
            size = int.from_bytes(data[offset + 8:offset + 16], "big")
        elif size == 0:
            size = len(data) - offset
        assert size >= 8, f"bad box size {size} at {offset}"
        boxes.append(kind)
        offset += size
    assert offset == len(data), f"boxes end at {offset}, file is {len(data)} bytes"
    return boxes


THUMB_W, THUMB_H = 64, 36


def rgb_frames(path: Path, w: int = THUMB_W, h: int = THUMB_H) -> list[bytes]:
    """Every frame of `path` (a video or a still) decoded and scaled to w x h rgb24."""
    raw = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-vf", f"scale={w}:{h}",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        check=True, capture_output=True, timeout=120).stdout
    size = w * h * 3
    assert len(raw) % size == 0
    return [raw[i:i + size] for i in range(0, len(raw), size)]


def mean_abs_diff(a: bytes, b: bytes) -> float:
    assert len(a) == len(b)
    return sum(abs(x - y) for x, y in zip(a, b)) / len(a)


def mean_saturation(frame: bytes) -> float:
    """Mean of max(r,g,b) - min(r,g,b) over the pixels: 0 for grays."""
    total = 0
    for i in range(0, len(frame), 3):
        px = frame[i:i + 3]
        total += max(px) - min(px)
    return total / (len(frame) // 3)


# --- recordings by id, stored files, processes, raw sockets, small disks ----------


FRAMES = [fixture_bytes(f"frame-1280x720-420-{i}.jpg") for i in (1, 2, 3)]


def record(srv: ReelServer, frames: int = 3) -> str:
    """A recording in progress with `frames` real 720p frames (raw JPEG bodies)."""
    rid = create(srv)
    for i in range(frames):
        upload_ok(srv, FRAMES[i % 3], rid, raw=True)
    return rid


def stored(srv: ReelServer, frames: int = 3) -> tuple[str, dict]:
    """A stored recording: (id, finish_video's answer)."""
    rid = record(srv, frames)
    return rid, finish_ok(srv, rid)


def metric_samples(srv: ReelServer) -> dict[tuple[str, tuple], float]:
    """/metrics parsed with prometheus_client: (name, sorted label pairs) → value."""
    from prometheus_client.parser import text_string_to_metric_families
    r = requests.get(srv.url("/metrics"), headers=srv.headers(), timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(r.text) for sample in family.samples}


def recording_status(srv: ReelServer, rid: str) -> dict:
    """`GET /video/recordings/<id>`: where one recording stands."""
    r = requests.get(srv.url(f"/video/recordings/{rid}"), headers=srv.headers(), timeout=10)
    assert r.status_code == 200, (r.status_code, r.text[:300])
    return r.json()


def wait_stored(srv: ReelServer, rid: str, timeout: float) -> dict:
    """Polls the recording's status until it is `stored`; returns that status.

    A `failed` recording will never be stored: that fails at once.
    """
    def stored():
        status = recording_status(srv, rid)
        assert status["state"] != "failed", f"recording {rid} failed: {status}"
        return status if status["state"] == "stored" else None
    return poll(stored, timeout=timeout, interval=0.2, what=f"recording {rid} to be stored")


def stored_path(srv: ReelServer, status: dict) -> Path:
    """The file in the storage folder that a stored recording's `video url` names."""
    name = status["video url"].rsplit("/", 1)[1].split("?", 1)[0]
    return srv.storage_dir / name


def free_bytes(path: Path) -> int:
    """Bytes an unprivileged writer may still use on the filesystem of `path`."""
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


def proc_status_kb(pid: int, name: str) -> int | None:
    """A field of /proc/<pid>/status in kB (`VmRSS`, `VmHWM`), or None once the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(name + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def read_http_response(sock: socket.socket, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response from a raw socket: (status, lower-cased headers, body).

    Reads a Content-Length or chunked body; raises socket.timeout when the
    response does not arrive within `timeout`.
    """
    deadline = time.monotonic() + timeout
    data = b""

    def more() -> None:
        nonlocal data
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed in the middle of a response: {data[:300]!r}")
        data += chunk

    while b"\r\n\r\n" not in data:
        more()
    head, _, data = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            while b"\r\n" not in data:
                more()
            size_line, _, data = data.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            while len(data) < size + 2:
                more()
            body, data = body + data[:size], data[size + 2:]
            if size == 0:
                return status, headers, body
    length = int(headers.get("content-length", "0"))
    while len(data) < length:
        more()
    return status, headers, data[:length]


def seconds_until_closed(sock: socket.socket, since: float, timeout: float) -> float | None:
    """Reads (and drops) whatever arrives until the peer closes the connection.

    Returns the seconds from `since` (a time.monotonic()) to the close (EOF or
    reset), or None if the connection is still open `timeout` seconds after `since`.
    """
    deadline = since + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        sock.settimeout(remaining)
        try:
            if not sock.recv(65536):
                return time.monotonic() - since
        except socket.timeout:
            return None
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - since


@pytest.fixture
def tmpfs(tmp_path):
    """Factory: `tmpfs("64m")` mounts a tmpfs of that size and returns its folder.

    A real filesystem that really fills up. Needs root (the test is skipped
    otherwise, or when the mount fails); everything mounted is unmounted at
    teardown. Ask for this fixture before `server`, so the servers are killed
    before their disk goes away.
    """
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        if os.geteuid() != 0:
            pytest.skip("mounting a tmpfs needs root")
        folder = tmp_path / f"tmpfs{len(mounted) + 1}"
        folder.mkdir()
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {(r.stderr or r.stdout).strip()}")
        mounted.append(folder)
        return folder

    try:
        yield mount
    finally:
        for folder in reversed(mounted):
            r = subprocess.run(["umount", str(folder)], capture_output=True, timeout=30)
            if r.returncode != 0:  # still busy: detach it now, the kernel frees it when unused
                subprocess.run(["umount", "-l", str(folder)], capture_output=True, timeout=30)
