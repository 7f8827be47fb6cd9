"""Small HTML building blocks for a self-contained report: every text escaped, every image a data: URI.

No template engine: a report is a handful of sections, tables and figures, and plain functions that
return strings keep the escaping in one place (``esc``) and the output easy to test. Nothing in the page
refers to the network: no scripts, fonts or stylesheets from elsewhere.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Container, Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np

from camviewer.core.filenames import printable

STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2327;
       margin: 0 auto; max-width: 1180px; padding: 24px 32px 64px; background: #fff; }
h1 { font-size: 26px; margin: 0 0 4px; } h2 { font-size: 20px; margin: 36px 0 10px; border-bottom: 2px solid #dde3e8;
     padding-bottom: 4px; } h3 { font-size: 16px; margin: 20px 0 8px; }
.subtitle { color: #5b6770; margin-bottom: 10px; }
.glance { font-size: 16px; background: #f3f7fa; border-left: 4px solid #0b5cad; padding: 8px 12px; } .note { color: #5b6770; font-size: 13px; }
.warn { color: #9a3412; }
table { border-collapse: collapse; margin: 8px 0 14px; font-size: 14px; }
th, td { border: 1px solid #d5dce1; padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #eef2f5; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.best td { background: #e8f5e9; }
figure { display: inline-block; margin: 6px 12px 12px 0; vertical-align: top; }
figure img { max-width: 100%; border: 1px solid #d5dce1; } figcaption { font-size: 12px; color: #5b6770; max-width: 220px; }
.figures img { max-width: 560px; }
.figures img.wide { max-width: min(100%, 1100px); }
.gallery { display: flex; flex-wrap: wrap; gap: 6px 18px; }
.pair { display: inline-block; } .pair img { width: 170px; height: auto; border: 1px solid #d5dce1; margin-right: 2px; }
.pair figcaption { max-width: 350px; }
nav a { margin-right: 14px; color: #0b5cad; text-decoration: none; font-size: 14px; }
"""


def esc(value) -> str:
    """Any value as escaped HTML text; None as an en dash. Bytes of a file name that are not UTF-8 show as ``\\xNN``."""
    return "–" if value is None else html.escape(printable(str(value)), quote=True)


def number(value, digits: int = 3, percent: bool = False) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if percent:
        return f"{100 * float(value):.1f}%"
    return f"{float(value):.{digits}f}"


def table(
    header: Sequence[str], rows: Iterable[Sequence], numeric: Container[int] | None = None, classes: Sequence[str] = ()
) -> str:
    """A table; ``rows`` hold already-formatted strings (escaped here); the ``numeric`` columns (by default
    all but the first) align right. ``classes`` gives each row a CSS class ("best" highlights it), by position.
    """
    numeric = range(1, len(header)) if numeric is None else numeric
    head = "".join(f"<th>{esc(cell)}</th>" for cell in header)
    body = []
    for index, row in enumerate(rows):
        css = f' class="{esc(classes[index])}"' if index < len(classes) and classes[index] else ""
        cells = "".join(
            f'<td class="num">{esc(cell)}</td>' if i in numeric else f"<td>{esc(cell)}</td>"
            for i, cell in enumerate(row)
        )
        body.append(f"<tr{css}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def paragraph(text: str, css: str = "") -> str:
    return f'<p class="{esc(css)}">{esc(text)}</p>' if css else f"<p>{esc(text)}</p>"


def png_data_uri(rgb: np.ndarray) -> str:
    """An H x W x 3 uint8 RGB array as a PNG data: URI."""
    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(rgb[:, :, ::-1]))
    if not ok:
        raise ValueError("could not encode the image as PNG")
    return "data:image/png;base64," + base64.b64encode(encoded.tobytes()).decode("ascii")


def file_data_uri(path: str | Path) -> str:
    """A PNG file as a data: URI (figures written by the evaluation)."""
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def figure(uri: str, caption: str, alt: str | None = None, css: str = "") -> str:
    style = f' class="{esc(css)}"' if css else ""
    return (
        f'<figure><img src="{esc(uri)}" alt="{esc(alt or caption)}"{style}>'
        f"<figcaption>{esc(caption)}</figcaption></figure>"
    )


def pair(left: str, right: str, caption: str, alts: tuple[str, str]) -> str:
    """Two images side by side with one caption (an image and its map)."""
    images = "".join(f'<img src="{esc(uri)}" alt="{esc(alt)}">' for uri, alt in zip((left, right), alts))
    return f'<figure class="pair">{images}<figcaption>{esc(caption)}</figcaption></figure>'


def section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{esc(anchor)}"><h2>{esc(title)}</h2>{body}</section>'


def page(title: str, subtitle: str, sections: Sequence[tuple[str, str, str]], glance: str = "") -> str:
    """The whole document: ``sections`` are (anchor, title, body HTML); ``glance`` a line of headline numbers."""
    nav = "".join(f'<a href="#{esc(anchor)}">{esc(name)}</a>' for anchor, name, _ in sections)
    body = "".join(section(anchor, name, html_body) for anchor, name, html_body in sections)
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data:; '
        "style-src 'unsafe-inline'\">"
        f"<style>{STYLE}</style></head><body>"
        f'<header><h1>{esc(title)}</h1><div class="subtitle">{esc(subtitle)}</div>'
        + (f'<p class="glance">{esc(glance)}</p>' if glance else "")
        + f"<nav>{nav}</nav></header>"
        f"{body}</body></html>\n"
    )
