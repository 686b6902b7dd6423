"""Teams and submissions of a challenge, in one SQLite file (WAL mode: readers never wait for a writer).

Tokens are never stored, only their SHA-256; a submission is stored in the same transaction that
accepts it, so an accepted submission survives a crash of the server right after its reply.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import secrets
import sqlite3
import threading
import time
from pathlib import Path

__all__ = ["Store", "hash_token", "join_code", "ALPHABET", "ADMIN_ACTIONS"]

#: What the instructor can do to a running challenge (``advcourse challenge admin DIR ACTION`` or the HTTP API).
ADMIN_ACTIONS = ("open", "close", "reveal", "reset")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS teams (name TEXT PRIMARY KEY, token_hash TEXT UNIQUE NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS submissions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, team TEXT NOT NULL REFERENCES teams(name), score REAL NOT NULL,
    fooled BLOB NOT NULL, created REAL NOT NULL);
-- the leaderboard asks each team's best score on every submission: without this index it reads every row
CREATE INDEX IF NOT EXISTS submissions_by_team ON submissions(team, score);
CREATE TABLE IF NOT EXISTS queries (team TEXT PRIMARY KEY REFERENCES teams(name), used INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS progress (
    team TEXT NOT NULL REFERENCES teams(name), learner TEXT NOT NULL, notebook TEXT NOT NULL, exercise TEXT NOT NULL,
    passed INTEGER NOT NULL, updated REAL NOT NULL, PRIMARY KEY (team, learner, notebook, exercise));
CREATE TABLE IF NOT EXISTS defences (
    id INTEGER PRIMARY KEY AUTOINCREMENT, team TEXT NOT NULL REFERENCES teams(name), weights BLOB NOT NULL,
    status TEXT NOT NULL, clean REAL, robust REAL, reason TEXT, created REAL NOT NULL);
"""

#: Join codes are drawn from letters and digits that cannot be misread on a projector (no 0/O, 1/I/L).
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def join_code() -> str:
    """A fresh team token as a join code, ``XXXX-XXXX-XXXX-XXXX`` (16 symbols of 31, about 79 bits)."""
    symbols = "".join(secrets.choice(ALPHABET) for _ in range(16))
    return "-".join(symbols[k:k + 4] for k in range(0, 16, 4))


def hash_token(token: str) -> str:
    """SHA-256 of a token, read the way a learner may type it: case, dashes and spaces do not matter."""
    typed = "".join(token.split()).replace("-", "").upper()
    return hashlib.sha256(typed.encode()).hexdigest()


