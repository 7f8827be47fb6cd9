"""Fuzzing the readers and explain (issue 11): mutated PNG, JPEG, TIFF and DICOM files from a fixed seed.

Every file is either explained with a finite map in [0, 1] or refused with a typed error (a CamviewerError);
nothing else is raised and nothing hangs. The files go through ``read_image`` and ``explain`` in a worker
process of their own, where a watchdog ends the process if one file takes longer than ``FILE_SECONDS``: a hang
fails the test instead of the suite. ``python tests/test_fuzz.py CORPUS CHECKPOINT`` is that worker.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np

SEED = 20240611
PER_FORMAT = 75  # x 4 formats: 300 files
FILE_SECONDS = 10.0  # generous for a shared 2-core machine; a decode takes milliseconds
HEADER_BYTES = 160  # where "header edits" land: the signature, PNG's IHDR, TIFF's first IFD, DICOM's preamble+meta


def base_files() -> dict[str, bytes]:
    """One small, valid file per format."""
    from PIL import Image

    rng = np.random.default_rng(0)
    rgb = (rng.random((40, 48, 3)) * 255).astype(np.uint8)
    files = {}
    for kind, options in (("png", {}), ("jpg", {"quality": 90})):
        buffer = io.BytesIO()
        Image.fromarray(rgb).save(buffer, format="PNG" if kind == "png" else "JPEG", **options)
        files[kind] = buffer.getvalue()
    buffer = io.BytesIO()
    Image.fromarray((rng.random((36, 44)) * 65535).astype(np.uint16)).save(buffer, format="TIFF")
    files["tif"] = buffer.getvalue()
    sys.path.insert(0, str(Path(__file__).parent))
    from image_files import dicom_dataset

    buffer = io.BytesIO()
    dicom_dataset((rng.random((32, 40)) * 4000).astype(np.uint16), WindowCenter=2000, WindowWidth=4000).save_as(
        buffer, enforce_file_format=True
    )
    files["dcm"] = buffer.getvalue()
    return files


def mutate(data: bytes, rng: np.random.Generator) -> tuple[str, bytes]:
    """One of: a truncation, bit flips, a header edit, a block of bytes zeroed, duplicated or deleted."""
    kind = str(rng.choice(["truncate", "flip", "header", "zero", "duplicate", "delete"]))
    array = bytearray(data)
    if kind == "truncate":
        return kind, bytes(array[: int(rng.integers(0, len(array)))])
    if kind == "flip":
        for _ in range(int(rng.integers(1, 9))):
            position = int(rng.integers(0, len(array)))
            array[position] ^= 1 << int(rng.integers(0, 8))
        return kind, bytes(array)
    if kind == "header":  # random bytes over a few places of the header: sizes, counts, offsets, tags
        for _ in range(int(rng.integers(1, 4))):
            start = int(rng.integers(0, min(HEADER_BYTES, len(array)) - 4))
            array[start : start + 4] = rng.integers(0, 256, 4, dtype=np.uint8).tobytes()
        return kind, bytes(array)
    start = int(rng.integers(0, len(array)))
    length = int(rng.integers(1, max(2, len(array) // 8)))
    if kind == "zero":
        array[start : start + length] = bytes(len(array[start : start + length]))
    elif kind == "duplicate":
        array[start:start] = array[start : start + length]
    else:
        del array[start : start + length]
    return kind, bytes(array)


def write_corpus(folder: Path) -> dict[str, str]:
    """PER_FORMAT mutants of each base file, from SEED; returns file name -> mutation."""
    rng = np.random.default_rng(SEED)
    folder.mkdir(parents=True, exist_ok=True)
    made = {}
    for kind, data in base_files().items():
        for index in range(PER_FORMAT):
            mutation, mutant = mutate(data, rng)
            name = f"{kind}{index:03d}.{kind}"
            (folder / name).write_bytes(mutant)
            made[name] = mutation
    return made


def worker(corpus: Path, checkpoint: Path) -> None:
    """Read and explain each file; one JSON line per file. A file that takes too long ends the process (exit 3)."""
    import torch

    from camviewer.core.errors import CamviewerError
    from camviewer.core.explain.run import explain
    from camviewer.core.images import read_image
    from camviewer.core.model.loading import load_model

    torch.set_num_threads(1)
    model = load_model(checkpoint, device="cpu")
    for path in sorted(corpus.iterdir()):
        watchdog = threading.Timer(
            FILE_SECONDS,
            lambda p=path: (print(json.dumps({"file": p.name, "outcome": "hang"}), flush=True), os._exit(3)),
        )
        watchdog.start()
        started = time.perf_counter()
        record = {"file": path.name}
        try:
            read_image(path)
            result = explain(model, [path])[0]
            maps = [m for per_class in result.maps.values() for m in per_class.values()]
            finite = all(np.isfinite(m).all() and m.min() >= 0 and m.max() <= 1 for m in maps)
            probs = list(result.probs.values())
            record["outcome"] = "explained" if finite and maps and np.isfinite(probs).all() else "bad map"
        except CamviewerError as error:
            record["outcome"], record["error"] = "refused", type(error).__name__
        except BaseException as error:  # what the test is looking for
            record["outcome"], record["error"] = "other", f"{type(error).__name__}: {error}"
        finally:
            watchdog.cancel()
        record["ms"] = round(1000 * (time.perf_counter() - started), 1)
        print(json.dumps(record), flush=True)


def test_mutated_images_are_explained_or_refused_with_a_typed_error(tmp_path):
    from hostile_files import tiny_checkpoint

    made = write_corpus(tmp_path / "corpus")
    checkpoint = tiny_checkpoint(tmp_path / "tiny.safetensors")
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, str(tmp_path / "corpus"), str(checkpoint)],
        capture_output=True,
        text=True,
        env=env,
        timeout=FILE_SECONDS * 3 + 240,
    )
    seconds = time.perf_counter() - started
    records = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    hangs = [r["file"] for r in records if r["outcome"] == "hang"]
    assert done.returncode == 0 and not hangs, f"hung on {hangs}: {done.stderr[-2000:]}"
    assert len(records) == len(made) == 4 * PER_FORMAT
    outcomes = Counter(r["outcome"] for r in records)
    assert set(outcomes) <= {"explained", "refused"}, [
        r for r in records if r["outcome"] not in ("explained", "refused")
    ]
    # Both ends occur: the mutants are not all harmless, nor all refused at the first byte.
    assert outcomes["explained"] > 20 and outcomes["refused"] > 20
    for kind in ("jpg", "tif", "dcm"):  # a PNG checks a CRC on every chunk: any change is refused
        assert {r["outcome"] for r in records if r["file"].startswith(kind)} == {"explained", "refused"}, kind
    errors = Counter(r["error"] for r in records if "error" in r)
    slowest = max(records, key=lambda r: r["ms"])
    print(  # the numbers the README quotes (pytest -s shows them)
        f"\nfuzz: {len(records)} files ({dict(Counter(made.values()))}), {dict(outcomes)}, errors {dict(errors)}, "
        f"slowest {slowest['file']} {slowest['ms']} ms, {seconds:.1f} s in all"
    )


if __name__ == "__main__":
    worker(Path(sys.argv[1]), Path(sys.argv[2]))
