"""Reading and writing checkpoint files, with no knowledge of architectures.

A camviewer checkpoint is a ``.safetensors`` file whose metadata holds the model card as JSON
(one file, no code inside). ``.pt``/``.pth`` files are read with ``torch.load(weights_only=True)``;
a file that needs unpickling arbitrary objects is refused unless the caller trusts it.
"""

from __future__ import annotations

import pickle
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from camviewer.core.atomic import atomic_path
from camviewer.core.errors import (
    CheckpointError,
    InvalidModelCard,
    UnsafeCheckpointError,
)
from camviewer.core.model.card import ModelCard

CARD_KEY = "camviewer_card"


NESTING_KEYS = ("state_dict", "model_state_dict", "model", "net", "network", "weights")


@dataclass
class RawCheckpoint:
    """What a file holds, before any architecture is built (tensors on the meta device: shapes only)."""

    state_dict: dict[str, torch.Tensor]
    card: ModelCard | None = None
    module: nn.Module | None = None  # only for a trusted pickle of a whole model
    extra: dict = field(default_factory=dict)  # other top-level entries (optimizer, epoch...)


def save_checkpoint(path: str | Path, model: nn.Module, card: ModelCard) -> Path:
    """Write weights + card as one safetensors file, atomically (temporary file, then rename).

    The file is made in memory and written by Python: safetensors' own writer reports a full disk without
    its reason, and replaces the temporary file with a private (0600) one of its own.
    """
    from safetensors.torch import save

    path = Path(path)
    state = {key: value.detach().cpu().contiguous() for key, value in model.state_dict().items()}
    data = save(state, metadata={CARD_KEY: card.to_json()})
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


def save_torch_atomic(obj, path: str | Path) -> Path:
    """``torch.save`` through a temporary file (for resumable training states); a full disk is a WriteFailed."""
    with atomic_path(Path(path)) as tmp, open(tmp, "wb") as handle:
        writer = _KeepsWriteErrors(handle)
        try:
            torch.save(obj, writer)
        except RuntimeError:
            if writer.error is not None:  # torch turns the OSError into a RuntimeError without its reason
                raise writer.error from None
            raise
    return Path(path)


class _KeepsWriteErrors:
    """A file for ``torch.save`` that remembers the OSError of a failed write."""

    def __init__(self, handle) -> None:
        self._handle, self.error = handle, None

    def write(self, data) -> int:
        try:
            return self._handle.write(data)
        except OSError as error:
            self.error = error
            raise

    def __getattr__(self, name):
        return getattr(self._handle, name)


def read_checkpoint(path: str | Path, trust_pickle: bool = False, shapes_only: bool = False) -> RawCheckpoint:
    """Weights, card and the rest of a checkpoint file.

    With ``shapes_only`` the tensors come on the meta device (names and shapes, no values), and their
    data is not read: of a safetensors file only the header, of a zip-format ``.pt``/``.pth`` (what
    ``torch.save`` writes since PyTorch 1.6) the pickled structure, with the storages memory-mapped but
    never touched. A legacy (non-zip) ``.pt`` interleaves data and structure, so it is still read whole.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: the file is empty")
    if _is_safetensors(path):
        return _read_safetensors(path, shapes_only)
    obj = _torch_load(path, trust_pickle, shapes_only)
    if isinstance(obj, nn.Module):
        return RawCheckpoint(state_dict=obj.state_dict(), module=obj)
    return _unwrap(obj, path)


def _is_safetensors(path: Path) -> bool:
    if path.suffix == ".safetensors":
        return True
    with open(path, "rb") as handle:  # 8-byte header length, then a JSON header starting with "{"
        head = handle.read(9)
    return len(head) == 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < 100_000_000


def _read_safetensors(path: Path, shapes_only: bool = False) -> RawCheckpoint:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            keys = handle.keys()  # safe_open is not iterable
            if shapes_only:  # from the header: the dtype is not needed to tell an architecture
                state = {key: torch.empty(handle.get_slice(key).get_shape(), device="meta") for key in keys}
            else:
                state = {key: handle.get_tensor(key) for key in keys}
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{path}: not a readable safetensors file ({error})") from None
    card = None
    if CARD_KEY in metadata:
        try:
            card = ModelCard.from_json(metadata[CARD_KEY])
        except InvalidModelCard as error:
            raise error.in_file(path) from None
    return RawCheckpoint(state_dict=state, card=card)


def _torch_load(path: Path, trust_pickle: bool, shapes_only: bool = False):
    where = {"map_location": "cpu"}
    if shapes_only:  # storages on the meta device; memory-mapped first, so older torch reads nothing either
        where = {"map_location": "meta", "mmap": zipfile.is_zipfile(path)}
    try:
        return torch.load(path, weights_only=not trust_pickle, **where)
    except pickle.UnpicklingError as error:
        if trust_pickle:
            raise CheckpointError(f"{path}: cannot unpickle ({error})") from None
        culprit = re.search(r"GLOBAL ([\w.]+)", str(error))
        raise UnsafeCheckpointError(path, culprit.group(1) if culprit else None) from None
    except Exception as error:  # the unpickler raises anything from KeyError to RuntimeError on junk
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({type(error).__name__}: {error})") from None


def _unwrap(obj, path: Path) -> RawCheckpoint:
    """Find the state_dict inside the usual nestings: {'state_dict': ...}, {'model': ...}."""
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{path}: expected a dict of tensors, found {type(obj).__name__}")
    try:
        card = ModelCard.from_dict(dict(obj[CARD_KEY]) if isinstance(obj[CARD_KEY], Mapping) else obj[CARD_KEY])
    except KeyError:
        card = None
    except InvalidModelCard as error:
        raise error.in_file(path) from None
    for key in NESTING_KEYS:
        inner = obj.get(key)
        if isinstance(inner, Mapping) and inner and _is_tensor_dict(inner):
            extra = {k: v for k, v in obj.items() if k not in (key, CARD_KEY)}
            return RawCheckpoint(state_dict=dict(inner), card=card, extra=extra)
    if _is_tensor_dict(obj):
        return RawCheckpoint(state_dict=dict(obj), card=card)
    keys = ", ".join(map(str, list(obj)[:8]))
    raise CheckpointError(f"{path}: no state_dict found (top-level keys: {keys})")


def _is_tensor_dict(obj: Mapping) -> bool:
    tensors = sum(isinstance(v, torch.Tensor) for v in obj.values())
    return tensors > 0 and tensors >= len(obj) // 2
