"""The results directory of ``astra-gym eval``: what a run did, kept so a rerun resumes.

``RESULTS_DIR`` holds:

* ``run.json``: the run's configuration (no API key). A rerun must have the
  same :data:`~astra_gym.eval.config.IDENTITY_FIELDS`, or it is refused:
  episodes of two models (or two temperatures) must never mix in one file.
* ``episodes.jsonl``: one line per episode, appended and flushed as each
  episode ends, so a killed run loses only the episodes in flight. A line cut
  short by the kill is dropped (and the file truncated to the last whole
  line) when the directory is opened again. An episode that ended in an
  endpoint error has a line with ``"status": "error"``; a rerun plays it
  again, and its ``ok`` line then wins.
* ``summary.json``: written at the end of every run, over every finished episode.
* ``.lock``: held while a run writes (two runs on one directory are refused).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

__all__ = ["EPISODES_FILE", "LOCK_FILE", "RUN_FILE", "SUMMARY_FILE", "ResultsError",
           "ResultsStore", "episode_key", "load_episodes", "read_lines"]

RUN_FILE = "run.json"
EPISODES_FILE = "episodes.jsonl"
SUMMARY_FILE = "summary.json"
LOCK_FILE = ".lock"


class ResultsError(ValueError):
    """The results directory cannot be used (another run holds it, or it is another run's)."""


def episode_key(task_id: str, rollout: int) -> str:
    """The id of one planned episode: ``<task_id>#<rollout>``."""
    return f"{task_id}#{rollout}"


def read_lines(path: Path, *, repair: bool = False) -> Iterator[dict[str, Any]]:
    """The episode records of an ``episodes.jsonl``, in file order.

    Args:
        path: The file.
        repair: Truncate the file after its last whole line (a line without its
            newline was cut short by a killed run).

    Yields:
        Each record that parses as a JSON object.
    """
    if not path.exists():
        return
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if repair and end < len(data):
        with path.open("r+b") as handle:
            handle.truncate(end)
    for line in data[:end].splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue  # cannot happen for lines this module wrote whole
        if isinstance(record, dict) and "task_id" in record and "rollout" in record:
            yield record


def _latest(records: Iterator[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Key to record: an ``ok`` record wins over errors; otherwise the last one."""
    latest: dict[str, dict[str, Any]] = {}
    for record in records:
        key = episode_key(record["task_id"], int(record["rollout"]))
        held = latest.get(key)
        if held is None or held.get("status") != "ok":
            latest[key] = record
    return latest


def load_episodes(directory: str | os.PathLike[str], *, errors: bool = False
                  ) -> list[dict[str, Any]]:
    """The finished episodes of a results directory (one record per episode).

    Args:
        directory: ``RESULTS_DIR``.
        errors: Return the episodes whose last attempt failed instead.

    Returns:
        The records, in the order their episodes first appear in the file.
    """
    wanted = "error" if errors else "ok"
    records = _latest(read_lines(Path(directory) / EPISODES_FILE))
    return [record for record in records.values() if record.get("status") == wanted]


class ResultsStore:
    """Opens ``RESULTS_DIR`` for one run: lock, configuration check, finished episodes, appends.

    Args:
        directory: ``RESULTS_DIR`` (created when missing).
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.records: dict[str, dict[str, Any]] = {}
        self._lock: IO[bytes] | None = None
        self._out: IO[str] | None = None

    @property
    def finished(self) -> set[str]:
        """Keys of the episodes with an ``ok`` record."""
        return {key for key, record in self.records.items() if record.get("status") == "ok"}

    def open(self, identity: Mapping[str, Any], config: Mapping[str, Any]) -> None:
        """Lock the directory, check it belongs to this configuration, read what is done.

        Args:
            identity: The configuration's identity fields.
            config: The whole public configuration (written to ``run.json`` on
                the first run).

        Raises:
            ResultsError: Another run holds the directory, or it holds a run
                of another configuration (the message names the fields).
        """
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ResultsError(f"cannot create {self.directory}: {exc}") from exc
        if (self.directory / EPISODES_FILE).exists() and not (self.directory / RUN_FILE).exists():
            raise ResultsError(f"{self.directory} has {EPISODES_FILE} but no {RUN_FILE}: it is "
                               "not a results directory of astra-gym eval")
        self._acquire()
        try:
            self._check(identity, config)
            self.records = _latest(read_lines(self.directory / EPISODES_FILE, repair=True))
            self._out = (self.directory / EPISODES_FILE).open("a", encoding="utf-8")
        except BaseException:
            self.close()
            raise

    def _acquire(self) -> None:
        handle = (self.directory / LOCK_FILE).open("a+b")
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock
            self._lock = handle
            return
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise ResultsError(f"another astra-gym eval is writing to {self.directory}; wait "
                               "for it to finish or use another --out") from None
        self._lock = handle

    def _check(self, identity: Mapping[str, Any], config: Mapping[str, Any]) -> None:
        path = self.directory / RUN_FILE
        if not path.exists():
            tmp = path.with_name(f".{RUN_FILE}.tmp")
            tmp.write_text(json.dumps(dict(config), indent=2, ensure_ascii=False) + "\n",
                           encoding="utf-8")
            os.replace(tmp, path)
            return
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ResultsError(f"cannot read {path}: {exc}") from exc
        # Through JSON, so a tuple and a list (or 1 and 1.0) compare as stored.
        wanted = json.loads(json.dumps(dict(identity)))
        differ = [name for name, value in wanted.items() if stored.get(name) != value]
        if differ:
            shown = "; ".join(f"{name}: {stored.get(name)!r} there, {wanted[name]!r} now"
                              for name in differ)
            raise ResultsError(f"{self.directory} holds a run of another configuration ({shown})"
                               ". Use another --out, or the same settings to resume it")

    def append(self, record: Mapping[str, Any]) -> None:
        """Write one episode's line and flush it (a kill after this loses nothing of it)."""
        assert self._out is not None, "open() first"
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":"),
                          allow_nan=False, default=str)
        self._out.write(line + "\n")
        self._out.flush()
        key = episode_key(record["task_id"], int(record["rollout"]))
        held = self.records.get(key)
        if held is None or held.get("status") != "ok":
            self.records[key] = dict(record)

    def write_summary(self, summary: Mapping[str, Any]) -> Path:
        """Write ``summary.json`` atomically."""
        path = self.directory / SUMMARY_FILE
        tmp = path.with_name(f".{SUMMARY_FILE}.tmp")
        tmp.write_text(json.dumps(dict(summary), indent=2, ensure_ascii=False, allow_nan=False)
                       + "\n", encoding="utf-8")
        os.replace(tmp, path)
        return path

    def close(self) -> None:
        """Sync and close the episodes file, release the lock; safe twice."""
        out, self._out = self._out, None
        if out is not None:
            with contextlib.suppress(OSError):
                out.flush()
                os.fsync(out.fileno())
            out.close()
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.close()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
