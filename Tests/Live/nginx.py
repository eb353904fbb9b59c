"""Debian's nginx in front of the tests' servers, with the configuration the project ships
(packaging/nginx/reel.conf): its upstream servers and listen address replaced by the test's,
and, for round-robin, its `hash` line taken out. Started by the test on a free loopback port;
its access log says which server each request went to.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import requests

from conftest import REPO, _die_with_parent, free_port, poll

NGINX = Path("/usr/sbin/nginx")
SHIPPED = REPO / "packaging" / "nginx" / "reel.conf"


def rendered(ports: list[int], listen: int, hashing: bool) -> str:
    """The shipped configuration for these servers; fails when its shape is not what the test knows."""
    text = SHIPPED.read_text()
    servers, count = re.subn(r"(    server 127\.0\.0\.1:\d+;\n)+",
                             "".join(f"    server 127.0.0.1:{port};\n" for port in ports), text)
    assert count == 1, "packaging/nginx/reel.conf: no block of `server` lines in `upstream reel`"
    text, count = re.subn(r"listen 80;", f"listen 127.0.0.1:{listen};", servers)
    assert count == 1, "packaging/nginx/reel.conf: no `listen 80;`"
    if not hashing:
        text, count = re.subn(r"    hash \$reel_key consistent;\n", "", text)
        assert count == 1, "packaging/nginx/reel.conf: no `hash $reel_key consistent;`"
    return text


class Nginx:
    def __init__(self, ports: list[int], hashing: bool):
        assert NGINX.exists(), "nginx is needed: scripts/setup.sh installs nginx-light"
        # Not under pytest's tmp (0700 to root): nginx's workers run as nobody when started by root.
        self.folder = Path(tempfile.mkdtemp(prefix="reel-nginx-", dir="/tmp"))
        self.folder.chmod(0o755)
        for temp in ("body", "proxy"):
            (self.folder / temp).mkdir(mode=0o777)
            (self.folder / temp).chmod(0o777)
        self.port = free_port()
        self.hashing = hashing
        self._configure(ports)
        self.proc = subprocess.Popen(
            [str(NGINX), "-c", str(self.folder / "nginx.conf"), "-p", str(self.folder)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(self.folder / "stderr.log", "wb"),
            preexec_fn=_die_with_parent)
        poll(lambda: self.proc.poll() is not None or self.answers(), timeout=20, interval=0.05, what="nginx to listen")
        assert self.proc.poll() is None, f"nginx exited: {self.errors()}"

    def _configure(self, ports: list[int]) -> None:
        (self.folder / "reel.conf").write_text(rendered(ports, self.port, self.hashing))
        user = "user root root;\n" if os.geteuid() == 0 else ""
        (self.folder / "nginx.conf").write_text(f"""
daemon off;
worker_processes 1;
pid {self.folder}/nginx.pid;
error_log {self.folder}/error.log warn;
{user}
events {{ worker_connections 1024; }}
http {{
    log_format upstreams '$request_method $request_uri $status $upstream_addr';
    access_log {self.folder}/access.log upstreams;
    client_body_temp_path {self.folder}/body;
    proxy_temp_path {self.folder}/proxy;
    include {self.folder}/reel.conf;
}}
""")

    def answers(self) -> bool:
        try:
            return requests.get(self.url("/healthz"), timeout=2).status_code == 200
        except requests.RequestException:
            return False

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def headers(self) -> dict[str, str]:
        return {}

    def upstreams(self, method: str, path_prefix: str) -> list[str]:
        """The server each such request went to, in order (the last one tried, when nginx tried several)."""
        found = []
        for line in (self.folder / "access.log").read_text().splitlines():
            parts = line.split(" ")
            if parts[0] == method and parts[1].startswith(path_prefix):
                found.append(parts[3].split(", ")[-1])
        return found

    def errors(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in (self.folder / "stderr.log", self.folder / "error.log")
                         if p.exists())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        shutil.rmtree(self.folder, ignore_errors=True)
