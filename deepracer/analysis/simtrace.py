"""DeepRacer's SIM_TRACE_LOG CSV: the columns every DeepRacer tool reads.

Training writes `training-simtrace/N-iteration.csv`, evaluation writes
`evaluation-simtrace/0-iteration.csv`; deepracer-utils and the console read them.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from deepracer.errors import LogFormatError

COLUMNS = [
    "episode", "steps", "X", "Y", "yaw", "steer", "throttle", "action", "reward", "done",
    "all_wheels_on_track", "progress", "closest_waypoint", "track_len", "tstamp",
    "episode_status", "pause_duration",
]
# DeepRacer's episode_status values
STATUSES = ("prepare", "in_progress", "lap_complete", "off_track", "reversed", "immobilized", "crashed", "time_up", "pause")


class SimTraceWriter:
    """Appends rows to one SIM_TRACE_LOG CSV; `row()` takes the columns as keywords.

    `yaw` and `steer` are in degrees, `throttle` in m/s, `progress` in 0..100, as DeepRacer writes them.
    """

    def __init__(self, path: str | Path, extra_columns: tuple[str, ...] = ()) -> None:
        """`extra_columns` follow DeepRacer's: e.g. obstacle_crash_counter (object races)."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.columns = COLUMNS + list(extra_columns)
        self._file: TextIO = self.path.open("w", newline="", encoding="utf-8")
        self._writer = csv.writer(self._file)
        self._writer.writerow(self.columns)

    def row(self, **values: Any) -> None:
        missing = [c for c in self.columns if c not in values]
        if missing:
            raise ValueError(f"SIM_TRACE row lacks {missing}")
        self._writer.writerow([_fmt(values[c]) for c in self.columns])

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> SimTraceWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _fmt(v: Any) -> Any:
    if isinstance(v, bool):
        return "True" if v else "False"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(str(x) for x in v) + "]"  # DeepRacer writes continuous actions as "[s, v]"
    return v


def iter_rows(path: str | Path) -> Iterator[dict[str, str]]:
    """Rows as dicts of strings; a missing column or short row names the file and the line."""
    for _line, row in iter_numbered_rows(path):
        yield row


def iter_numbered_rows(path: str | Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) pairs, so a reader can name the line of a bad value."""
    path = Path(path)
    try:
        f = path.open(newline="", encoding="utf-8")
    except OSError as err:
        raise LogFormatError(f"cannot open: {err.strerror}", path) from err
    with f:
        reader = csv.reader(f)
        try:
            header = next(reader)
        except StopIteration:
            raise LogFormatError("empty file, expected the SIM_TRACE_LOG header", path) from None
        required = COLUMNS[:14]  # tstamp onwards are missing in some old logs
        absent = [c for c in required if c not in header]
        if absent:
            raise LogFormatError(f"line 1: not a SIM_TRACE_LOG header, missing {absent}", path)
        for row in reader:
            if not row:
                continue
            if len(row) < len(header):
                # continuous actions are written unquoted as "[a, b]" in some DRfC versions
                raise LogFormatError(f"line {reader.line_num}: {len(row)} fields, header has {len(header)}", path)
            if len(row) > len(header):
                i = header.index("action")
                extra = len(row) - len(header)
                row = row[:i] + [",".join(row[i:i + extra + 1])] + row[i + extra + 1:]
            yield reader.line_num, dict(zip(header, row, strict=True))
