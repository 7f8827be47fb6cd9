"""The CUDA path gives what the CPU path gives: explain (maps and probabilities) for a CNN and a timm ViT, the
batched and pixel methods, training (mixed precision on CUDA) and evaluation, through the real API and CLI.

Every test needs a CUDA device and is skipped, saying so, without one: the suite passes on a CPU machine, and
`benchmarks/gpu_check.sh` runs this file on a GPU.

Tolerances. The CPU results are the reference. By PyTorch's defaults cuDNN runs fp32 convolutions in TF32 (a
10-bit mantissa: each product rounded to ~5e-4 relative), which after a ResNet's twenty layers moves logits and
maps by up to ~1e-2 relative: that is what users get, checked once, with bounds to match
(``test_explain_cnn_default_precision``). The other comparisons run in full fp32 (``full_fp32``: TF32 off), where
only the order of the sums differs (cuDNN's and cuBLAS's kernels against oneDNN's): ~1e-7 relative per sum,
~1e-5 after a whole network. They are held to 1e-4 on probabilities and 1e-3 on maps in [0, 1]: a hundredfold
margin, yet under one grey level (1/255) of an exported 8-bit map, so that a wrong device move, a forgotten eval
mode or device-dependent noise would fail them.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from camviewer.cli import main
from camviewer.core.cam.engine import compute_cams
from camviewer.core.cam.names import MethodSettings
from camviewer.core.explain.run import explain
from camviewer.core.images import read_image
from camviewer.core.model.card import ModelCard
from camviewer.core.model.loading import load_model, new_model
from camviewer.core.training.loop import read_train_state

pytestmark = [
    pytest.mark.skipif(
        not torch.cuda.is_available(), reason="needs a CUDA device (torch.cuda.is_available() is False)"
    ),
    pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning"),
]

PROBABILITY_TOLERANCE = 1e-4
MAP_TOLERANCE = 1e-3


@pytest.fixture
def full_fp32():
    """No TF32 in cuDNN convolutions or cuBLAS matmuls for the test: GPU and CPU then both compute in fp32."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def pearson(a, b) -> float:
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


def saved_model(tmp_path: Path, arch: str, size: tuple[int, int], options: dict | None = None) -> Path:
    """A random-init checkpoint, written once and loaded on each device (as a user would)."""
    torch.manual_seed(0)
    card = ModelCard(arch=arch, class_names=["a", "b", "c"], input_size=size, arch_options=options or {})
    return new_model(card, device="cpu").save(tmp_path / "model.safetensors")


def images(count: int, shape=(90, 110, 3), seed: int = 0) -> list[np.ndarray]:
    """Smooth random colour images (blurred noise: structure at several scales, unlike white noise)."""
    import cv2

    rng = np.random.default_rng(seed)
    return [cv2.GaussianBlur(rng.integers(0, 256, shape, dtype=np.uint8), (0, 0), 3) for _ in range(count)]


def assert_same_results(on_cpu, on_cuda, map_tolerance=MAP_TOLERANCE) -> None:
    for cpu, gpu in zip(on_cpu, on_cuda, strict=True):
        assert cpu.predicted == gpu.predicted
        assert cpu.layer == gpu.layer
        for name, p in cpu.probs.items():
            assert gpu.probs[name] == pytest.approx(p, abs=PROBABILITY_TOLERANCE)
        assert cpu.maps.keys() == gpu.maps.keys()
        for method, per_class in cpu.maps.items():
            for name, expected in per_class.items():
                got = gpu.maps[method][name]
                assert got.shape == expected.shape
                difference = np.nanmax(np.abs(got - expected))
                assert difference <= map_tolerance, f"{method} {name}: maps differ by {difference:.2e}"
                assert np.array_equal(np.isnan(got), np.isnan(expected))


def explain_on(device: str, checkpoint: Path, methods, pictures, settings=None):
    model = load_model(checkpoint, device=device)
    assert model.device.type == device
    return explain(model, pictures, methods=methods, batch_size=4, settings=settings)


def test_explain_cnn_cuda_matches_cpu(tmp_path, full_fp32):
    checkpoint = saved_model(tmp_path, "resnet18", (96, 96))
    methods = ("gradcam", "gradcam++", "xgradcam", "layercam", "hirescam", "cam", "finercam")
    pictures = images(6)
    assert_same_results(
        explain_on("cpu", checkpoint, methods, pictures), explain_on("cuda", checkpoint, methods, pictures)
    )


def test_explain_timm_vit_cuda_matches_cpu(tmp_path, full_fp32):
    checkpoint = saved_model(tmp_path, "timm:vit_tiny_patch16_224", (64, 64), {"depth": 4})
    methods = ("gradcam", "layercam", "rollout", "gradrollout")
    pictures = images(4)
    assert_same_results(
        explain_on("cpu", checkpoint, methods, pictures), explain_on("cuda", checkpoint, methods, pictures)
    )


