"""Names of the files camviewer makes from names it is given (images, classes), and paths shown to people.

File names are bytes on Linux: a name that is not valid UTF-8 reaches Python with each stray byte as a
"surrogate escape" (``os.fsdecode``), and Python opens it again as it was. camviewer keeps such paths as
they are wherever it reads or lists them. Names it *makes* are always valid UTF-8 and portable: each stray
byte is written ``%XX``, characters that Windows or a shell would refuse become ``_``, and a name longer
than a budget in bytes (file systems allow 255) keeps its beginning and ends with ``~`` and a hash of the
whole original name, so two long names that start alike still differ.
"""

from __future__ import annotations

import hashlib
import os
import re

FIELD_SEPARATOR = "__"  # between the parts of an output name (image, method, class); never inside a part
_UNSAFE = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
_STRAY_BYTE = re.compile(r"[\udc80-\udcff]")
_UNDERSCORES = re.compile(r"_{2,}")
HASH_CHARS = 8


def safe_name(text: str) -> str:
    """``text`` as one portable part of a file name: no separator, no control or reserved character, no ``__``."""
    text = _STRAY_BYTE.sub(lambda match: f"%{ord(match.group()) - 0xDC00:02X}", text)
    text = _UNDERSCORES.sub("_", _UNSAFE.sub("_", text)).strip()
    return text or "_"


def bounded(name: str, max_bytes: int, key: str | None = None) -> str:
    """``name`` if it fits in ``max_bytes`` (UTF-8), else its beginning + ``~`` + a hash of ``key`` (default: name)."""
    if len(os.fsencode(name)) <= max_bytes:
        return name
    return with_hash(name, key if key is not None else name, max_bytes)


def with_hash(name: str, key: str, max_bytes: int) -> str:
    """The beginning of ``name`` that fits, then ``~`` and the first hex digits of the SHA-256 of ``key``."""
    digest = "~" + hashlib.sha256(os.fsencode(key)).hexdigest()[:HASH_CHARS]
    budget, kept = max_bytes - len(digest), []
    for char in name:
        budget -= len(char.encode("utf-8", "surrogateescape"))
        if budget < 0:
            break
        kept.append(char)
    return "".join(kept).rstrip(" ._~") + digest


def printable(path: str | os.PathLike) -> str:
    """A path to show or print: bytes that are not UTF-8 appear as ``\\xNN`` (printing a surrogate would fail)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")
