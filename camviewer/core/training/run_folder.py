"""The run folder: which files make a run, claiming a folder for a new run, what a killed run left there.

A folder can take a new run when it is new, empty, or holds a run in which no epoch had finished (killed or out
of disk while the images were checked); its files are then replaced, and the caller is told. A run with a
finished epoch is never trained over: it is resumed.
"""

from __future__ import annotations

from pathlib import Path

from camviewer.core.atomic import remove_temporaries
from camviewer.core.errors import CheckpointError, RunFolderInUse, WriteFailed
from camviewer.core.model.files import read_checkpoint

RUN_FILES = ("config.json", "best.safetensors", "last.pt", "history.csv")
# What a run writes before its first epoch ends, and may leave when killed then (best.safetensors: unvalidated
# weights saved on a cancel); these are replaced when the folder is trained into again.
UNFINISHED_RUN_FILES = ("config.json", "split.csv", "skipped.csv", "history.csv", "best.safetensors")


def claim_run_dir(run_dir: Path) -> list[str]:
    """Make ``run_dir`` ready for a new run: new, empty, or holding a run in which no epoch had finished (its
    files are replaced, and the returned notice says so). A run with a finished epoch is RunFolderInUse."""
    if run_dir.exists() and not run_dir.is_dir():
        raise WriteFailed(run_dir, "it is a file, not a folder")
    used = [name for name in RUN_FILES if (run_dir / name).exists()]
    notices = []
    if used:
        if not no_epoch_finished(run_dir):
            raise RunFolderInUse(run_dir, used)
        remove_temporaries(run_dir)
        for name in UNFINISHED_RUN_FILES:
            (run_dir / name).unlink(missing_ok=True)
        notices.append(f"{run_dir} held a run in which no epoch had finished ({', '.join(used)}): starting it again")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise WriteFailed.from_os_error(run_dir, error) from None
    return notices


def no_epoch_finished(run_dir: Path) -> bool:
    """True when the run in ``run_dir`` kept no finished epoch: no last.pt, no row in history.csv, and no
    best.safetensors but unvalidated weights (saved by a cancel during the first epoch)."""
    history = run_dir / "history.csv"
    if (run_dir / "last.pt").exists() or (history.exists() and len(history.read_bytes().splitlines()) > 1):
        return False
    if not (run_dir / "best.safetensors").exists():
        return True
    try:
        card = read_checkpoint(run_dir / "best.safetensors", shapes_only=True).card
    except CheckpointError:
        return False  # unreadable: it may hold an epoch, so it is never replaced unasked
    return card is not None and (card.notes.get("training") or {}).get("best_epoch") is None


def best_epoch_saved(run_dir: Path) -> int | None:
    """The validated epoch whose weights best.safetensors holds (None: no such file, or not one camviewer can read)."""
    try:
        card = read_checkpoint(run_dir / "best.safetensors", shapes_only=True).card
    except CheckpointError:
        return None
    epoch = (card.notes.get("training") or {}).get("best_epoch") if card is not None else None
    return epoch if isinstance(epoch, int) else None
