"""The hostile and clumsy corpus of the hardening tests (issue 11), made on the spot.

A FIFO named like an image, a socket, a file name that is not UTF-8, the longest legal file name, names
that collide once made portable, a file that holds a secret, model cards and ground-truth files that lie,
checkpoints with NaN or infinite weights, and a subprocess whose files may not grow past a few bytes (a full disk).
"""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

SECRET = "root:$6$S3CRET-HASH-DO-NOT-LEAK$abcdefgh:19000:0:99999:7:::"
NON_UTF8_NAME = b"caf\xe9-\xff.png"  # Latin-1 e-acute and a byte that is never UTF-8
NAME_MAX = 255


def image(path: Path, seed: int = 0, size: tuple[int, int] = (40, 48)) -> Path:
    """A small RGB PNG (or another format, from the suffix) with a bright disc."""
    rng = np.random.default_rng(seed)
    pixels = (rng.random((*size, 3)) * 80).astype(np.uint8)
    yy, xx = np.mgrid[: size[0], : size[1]]
    pixels[(yy - size[0] // 3) ** 2 + (xx - size[1] // 2) ** 2 < 40] = (250, 60, 60)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def fifo(folder: Path, name: str = "x.png") -> Path:
    """A FIFO (named pipe) with no writer: opening it for reading the usual way blocks forever."""
    folder.mkdir(parents=True, exist_ok=True)
    os.mkfifo(folder / name)
    return folder / name


def unix_socket(folder: Path, name: str = "s.png") -> tuple[Path, socket.socket]:
    """A listening Unix socket named like an image (close the socket when done)."""
    folder.mkdir(parents=True, exist_ok=True)
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(folder / name))
    return folder / name, server


def non_utf8_image(folder: Path, seed: int = 1) -> Path:
    """A PNG whose file name is not valid UTF-8 (as Python lists it: bytes kept as surrogate escapes)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = Path(os.fsdecode(os.fsencode(folder) + b"/" + NON_UTF8_NAME))
    return image(path, seed)


def longest_name_image(folder: Path, seed: int = 2, suffix: str = ".png", length: int = 249) -> Path:
    """A PNG whose name takes ``length`` bytes (a legal name: 255 is the limit)."""
    return image(folder / ("n" * (length - len(suffix)) + suffix), seed)


def secret_file(path: Path) -> Path:
    """A password-file look-alike: its bytes must never appear in a message or an output."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(SECRET + "\n")
    return path


def hostile_cards() -> dict[str, object]:
    """Model cards that must each be one clear InvalidModelCard (the key names the field at fault, or None)."""
    base = {
        "arch": "tinyvgg_gap",
        "class_names": ["a", "b"],
        "input_size": [32, 32],
        "arch_options": {"widths": [4, 8]},
    }
    vit = {**base, "arch": "timm:vit_tiny_patch16_224", "arch_options": {}}
    return {
        "a list, not an object": (None, [base]),
        "a number": (None, 42),
        "widths as text": ("arch_options.widths", {**base, "arch_options": {"widths": "abc"}}),
        "widths of 2e9": ("arch_options.widths", {**base, "arch_options": {"widths": [2e9]}}),
        "a 1e6 input": ("input_size", {**base, "input_size": [1e6, 1e6]}),
        "a 1x1 input": ("input_size", {**base, "input_size": [1, 1]}),
        "a NaN std": ("std", {**base, "std": [float("nan")] * 3}),
        "an infinite mean": ("mean", {**base, "mean": [float("inf"), 0, 0]}),
        "a zero std": ("std", {**base, "std": [0.2, 0.0, 0.2]}),
        "names equal once trimmed": ("class_names", {**base, "class_names": ["normal", "normal "]}),
        "names as one string": ("class_names", {**base, "class_names": "ab"}),
        "a name with a line break": ("class_names", {**base, "class_names": ["a\nb", "c"]}),
        "channels as text": ("channels", {**base, "channels": "3"}),
        "no classes": ("class_names", {**base, "class_names": []}),
        "no architecture": ("arch", {"class_names": ["a", "b"]}),
        "notes as a list": ("notes", {**base, "notes": [1, 2]}),
        "a border crop of 0.9": ("border_crop", {**base, "border_crop": 0.9}),
        "too many blocks for the input": (
            "input_size",
            {**base, "input_size": [16, 16], "arch_options": {"widths": [4] * 5}},
        ),
        "a resize of 1e6": ("resize", {**base, "input_size": None, "resize": 1000000, "crop": [32, 32]}),
        "a crop of 0x0": ("crop", {**base, "input_size": None, "resize": 40, "crop": [0, 0]}),
        "a letterbox as text": ("letterbox", {**base, "input_size": None, "resize": [32, 32], "letterbox": "yes"}),
        "a crop and a letterbox": (
            "recipe",
            {**base, "input_size": None, "resize": [40, 40], "crop": [32, 32], "letterbox": True},
        ),
        "a version as text": ("card_version", {**base, "card_version": "2"}),
        "timm told to load weights": ("arch_options.pretrained", {**vit, "arch_options": {"pretrained": True}}),
        "timm pointed at a file": (
            "arch_options.pretrained_cfg_overlay",
            {**vit, "arch_options": {"pretrained_cfg_overlay": {"file": "/etc/shadow"}}},
        ),
        "timm with other classes": ("arch_options.num_classes", {**vit, "arch_options": {"num_classes": 1000}}),
        "timm of 10,000 blocks": ("arch_options.depth", {**vit, "arch_options": {"depth": 10_000}}),
        "timm options nested": ("arch_options.block_fn", {**vit, "arch_options": {"block_fn": {"x": 1}}}),
    }


def tiny_card(class_names=("a", "b")):
    from camviewer.core.model.card import ModelCard

    return ModelCard(
        arch="tinyvgg_gap", class_names=list(class_names), input_size=(32, 32), arch_options={"widths": [4, 8]}
    )


def tiny_checkpoint(path: Path, class_names=("a", "b"), seed: int = 0) -> Path:
    import torch

    from camviewer.core.model.loading import new_model

    torch.manual_seed(seed)
    return new_model(tiny_card(class_names), device="cpu").save(path)


def poisoned_checkpoint(path: Path, value: float = float("nan")) -> Path:
    """A camviewer checkpoint whose classifier holds one NaN (or infinite) weight."""
    import torch

    from camviewer.core.model.loading import new_model

    model = new_model(tiny_card(), device="cpu")
    with torch.no_grad():
        model.module.classifier[2].weight[0, 0] = value
    return model.save(path)


def overflowing_checkpoint(path: Path) -> Path:
    """Finite weights whose outputs overflow to infinity (the first convolution's weights near float32's limit)."""
    import torch

    from camviewer.core.model.loading import new_model

    model = new_model(tiny_card(), device="cpu")
    with torch.no_grad():
        model.module.conv_block_1[0].weight.fill_(3e38)
    return model.save(path)


def run_with_file_limit(args: list[str], limit_bytes: int, cwd: Path | None = None, timeout: float = 120):
    """Run ``python args...`` where no file may grow past ``limit_bytes`` (RLIMIT_FSIZE): a write past it fails
    with EFBIG, as on a full disk (SIGXFSZ ignored, so the write fails instead of killing the process)."""

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, *args], preexec_fn=limit, capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout
    )


