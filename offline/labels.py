"""The labels CSV of real clips (file, exercise, reps, hold_seconds, ...): one strict reader for every tool."""
from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

from common.exercises import EXERCISES

logger = logging.getLogger(__name__)

OTHER = "other"          # not one of our exercises: nothing may be counted
REQUIRED_COLUMNS = ("file", "exercise")


class LabelsError(ValueError):
    """A labels file that cannot be used; the message names the file (and the line) and what is wrong."""


@dataclass(frozen=True)
class ClipLabel:
    file: str                      # relative to the folder of the labels file
    exercise: str                  # one of EXERCISES or "other"
    reps: int | None = None        # None: unknown, or a hold
    hold_seconds: float | None = None
    whole_body_visible: str = ""
    duration_s: float = 0.0
    notes: str = ""

    @property
    def source(self) -> str:
        return f"clip:{self.file}"


def read_labels(path: str | Path) -> dict[str, ClipLabel]:
    """file -> label, in file order; a file listed twice keeps its last row. Raises LabelsError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise LabelsError(f"labels file not found: {path}") from None
    except UnicodeDecodeError:
        raise LabelsError(f"labels file {path} is not UTF-8 text") from None
    except OSError as exc:
        raise LabelsError(f"labels file {path} cannot be read ({exc.strerror})") from None
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise LabelsError(f"labels file {path} has no column {', '.join(missing)} "
                          f"(expected a header line: file,exercise,reps,hold_seconds)")
    labels: dict[str, ClipLabel] = {}
    for line, row in enumerate(reader, start=2):
        name = (row.get("file") or "").strip()
        if not name:
            continue
        exercise = (row.get("exercise") or "").strip()
        if exercise not in EXERCISES and exercise != OTHER:
            raise LabelsError(f"{path}:{line}: unknown exercise {exercise!r} "
                              f"(one of {', '.join(EXERCISES)} or {OTHER})")
        if name in labels:
            logger.warning("%s lists %s twice; using its last row", path, name)
        labels[name] = ClipLabel(
            file=name, exercise=exercise,
            reps=_number(row, "reps", int, path, line), hold_seconds=_number(row, "hold_seconds", float, path, line),
            whole_body_visible=(row.get("whole_body_visible") or "").strip(),
            duration_s=_number(row, "duration_s", float, path, line) or 0.0, notes=row.get("notes") or "")
    if not labels:
        raise LabelsError(f"labels file {path} lists no clips")
    return labels


def _number(row: dict, column: str, conv, path: Path, line: int):
    raw = (row.get(column) or "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise LabelsError(f"{path}:{line}: {column}={raw!r} is not a number") from None
    if value < 0 or value != value:
        raise LabelsError(f"{path}:{line}: {column}={raw!r} must be zero or more")
    if conv is int and value != int(value):
        raise LabelsError(f"{path}:{line}: {column}={raw!r} must be a whole number")
    return conv(value)
