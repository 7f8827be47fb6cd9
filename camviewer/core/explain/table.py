"""An export folder as a whole: ``predictions.csv``, ``export.json`` and what an earlier export left there.

``predictions.csv`` gets one row per image, appended only once that image's maps and overlays are complete,
and cut back to its last whole row if appending fails; so at any moment, even after a crash or a full
disk, it lists exactly the images whose files are all there. Its ``path`` column holds each path as the
system names it: a name that is not valid UTF-8 is written as its own bytes (Python reads it back with
``errors="surrogateescape"``). ``stem`` is the start of the image's output names. ``export.json`` records
what was asked for (classes, methods, target, layer, colours), so that a resumed export stays one export.

An export spread over several processes (:mod:`camviewer.core.explain.sharded`) appends each process's rows to its
own part table, ``predictions.part-<rank>.csv`` (no header), and merges them into ``predictions.csv`` at the end;
parts that an interrupted run left are merged when the export is resumed, and removed when it is replaced.
"""

from __future__ import annotations

import errno
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path

from camviewer.core import csvfiles
from camviewer.core.atomic import remove_temporaries, write_text_atomic
from camviewer.core.errors import ExportExists, ExportMismatch, WriteFailed
from camviewer.core.explain.outputs import OUTPUT_FOLDERS, output_files, remove_files, stem_of

PREDICTIONS = "predictions.csv"
SETTINGS = "export.json"
SETTINGS_FORMAT = "camviewer-export/1"
STEM_COLUMN = "stem"
IF_EXISTS = ("refuse", "overwrite", "resume")
# What a resumed export must share with the earlier one (a setting an earlier export.json lacks is not compared:
# that export predates it); the methods' settings except those that only change the speed.
COMPARED = ("classes", "methods", "target", "layer", "colormap", "alpha", "method_settings")
SPEED_ONLY = ("batch_size",)
ENCODING = {"encoding": "utf-8", "errors": "surrogateescape"}
PART_PATTERN = "predictions.part-*.csv"


def header(class_names: list[str]) -> list[str]:
    return ["path", "predicted", *(f"p_{name}" for name in class_names), STEM_COLUMN]


def earlier_export(out_dir: Path) -> list[str]:
    """What an earlier export left in ``out_dir`` (``predictions.csv``, ``maps/``...); empty when nothing, or
    nothing but the header and settings of an export that stopped before its first image (nothing to lose)."""
    folders = {path.parent.name for path in output_files(out_dir)} if out_dir.is_dir() else set()
    parts = sorted(path.name for path in out_dir.glob(PART_PATTERN) if path.stat().st_size) if out_dir.is_dir() else []
    if not folders and not parts and not _has_rows(out_dir / PREDICTIONS):
        return []
    found = [name for name in (PREDICTIONS, SETTINGS) if (out_dir / name).exists()]
    return found + parts + [f"{folder}/" for folder in OUTPUT_FOLDERS if folder in folders]


def _has_rows(path: Path) -> bool:
    """Whether a table holds anything after its header line."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(1 << 16)
    except OSError:
        return False
    first_line_end = head.find(b"\n")
    return first_line_end != -1 and len(head) > first_line_end + 1


class PredictionsTable:
    """``predictions.csv`` open for appending whole rows."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | getattr(os, "O_BINARY", 0))
        except OSError as error:
            raise WriteFailed.from_os_error(path, error) from None

    def append(self, row: list) -> None:
        """Add one row; on failure the file is cut back to where it was, and WriteFailed goes on."""
        data = csvfiles.csv_text([row]).encode(**ENCODING)
        size = os.fstat(self._fd).st_size
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError as error:
            os.ftruncate(self._fd, size)
            raise WriteFailed.from_os_error(self.path, error) from None

    def close(self) -> None:
        os.close(self._fd)


def open_export(out_dir: Path, settings: dict, if_exists: str) -> tuple[PredictionsTable, dict[str, str]]:
    """Ready ``out_dir`` for an export; returns the table and, when resuming, the stems of the images done.

    ``if_exists``: "refuse" (ExportExists when the folder holds an earlier export), "overwrite" (its files are
    removed first), "resume" (its rows and files are kept, files without a row removed).
    """
    if if_exists not in IF_EXISTS:
        raise ValueError(f"if_exists must be one of {IF_EXISTS}, not {if_exists!r}")
    _make_folder(out_dir)
    found = earlier_export(out_dir)
    if found and if_exists == "refuse":
        raise ExportExists(out_dir, found)
    done: dict[str, str] = {}
    try:
        if found and if_exists == "resume":
            merge_parts(out_dir, settings["classes"])  # the rows an interrupted run of several processes left
            done = _resume(out_dir, settings)
        else:
            parts = list(out_dir.glob(PART_PATTERN))
            remove_files([out_dir / PREDICTIONS, out_dir / SETTINGS, *output_files(out_dir), *parts])
            write_text_atomic(out_dir / SETTINGS, json.dumps(settings, indent=2) + "\n")
            write_text_atomic(out_dir / PREDICTIONS, csvfiles.csv_text([header(settings["classes"])]))
        for folder in OUTPUT_FOLDERS:
            (out_dir / folder).mkdir(exist_ok=True)
            remove_temporaries(out_dir / folder)
    except OSError as error:
        raise WriteFailed.from_os_error(out_dir, error) from None
    return PredictionsTable(out_dir / PREDICTIONS), done


