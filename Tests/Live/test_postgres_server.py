"""The PostgreSQL the catalog's tests run against starts, takes loopback
connections as the test user, gives each test a database, and stops cleanly."""

from __future__ import annotations

import socket
from pathlib import Path

from postgres import PostgresServer


def test_a_database_per_test_on_loopback(postgres):
    first, second = postgres.new_database(), postgres.new_database()
    assert first != second and first.startswith(f"postgres://reel@127.0.0.1:{postgres.port}/")
    name = first.rsplit("/", 1)[1].split("?")[0]
    postgres.sql("CREATE TABLE t (id TEXT PRIMARY KEY, created_ms BIGINT NOT NULL)", database=name)
    postgres.sql("INSERT INTO t VALUES ('a', 1), ('b', 2)", database=name)
    assert postgres.sql("SELECT string_agg(id, ',' ORDER BY created_ms DESC) FROM t", database=name).strip() == "b,a"
    assert postgres.sql("SHOW server_version", database=name).startswith("15.")
    # Only loopback listens.
    assert postgres.sql("SHOW listen_addresses").strip() == "127.0.0.1"


def test_it_stops_and_leaves_nothing():
    server = PostgresServer().start()
    folder, port = server.folder, server.port
    server.stop()
    assert not Path(folder).exists()
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0
