"""The catalog's SQLite file (`<recordings-dir>/catalog.sqlite`), read and changed
the way an operator could with `sqlite3`: to check what a server saved, and to
make recordings old while no server runs."""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from pathlib import Path

COLUMNS = ("id", "created_ms", "state", "frames", "duration", "bytes", "name", "location_kind", "location",
           "location_expires_ms", "attempts", "last_error", "next_attempt_ms", "has_thumbnail", "preset")


def iso_ms(ms: int) -> str:
    """ISO 8601 UTC with milliseconds, as the API gives `created`."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".%03dZ" % (ms % 1000)


class CatalogFile:
    def __init__(self, recordings_dir: Path):
        self.path = Path(recordings_dir) / "catalog.sqlite"

    def _query(self, statement: str, *args) -> list[tuple]:
        assert self.path.is_file(), f"no catalog at {self.path}"
        with closing(sqlite3.connect(self.path, timeout=10)) as db:
            with db:
                return db.execute(statement, args).fetchall()

    def ids(self) -> set[str]:
        return {row[0] for row in self._query("SELECT id FROM recordings")}

    def has_entry(self, rid: str) -> bool:
        return bool(self._query("SELECT 1 FROM recordings WHERE id = ?", rid))

    def has_thumbnail(self, rid: str) -> bool:
        return bool(self._query("SELECT 1 FROM thumbnails WHERE id = ?", rid))

    def entry(self, rid: str) -> dict:
        rows = self._query(f"SELECT {', '.join(COLUMNS)} FROM recordings WHERE id = ?", rid)
        assert rows, f"recording {rid} is not in the catalog {self.path}"
        entry = dict(zip(COLUMNS, rows[0]))
        entry["created"] = iso_ms(entry["created_ms"])
        return entry

    def set_created(self, rid: str, seconds: float) -> str:
        """Moves the recording's `created` (only while no server runs); answers it as the API gives it."""
        ms = int(round(seconds * 1000))
        self._query("UPDATE recordings SET created_ms = ? WHERE id = ?", ms, rid)
        return iso_ms(ms)

    def webhook_events(self) -> list[tuple[int, str]]:
        """The webhook's events waiting in the catalog: (sequence, JSON body without its sequence), oldest first."""
        return self._query("SELECT sequence, body FROM webhook_events ORDER BY sequence")