def hostile_annotations() -> dict[str, tuple[str, object]]:
    """Ground-truth files that lie: (kind, content); each must be one AnnotationError. ``coco`` content is
    written as JSON (text as it is), ``voc`` as one XML file of a VOC folder."""
    image = {"id": 1, "file_name": "a.png"}
    box = {"image_id": 1, "bbox": [1, 1, 4, 4]}
    return {
        "COCO annotations as an object": ("coco", {"images": [image], "annotations": {"1": box}}),
        "COCO annotations as text": ("coco", {"images": [image], "annotations": ["x"]}),
        "COCO categories as text": ("coco", {"images": [image], "annotations": [box], "categories": ["x"]}),
        "COCO images as text": ("coco", {"images": ["a.png"]}),
        "COCO image id a list": ("coco", {"images": [{"id": [1], "file_name": "a.png"}]}),
        "COCO image_id a list": ("coco", {"images": [image], "annotations": [{**box, "image_id": [1]}]}),
        "COCO bbox of 1e400": (
            "coco",
            '{"images": [{"id": 1, "file_name": "a.png"}], "annotations": '
            '[{"image_id": 1, "bbox": [1' + "0" * 400 + ", 0, 4, 4]}]}",
        ),
        "COCO nested 100,000 deep": ("coco", "[" * 100_000 + "]" * 100_000),
        "VOC corner NaN": ("voc", _voc_object("nan", "1", "inf", "4")),
        "VOC billion laughs": ("voc", _billion_laughs()),
    }


def _voc_object(xmin: str, ymin: str, xmax: str, ymax: str) -> str:
    corners = f"<xmin>{xmin}</xmin><ymin>{ymin}</ymin><xmax>{xmax}</xmax><ymax>{ymax}</ymax>"
    return (
        f"<annotation><filename>a.png</filename><object><name>x</name><bndbox>{corners}</bndbox></object></annotation>"
    )


def _billion_laughs() -> str:
    """An XML file of 1 KB whose entities expand to 3 GB ("lol" times 10**9)."""
    entities = '<!ENTITY l0 "lol">' + "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    return f'<?xml version="1.0"?><!DOCTYPE a [{entities}]><annotation><filename>&l9;</filename></annotation>'