def test_explain_cnn_default_precision(tmp_path):
    """With PyTorch's default TF32 convolutions (what users run): the same maps and scores up to TF32 rounding."""
    checkpoint = saved_model(tmp_path, "resnet18", (96, 96))
    cpu, gpu = load_model(checkpoint, device="cpu"), load_model(checkpoint, device="cuda")
    batch = cpu.to_batch(images(6))
    expected = compute_cams(cpu, batch, ["gradcam", "layercam"], target="all")
    got = compute_cams(gpu, batch, ["gradcam", "layercam"], target="all")
    scale = np.abs(expected.logits).max()
    assert np.abs(got.logits - expected.logits).max() <= 2e-2 * scale
    for cpu_maps, gpu_maps in zip(expected.raw, got.raw):
        for method, per_class in cpu_maps.items():
            for c, raw in per_class.items():
                assert pearson(gpu_maps[method][c], raw) >= 0.99, (method, c)


@pytest.mark.parametrize(
    "methods",
    [("scorecam", "ablationcam", "smoothgradcam++"), ("integrated-gradients", "occlusion", "guided-gradcam")],
    ids=["batched", "pixel"],
)
def test_many_forward_methods_cuda_match_cpu(tmp_path, full_fp32, methods):
    """Score-CAM runs on the BatchNorm-folded channels-last copy, AblationCAM on the layers after the target,
    Smooth Grad-CAM++ on seeded noise (the same on both devices), the pixel methods through Captum."""
    if "occlusion" in methods:
        pytest.importorskip("captum", reason="captum (the pixel methods' library) is not installed")
    checkpoint = saved_model(tmp_path, "resnet18", (64, 64))
    settings = MethodSettings(batch_size=64, ig_steps=16, occlusion_window=16, occlusion_stride=8)
    pictures = images(2, shape=(64, 64, 3))
    on_cpu = explain_on("cpu", checkpoint, methods, pictures, settings)
    assert_same_results(on_cpu, explain_on("cuda", checkpoint, methods, pictures, settings))


# ----------------------------------------------------------------------------- training and evaluation


@pytest.fixture(scope="module")
def cuda_run(tmp_path_factory):
    """A two-epoch resnet18 run on CUDA over a small synthetic set: (data folder, run folder)."""
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    root = tmp_path_factory.mktemp("cuda_run")
    data, run = root / "data", root / "run"
    assert main(["synth", str(data), "--kind", "cells", "--n", "80", "--seed", "3", "--size", "48"]) == 0
    args = ["train", str(data), "--out", str(run), "--arch", "resnet18", "--input-size", "32x32", "--epochs", "2"]
    assert main([*args, "--batch-size", "16", "--device", "cuda", "--workers", "0", "--seed", "1"]) == 0
    return data, run


def history(run: Path) -> list[dict]:
    with open(run / "history.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_train_on_cuda_uses_mixed_precision_and_finite_losses(cuda_run):
    _, run = cuda_run
    rows = history(run)
    assert len(rows) == 2
    for row in rows:
        for column in ("train_loss", "val_loss", "train_acc", "val_acc"):
            assert math.isfinite(float(row[column])), (column, row)
    state = read_train_state(run)
    # an enabled GradScaler saves its scale; a disabled one (CPU: no mixed precision) an empty state
    assert state["scaler"].get("scale", 0) > 0
    assert json.loads((run / "config.json").read_text())["device"] == "cuda"


def test_cuda_checkpoint_predicts_the_same_on_cpu(cuda_run, full_fp32):
    data, run = cuda_run
    on_cpu = load_model(run / "best.safetensors", device="cpu")
    on_cuda = load_model(run / "best.safetensors", device="cuda")
    assert next(on_cpu.module.parameters()).device.type == "cpu"
    pictures = [path for path in sorted(data.rglob("*.png")) if path.parts[-3] == data.name][:16]
    decoded = [read_image(path) for path in pictures]
    expected, got = on_cpu.predict(decoded), on_cuda.predict(decoded)
    assert expected.shape == (len(pictures), 2)
    np.testing.assert_allclose(got, expected, atol=PROBABILITY_TOLERANCE, rtol=0)


def test_evaluate_on_cuda_equals_cpu(cuda_run, tmp_path, full_fp32):
    data, run = cuda_run
    reports = {}
    for device in ("cpu", "cuda"):
        out = tmp_path / device
        args = ["evaluate", str(data), "--model", str(run / "best.safetensors"), "--out", str(out)]
        assert main([*args, "--split", "test", "--device", device]) == 0
        with open(out / "predictions.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
        reports[device] = json.loads((out / "metrics.json").read_text()), rows
    (cpu_metrics, cpu_rows), (gpu_metrics, gpu_rows) = reports["cpu"], reports["cuda"]
    assert cpu_metrics["n"] == gpu_metrics["n"] > 0
    assert gpu_metrics["accuracy"] == cpu_metrics["accuracy"]
    assert [row["path"] for row in gpu_rows] == [row["path"] for row in cpu_rows]
    probability_columns = [column for column in cpu_rows[0] if column.startswith("p_")]
    assert probability_columns, f"no probability column in {list(cpu_rows[0])}"
    for cpu_row, gpu_row in zip(cpu_rows, gpu_rows):
        for column in probability_columns:
            assert float(gpu_row[column]) == pytest.approx(float(cpu_row[column]), abs=PROBABILITY_TOLERANCE)