class Store:
    """The challenge's database at ``path`` (created when missing)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._local = threading.local()  # one connection per thread, kept: opening one costs more than a query
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    @contextlib.contextmanager
    def _connect(self):
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)  # autocommit: each statement durable
            db.execute("PRAGMA synchronous=FULL")  # every commit reaches the disk before its reply
            self._local.db = db
        try:
            yield db
        except BaseException:
            if db.in_transaction:  # a kept connection must never stay inside a failed transaction
                db.execute("ROLLBACK")
            raise

    @contextlib.contextmanager
    def _transaction(self):
        """Read and write as one step (``BEGIN IMMEDIATE``: no other writer in between), committed on exit;
        a step that writes nothing commits nothing."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            yield db
            db.execute("COMMIT")

    def add_team(self, name: str) -> str:
        """Register team ``name`` (1–40 printable characters, unique); returns its new token."""
        if not isinstance(name, str) or not 1 <= len(name.strip()) <= 40 or not name.isprintable():
            raise ValueError(f"name: expected 1 to 40 printable characters, got {name!r}")
        token = join_code()
        with self._connect() as db:
            try:
                db.execute("INSERT INTO teams VALUES (?, ?, ?)", (name.strip(), hash_token(token), time.time()))
            except sqlite3.IntegrityError:
                raise ValueError(f"name: a team called {name.strip()!r} exists already") from None
        return token

    def team_of(self, token: str) -> str | None:
        """The team whose token this is, or None."""
        with self._connect() as db:
            row = db.execute("SELECT name FROM teams WHERE token_hash = ?", (hash_token(token),)).fetchone()
        return row[0] if row else None

    def add_submission(self, team: str, score: float, fooled: bytes) -> int:
        """Store an accepted submission; returns its id."""
        with self._connect() as db:
            cur = db.execute("INSERT INTO submissions (team, score, fooled, created) VALUES (?, ?, ?, ?)",
                             (team, float(score), fooled, time.time()))
            return int(cur.lastrowid)

    def leaderboard(self) -> list[dict]:
        """Teams with at least one submission, by best score; on a tie, whoever reached it first ranks higher."""
        with self._connect() as db:
            rows = db.execute("""
                SELECT team, score, MIN(id) FROM submissions s
                WHERE score = (SELECT MAX(score) FROM submissions WHERE team = s.team)
                GROUP BY team ORDER BY score DESC, MIN(id) ASC""").fetchall()
        return [{"team": team, "score": score} for team, score, _ in rows]

    def submissions(self, team: str) -> list[dict]:
        """One team's submissions, oldest first."""
        with self._connect() as db:
            rows = db.execute("SELECT id, score, created FROM submissions WHERE team = ? ORDER BY id",
                              (team,)).fetchall()
        return [{"id": i, "score": s, "created": c} for i, s, c in rows]

    def spend_queries(self, team: str, n: int, budget: int) -> int | None:
        """Count ``n`` more queries for ``team``; the queries left, or None (nothing counted) if over ``budget``."""
        with self._transaction() as db:  # two requests cannot both spend the last queries
            row = db.execute("SELECT used FROM queries WHERE team = ?", (team,)).fetchone()
            used = row[0] if row else 0
            if used + n > budget:
                return None
            db.execute("INSERT INTO queries VALUES (?, ?) ON CONFLICT(team) DO UPDATE SET used = ?",
                       (team, used + n, used + n))
            return budget - used - n

    def record_progress(self, team: str, learner: str, notebook: str, exercise: str, passed: bool) -> None:
        """Note a learner's exercise check; once passed, an exercise stays passed for that learner."""
        with self._connect() as db:
            db.execute("""INSERT INTO progress VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(team, learner, notebook, exercise)
                          DO UPDATE SET passed = MAX(passed, excluded.passed), updated = excluded.updated""",
                       (team, learner, notebook, exercise, int(passed), time.time()))

    def progress(self) -> list[dict]:
        """Per notebook and exercise: how many learners tried it and how many passed, in notebook order."""
        with self._connect() as db:
            rows = db.execute("""SELECT notebook, exercise, COUNT(*), SUM(passed) FROM progress
                                 GROUP BY notebook, exercise ORDER BY notebook, MIN(updated)""").fetchall()
        return [{"notebook": n, "exercise": e, "tried": t, "passed": p} for n, e, t, p in rows]

    def reset(self) -> None:
        """Forget every submission, defence, query count and progress record; teams and their tokens stay."""
        with self._transaction() as db:
            for table in ("submissions", "queries", "progress", "defences"):
                db.execute(f"DELETE FROM {table}")  # noqa: S608 (fixed table names)

    def add_defence(self, team: str, weights: bytes) -> int | None:
        """Queue a team's defence for scoring; its id, or None (nothing queued) while another of its defences waits."""
        with self._transaction() as db:
            if db.execute("SELECT 1 FROM defences WHERE team = ? AND status = 'queued'", (team,)).fetchone():
                return None
            cur = db.execute("INSERT INTO defences (team, weights, status, created) VALUES (?, ?, 'queued', ?)",
                             (team, weights, time.time()))
            return int(cur.lastrowid)

    def next_defence(self) -> tuple[int, bytes] | None:
        """The oldest defence still waiting for its score (those queued before a crash too), or None."""
        with self._connect() as db:
            row = db.execute("SELECT id, weights FROM defences WHERE status = 'queued' ORDER BY id LIMIT 1").fetchone()
        return (int(row[0]), bytes(row[1])) if row else None

    def finish_defence(self, ident: int, result: dict) -> None:
        """Store a defence's outcome: ``{"status": "scored"|"rejected", "clean"?, "robust"?, "reason"?}``."""
        with self._connect() as db:
            db.execute("UPDATE defences SET status = ?, clean = ?, robust = ?, reason = ? WHERE id = ?",
                       (result["status"], result.get("clean"), result.get("robust"), result.get("reason"), ident))

    def defences(self, team: str) -> list[dict]:
        """One team's defences, oldest first (without their weights)."""
        with self._connect() as db:
            rows = db.execute("SELECT id, status, clean, robust, reason, created FROM defences WHERE team = ? "
                              "ORDER BY id", (team,)).fetchall()
        keys = ("id", "status", "clean", "robust", "reason", "created")
        return [dict(zip(keys, row)) for row in rows]

    def defence_leaderboard(self) -> list[dict]:
        """Teams with a scored defence, by best worst-case accuracy; on a tie, whoever reached it first."""
        with self._connect() as db:
            rows = db.execute("""
                SELECT team, robust, clean, MIN(id) FROM defences d
                WHERE status = 'scored' AND robust = (
                    SELECT MAX(robust) FROM defences WHERE team = d.team AND status = 'scored')
                GROUP BY team ORDER BY robust DESC, MIN(id) ASC""").fetchall()
        return [{"team": team, "robust": robust, "clean": clean} for team, robust, clean, _ in rows]

    def admin(self, action: str) -> dict:
        """Apply an instructor's action (one of :data:`ADMIN_ACTIONS`): open or close the round, reveal the
        weights, reset (forget every submission; teams stay). Returns the round's state afterwards.
        The server reads this state at each request, so an action taken here applies at once."""
        if action not in ADMIN_ACTIONS:
            raise ValueError(f"action: expected one of {', '.join(ADMIN_ACTIONS)}, got {action!r}")
        if action in ("open", "close"):
            self.set("round", "open" if action == "open" else "closed")
        elif action == "reveal":
            self.set("revealed", "yes")
        else:
            self.reset()
        return {"round": self.get("round", "open"), "revealed": self.get("revealed") == "yes"}

    def export_csv(self) -> str:
        """Every submission as CSV: id, team, score, created (Unix time)."""
        out = io.StringIO()
        table = csv.writer(out)
        table.writerow(["id", "team", "score", "created"])
        table.writerows(self.all_submissions())
        return out.getvalue()

    def get(self, key: str, default: str = "") -> str:
        with self._connect() as db:
            row = db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set(self, key: str, value: str) -> None:
        with self._connect() as db:
            db.execute("INSERT INTO state VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = ?", (key, value, value))

    def best_fooled(self, team: str) -> bytes | None:
        """The per-input bitmap (``np.packbits``) of the team's best submission, or None."""
        with self._connect() as db:
            row = db.execute("SELECT fooled FROM submissions WHERE team = ? ORDER BY score DESC, id ASC LIMIT 1",
                             (team,)).fetchone()
        return row[0] if row else None

    def all_submissions(self) -> list[tuple]:
        """(id, team, score, created) of every submission, oldest first."""
        with self._connect() as db:
            return db.execute("SELECT id, team, score, created FROM submissions ORDER BY id").fetchall()
