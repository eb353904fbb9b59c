"""A real PostgreSQL 15 from Debian's packages for the tests: initdb'd and started
by the test run itself, on a free loopback port, as an unprivileged user (the
`postgres` user when the tests run as root, which initdb refuses), without
fsync (a test database is thrown away). One server per test session; each test
asks for a database of its own.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from conftest import _die_with_parent, free_port, poll

PG_BIN = Path("/usr/lib/postgresql/15/bin")
USER = "reel"


class PostgresServer:
    def __init__(self):
        # Not under pytest's tmp: its folder is 0700 to root, which the postgres user cannot enter.
        self.folder = Path(tempfile.mkdtemp(prefix="reel-pg-", dir="/tmp"))
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.databases = 0
        self.as_user = {}
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            os.chown(self.folder, account.pw_uid, account.pw_gid)
            self.as_user = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}

    def run(self, *args: str, timeout: float = 60) -> str:
        out = subprocess.run([*args], capture_output=True, text=True, timeout=timeout, **self.as_user)
        assert out.returncode == 0, f"{' '.join(args)}: {out.stderr.strip()}"
        return out.stdout

    def start(self) -> "PostgresServer":
        """initdb's the data folder the first time, then starts the server (again, after `halt`)."""
        assert (PG_BIN / "initdb").exists(), "PostgreSQL 15 is needed: scripts/setup.sh installs postgresql-15"
        data = self.folder / "data"
        if not data.exists():
            self.run(str(PG_BIN / "initdb"), "-D", str(data), "-U", USER, "--auth=trust", "--no-locale", "-E", "UTF8",
                     "-N", "--no-instructions")
        self.log = open(self.folder / "postgres.log", "ab")
        self.proc = subprocess.Popen(
            [str(PG_BIN / "postgres"), "-D", str(data), "-p", str(self.port), "-k", str(self.folder),
             "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
             "-c", "full_page_writes=off"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent,
            **self.as_user)
        poll(lambda: self.proc.poll() is not None or subprocess.run(
            [str(PG_BIN / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)]).returncode == 0,
            timeout=60, interval=0.1, what="PostgreSQL to take connections")
        assert self.proc.poll() is None, f"PostgreSQL exited: {(self.folder / 'postgres.log').read_text()[-2000:]}"
        return self

    def sql(self, statement: str, database: str = "postgres") -> str:
        return self.run(str(PG_BIN / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                        "-p", str(self.port), "-U", USER, "-d", database, "-c", statement)

    def new_database(self) -> str:
        """A database of its own for one test; answers its URL."""
        self.databases += 1
        name = f"reel_test_{self.databases}"
        self.sql(f"CREATE DATABASE {name}")
        return f"postgres://{USER}@127.0.0.1:{self.port}/{name}?sslmode=disable"

    def halt(self):
        """Stops the server, keeping its data: `start` brings it back on the same port."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # fast shutdown: rolls back, closes sessions
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        if hasattr(self, "log"):
            self.log.close()

    def stop(self):
        self.halt()
        shutil.rmtree(self.folder, ignore_errors=True)