def _make_folder(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise WriteFailed(out_dir, "it is a file, not a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise WriteFailed.from_os_error(out_dir, error) from None
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise WriteFailed(out_dir, "the folder is read-only", errno.EACCES)


def _resume(out_dir: Path, settings: dict) -> dict[str, str]:
    """The rows of the earlier export (path -> stem); files that no row lists are removed (written, then killed)."""
    earlier = _earlier_settings(out_dir)
    if earlier is not None:
        before, now = _compared(earlier), _compared(settings)
        differences = {
            key: (before[key], value) for key, value in now.items() if key in before and before[key] != value
        }
        if differences:
            raise ExportMismatch(out_dir, differences)
    expected = header(settings["classes"])
    rows = _whole_rows(out_dir / PREDICTIONS, expected)
    if rows and rows[0] != expected:
        raise ExportMismatch(out_dir, {"columns": (rows[0], expected)})
    done = {row[0]: row[-1] for row in rows[1:]}
    stems = {stem.casefold() for stem in done.values()}
    remove_files([path for path in output_files(out_dir) if stem_of(path.name).casefold() not in stems])
    return done


def _compared(settings: dict) -> dict:
    picked = {key: settings[key] for key in COMPARED if key in settings}
    if isinstance(picked.get("method_settings"), dict):
        picked["method_settings"] = {k: v for k, v in picked["method_settings"].items() if k not in SPEED_ONLY}
    return picked


def _earlier_settings(out_dir: Path) -> dict | None:
    try:
        settings = json.loads((out_dir / SETTINGS).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None  # an export made before export.json existed: its columns are still checked
    except ValueError:
        raise ExportMismatch(out_dir, {SETTINGS: ("unreadable", "readable")}) from None
    return settings if isinstance(settings, dict) and settings.get("format") == SETTINGS_FORMAT else None


def _whole_rows(path: Path, expected: list[str]) -> list[list[str]]:
    """The rows of ``path``. A last row cut short (a crash while appending) is dropped, and the file rewritten
    without it; a file without rows gets its header."""
    try:
        text = path.read_bytes().decode(**ENCODING)
    except FileNotFoundError:
        text = ""
    rows = list(csvfiles.reader(io.StringIO(text, newline="")))
    cut_short = rows and (not text.endswith("\n") or len(rows[-1]) != len(rows[0]))
    if cut_short or not rows:
        rows = rows[:-1] if cut_short else [expected]
        write_text_atomic(path, csvfiles.csv_text(rows or [expected]))
    return rows


def part_table(out_dir: Path, rank: int) -> PredictionsTable:
    """The empty part table of process ``rank`` of an export spread over several, open for appending rows."""
    path = out_dir / f"predictions.part-{rank}.csv"
    try:
        path.write_bytes(b"")
    except OSError as error:
        raise WriteFailed.from_os_error(path, error) from None
    return PredictionsTable(path)


def merge_parts(out_dir: Path, class_names: list[str], order: Sequence[str] = ()) -> int:
    """Append the rows of every part table to ``predictions.csv`` (in ``order`` of their paths, the input order;
    none it lists already), then remove the parts; returns how many rows were added. A part's last row cut short
    (its process was killed while appending) is left out: that image was not finished."""
    parts = sorted(out_dir.glob(PART_PATTERN))
    if not parts:
        return 0
    expected = header(class_names)
    listed = {row[0] for row in _whole_rows(out_dir / PREDICTIONS, expected)[1:]}
    rows: dict[str, list[str]] = {}
    for part in parts:
        text = part.read_bytes().decode(**ENCODING)
        found = list(csvfiles.reader(io.StringIO(text, newline="")))
        if found and (not text.endswith("\n") or len(found[-1]) != len(expected)):
            found = found[:-1]
        rows.update((row[0], row) for row in found if row[0] not in listed)
    position = {path: index for index, path in enumerate(order)}
    table = PredictionsTable(out_dir / PREDICTIONS)
    try:
        for path in sorted(rows, key=lambda path: (position.get(path, len(position)), path)):
            table.append(rows[path])
    finally:
        table.close()
    remove_files(parts)
    return len(rows)
