"""Every CSV file camviewer writes goes through here, so that no cell runs as a formula in a spreadsheet.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to Excel,
LibreOffice and Google Sheets (CSV injection): a class, file or label named ``=HYPERLINK(...)`` would run
when the file is opened. As OWASP recommends, such a text cell is written with a single quote in front
(``'=HYPERLINK(...)``), which spreadsheets show as the text itself. Plain numbers (``-0.25``, ``+3``,
``-1e-05``) are left as they are: they are data, not formulas.

So that reading our own files back gives exactly what was written, a text cell that already starts with
a quote followed by one of those characters or by another quote gets one more quote too, and
:func:`restore` takes one quote off any cell that starts with a quote followed by one of them. Cells
such as ``'abc`` (a quote then anything else) pass both ways untouched, so a user's own CSV is read as
written unless a cell starts with exactly such a pair.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from camviewer.core.atomic import atomic_text

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def neutralise(value: Any) -> Any:
    """The cell as written: a text cell that a spreadsheet would execute gets a quote in front."""
    if not isinstance(value, str) or not value:
        return value
    if value.startswith(TRIGGERS) and not _NUMBER.fullmatch(value):
        return QUOTE + value
    if value[0] == QUOTE and value[1:2] and value[1] in (*TRIGGERS, QUOTE):
        return QUOTE + value
    return value


def restore(cell: str) -> str:
    """The value of a cell as :func:`neutralise` received it (one quote taken off an escaped cell)."""
    if cell[:1] == QUOTE and cell[1:2] and cell[1] in (*TRIGGERS, QUOTE):
        return cell[1:]
    return cell


class Writer:
    """``csv.writer`` whose cells are neutralised.

    A cell holding a carriage return is quoted even with ``\n`` line ends (the csv module quotes only the
    characters of its line terminator, and a bare CR would split the row when read back).
    """

    def __init__(self, handle: IO[str], **options: Any) -> None:
        self._writer = csv.writer(handle, **options)
        self._quoting_all = csv.writer(handle, **{**options, "quoting": csv.QUOTE_ALL})

    def writerow(self, row: Iterable[Any]) -> Any:
        cells = [neutralise(cell) for cell in row]
        carriage_return = any(isinstance(cell, str) and "\r" in cell for cell in cells)
        return (self._quoting_all if carriage_return else self._writer).writerow(cells)

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


class DictWriter:
    """``csv.DictWriter``'s interface over a :class:`Writer`: cells (the header's too) neutralised."""

    def __init__(self, handle: IO[str], fieldnames: Sequence[str], restval: Any = "", **options: Any) -> None:
        self.fieldnames, self.restval = list(fieldnames), restval
        self.writer = Writer(handle, **options)

    def writeheader(self) -> Any:
        return self.writer.writerow(self.fieldnames)

    def writerow(self, rowdict: Mapping[str, Any]) -> Any:
        extra = set(rowdict) - set(self.fieldnames)
        if extra:
            raise ValueError(f"dict contains fields not in fieldnames: {', '.join(map(repr, sorted(extra)))}")
        return self.writer.writerow([rowdict.get(key, self.restval) for key in self.fieldnames])

    def writerows(self, rowdicts: Iterable[Mapping[str, Any]]) -> None:
        for row in rowdicts:
            self.writerow(row)


def writer(handle: IO[str], **options: Any) -> Writer:
    return Writer(handle, **options)


def csv_text(rows: Iterable[Iterable[Any]]) -> str:
    """Rows as the text of a CSV file (``\\n`` line ends), cells neutralised."""
    buffer = io.StringIO()
    writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def write_dict_rows(
    path: str | Path, rows: Sequence[Mapping[str, Any]], fieldnames: Sequence[str] | None = None
) -> Path:
    """Rows of dicts as a CSV file with a header (the keys in first-seen order), written atomically."""
    columns = list(fieldnames or dict.fromkeys(key for row in rows for key in row)) or ["path"]
    with atomic_text(path) as handle:
        table = DictWriter(handle, fieldnames=columns, restval="")
        table.writeheader()
        table.writerows(rows)
    return Path(path)


def reader(handle: Iterable[str], **options: Any) -> Iterator[list[str]]:
    """``csv.reader`` with every cell restored."""
    for row in csv.reader(handle, **options):
        yield [restore(cell) for cell in row]


def dict_rows(handle: IO[str], **options: Any) -> list[dict[str, str]]:
    """``csv.DictReader``'s rows with every key and cell restored (missing cells stay None)."""
    return [
        {
            restore(key) if isinstance(key, str) else key: restore(value) if isinstance(value, str) else value
            for key, value in row.items()
        }
        for row in csv.DictReader(handle, **options)
    ]


def sniff_dialect(line: str, delimiters: str = ",;\t") -> type[csv.Dialect] | csv.Dialect:
    """The dialect of a header line (its delimiter among ``delimiters``); the usual comma CSV if unclear."""
    try:
        return csv.Sniffer().sniff(line, delimiters=delimiters)
    except csv.Error:
        return csv.excel


Error = csv.Error
