"""What `make install` puts in place: a `reel` that runs where Swift is not
installed, alone in an empty folder, with its page inside it; and systemd units
that systemd accepts.

The installed tree comes from $REEL_INSTALLED (`make test` installs into
.build/install-test first); without it the test runs `make install` itself.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests

from conftest import REPO, decode_errors, ffprobe, fixture_bytes, free_port, poll

FRAMES = [fixture_bytes(f"frame-1280x720-420-{i}.jpg") for i in (1, 2, 3)]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    given = os.environ.get("REEL_INSTALLED")
    if given:
        return Path(given)
    destination = tmp_path_factory.mktemp("install")
    subprocess.run(["make", "-C", str(REPO), "install", f"DESTDIR={destination}"], check=True, timeout=3600,
                   capture_output=True)
    return destination


def libraries(binary: Path) -> list[Path]:
    """The shared libraries the binary loads, as the dynamic loader finds them here."""
    out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True, timeout=60).stdout
    found = []
    for line in out.splitlines():
        match = re.search(r"(/\S+) \(0x", line)
        if match:
            found.append(Path(match.group(1)))
    return found


def rss_kb(pid: int) -> int:
    return int(re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text()).group(1))


def test_the_binary_needs_no_swift_library(installed):
    binary = installed / "usr/local/bin/reel"
    names = [str(lib) for lib in libraries(binary)]
    assert names, "ldd found no library"
    swift = [n for n in names if "swift" in n.lower() or "Foundation" in n or "dispatch" in n.lower()]
    assert swift == [], f"linked to Swift's runtime: {swift}"


@pytest.mark.timeout(300)
def test_the_binary_alone_in_a_root_without_swift_serves_its_page_records_and_plays(installed, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("chroot needs root")
    binary = installed / "usr/local/bin/reel"
    # A root holding nothing but the binary in an empty folder and the system libraries ldd names.
    root = tmp_path / "root"
    (root / "srv/reel").mkdir(parents=True)
    shutil.copy2(binary, root / "srv/reel/reel")
    for lib in libraries(binary):
        target = root / lib.relative_to("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(lib.resolve(), target)
    assert not any(p.name.startswith("libswift") for p in root.rglob("*"))
    # Every Linux system has /proc (Swift's runtime reads the arguments there).
    (root / "proc").mkdir()
    subprocess.run(["mount", "-t", "proc", "proc", str(root / "proc")], check=True, timeout=30)

    port = free_port()

    def enter_root():  # pragma: no cover - runs in the child
        os.chroot(root)
        os.chdir("/srv/reel")

    started = time.monotonic()
    log = open(tmp_path / "serve.log", "w+")
    proc = subprocess.Popen(["/srv/reel/reel", "serve", "--host", "127.0.0.1", "--port", str(port), "--min-free", "1M"],
                            preexec_fn=enter_root, stdout=log, stderr=subprocess.STDOUT, env={})
    base = f"http://127.0.0.1:{port}"
    try:
        def healthy():
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"reel serve exited with {proc.returncode}:\n{log.read()}")
            try:
                return requests.get(base + "/healthz", timeout=2).status_code == 200
            except requests.RequestException:
                return False
        poll(healthy, 30, what="the installed reel serve")
        listening = time.monotonic() - started
        idle_kb = rss_kb(proc.pid)

        page = requests.get(base + "/", timeout=10)
        assert page.status_code == 200 and "<html" in page.text.lower()
        assert requests.get(base + "/assets/app.js", timeout=10).status_code == 200
        spec = requests.get(base + "/openapi.yaml", timeout=10)
        assert spec.status_code == 200 and spec.text.startswith("openapi: 3.1")

        created = requests.get(base + "/video/create_video", timeout=10)
        assert created.status_code == 200, created.text
        rid = created.json()["id"]
        for i in range(27):
            r = requests.post(base + "/video/video_upload", params={"id": rid}, data=FRAMES[i % 3],
                              headers={"Content-Type": "image/jpeg"}, timeout=30)
            assert r.status_code == 200, r.text
        finished = requests.get(base + "/video/finish_video", params={"id": rid}, timeout=60)
        assert finished.status_code == 200, finished.text
        video = requests.get(finished.json()["video url"], timeout=30)
        assert video.status_code == 200
        (tmp_path / "v.mp4").write_bytes(video.content)
        info = ffprobe(tmp_path / "v.mp4")
        assert info["codec"] == "h264" and info["frames"] == 27, info
        assert decode_errors(tmp_path / "v.mp4") == ""
        assert (root / "srv/reel/data/videos").is_dir(), "data lives beside the binary's working folder"

        print(f"\ninstalled reel: {binary.stat().st_size / 1e6:.1f} MB, listening after {listening:.2f} s, "
              f"RSS {idle_kb / 1024:.1f} MiB idle, {rss_kb(proc.pid) / 1024:.1f} MiB after one recording")
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        subprocess.run(["umount", "-l", str(root / "proc")], timeout=30)
    assert proc.returncode == 0
    log.seek(0)
    assert "reel stopped: 0 recordings in progress finished" in log.read()


def test_systemd_accepts_both_units(installed, tmp_path):
    units = installed / "usr/local/lib/systemd/system"
    binary = installed / "usr/local/bin/reel"
    assert (installed / "etc/reel/reel.env").is_file()
    # The units name /usr/local/bin/reel; systemd-analyze checks that the command exists, so point
    # them at the installed copy, changing nothing else.
    for name in ("reel.service", "reel-capture@.service"):
        text = (units / name).read_text()
        assert "ExecStart=/usr/local/bin/reel " in text
        (tmp_path / name).write_text(text.replace("/usr/local/bin/reel", str(binary)))
    result = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "reel.service"),
                             str(tmp_path / "reel-capture@video0.service")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr
