"""How much does a CAM cost compared with a plain forward pass? And `camviewer explain` vs plain inference.

Run: python benchmarks/bench_cam.py [--archs resnet18,densenet121] [--batches 1,16] [--repeats 15] [--device cuda]
     [--volume-archs r3d_18,monai:DenseNet121] [--volume-size 32x64x64]

Every variant is timed round-robin in the same run (the machine's noise hits all alike) and
reported as the median and the ratio to a plain no-grad forward of the same model and batch.
Our timings include upsampling the maps to the input size, as the references' do.

The AblationCAM and Score-CAM section times one image against pytorch-grad-cam's implementations at the
same settings (layer, class, inputs per forward), round-robin as well.

The volume section does the same for 3-D networks on a one-channel volume (maps upsampled to the input
grid, trilinear); pytorch-grad-cam's GradCAM takes 5-D input, torchcam's too.

The recipe section times a batch-16 explain (preprocessing, one Grad-CAM pass, maps placed on the
original images) before and after preprocessing recipes: camviewer 0.x's OpenCV INTER_AREA resize and
``cv2.resize`` map upsampling (kept below as the baseline) against torchvision's resize and the exact
inverse placement.

``--device cuda`` puts the models and inputs on the GPU and synchronizes around every timed call (CUDA
runs asynchronously: without it a timer measures the launch, not the work); ``--amp`` adds rows under
bfloat16 autocast. The reference libraries are optional there: their rows are skipped, with a line
saying so, when one cannot be imported.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from camviewer.core.cam.display import upsample_map
from camviewer.core.cam.engine import compute_cams, inapplicable_methods
from camviewer.core.cam.names import MethodSettings
from camviewer.core.model.card import ModelCard
from camviewer.core.model.loading import new_model

GRADIENT_FIVE = ["gradcam", "gradcam++", "xgradcam", "layercam", "hirescam"]
DEVICE = torch.device("cpu")  # set by --device


def importable(module: str) -> bool:
    """Whether a reference library can be imported; says so once when it cannot (its rows are skipped)."""
    try:
        __import__(module)
    except ImportError as error:
        if module not in _MISSING:
            print(f"({module} cannot be imported: {error}; its rows are skipped)", flush=True)
        _MISSING.add(module)
        return False
    return True


_MISSING: set[str] = set()


def synchronize() -> None:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def autocast(run):
    """The same call under bfloat16 autocast (--amp rows)."""

    def run_autocast():
        with torch.autocast(DEVICE.type, dtype=torch.bfloat16):
            run()

    return run_autocast


def our_method(model, batch, methods, settings=None):
    from camviewer.core.volumes.resample import resize

    def run():
        out = compute_cams(model, batch, methods, settings=settings)
        for image in out.raw:
            for per_class in image.values():
                for raw in per_class.values():
                    if batch.ndim == 5:
                        resize(np.maximum(raw, 0), batch.shape[-3:])
                    else:
                        upsample_map(raw, batch.shape[-2:])

    return run


def reference_reshape(model, batch):
    """pytorch-grad-cam's ``reshape_transform`` for a transformer (None for a CNN): tokens or NHWC to NCHW."""
    from camviewer.core.cam.layers import layout_of

    layout = layout_of(model)
    if layout.kind == "cnn":
        return None
    if layout.kind == "channels_last":
        return lambda t: t.permute(0, 3, 1, 2)
    grid, prefix = layout.grid(tuple(batch.shape[2:])), layout.prefix
    return lambda t: t[:, prefix:].reshape(t.shape[0], *grid, t.shape[2]).permute(0, 3, 1, 2)


def variants(model, batch, amp: bool = False):
    from camviewer.core.cam.layers import layout_of

    module = model.module
    layer_name = compute_cams(model, batch[:1], ["gradcam"]).layer
    layer = module.get_submodule(layer_name)
    transformer = layout_of(model).kind != "cnn"

    def plain_forward():
        with torch.no_grad():
            module(batch)

    runs = {
        "plain forward (no grad)": plain_forward,
        "cam": our_method(model, batch, ["cam"]),
        "gradcam": our_method(model, batch, ["gradcam"]),
        "gradcam++": our_method(model, batch, ["gradcam++"]),
        "layercam": our_method(model, batch, ["layercam"]),
        "five gradient methods together": our_method(model, batch, GRADIENT_FIVE),
    }
    if importable("pytorch_grad_cam"):
        from pytorch_grad_cam import GradCAM

        pgc = GradCAM(model=module, target_layers=[layer], reshape_transform=reference_reshape(model, batch))

        def pytorch_grad_cam():  # targets=None: it explains the predicted class, as ours does
            pgc(input_tensor=batch, targets=None)

        runs["pytorch-grad-cam GradCAM"] = pytorch_grad_cam
    # torchcam reads (N, C, H, W) layers only
    if not transformer and importable("torchcam"):
        from torchcam.methods import GradCAM as TorchcamGradCAM

        def torchcam_gradcam():
            with TorchcamGradCAM(module, layer_name, input_shape=tuple(batch.shape[1:])) as extractor:
                scores = module(batch)
                extractor(scores.argmax(1).tolist(), scores)

        runs["torchcam GradCAM"] = torchcam_gradcam
    if layout_of(model).kind == "tokens":  # CAM needs a GAP + linear head (Swin has one)
        del runs["cam"]
        runs["rollout"] = our_method(model, batch, ["rollout"])
        runs["gradrollout"] = our_method(model, batch, ["gradrollout"])
    if amp:
        for name, run in (("plain forward (no grad)", plain_forward), ("gradcam", runs["gradcam"])):
            try:  # tried once first: a failure is a row's news, not the end of the benchmark
                autocast(run)()
            except Exception as error:
                print(f"({name} under bf16 autocast failed: {type(error).__name__}: {error})", flush=True)
                continue
            runs[f"{name}, bf16 autocast"] = autocast(run)
    return runs


def time_round_robin(runs: dict, repeats: int, warmup: int = 2) -> dict[str, float]:
    for run in runs.values():
        for _ in range(warmup):
            run()
    samples = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            synchronize()
            start = time.perf_counter()
            run()
            synchronize()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) * 1000 for name, values in samples.items()}


def bench_methods(archs, batches, repeats, amp: bool = False) -> None:
    where = f"{torch.get_num_threads()} threads"
    if DEVICE.type == "cuda":
        where = f"{torch.cuda.get_device_name(DEVICE)}, CUDA {torch.version.cuda}"
    print(f"torch {torch.__version__}, {where}, input 224x224, median of {repeats}\n")
    print("| model | batch | variant | median ms | ratio to plain forward |")
    print("|---|---|---|---|---|")
    for arch in archs:
        torch.manual_seed(0)
        model = new_model(ModelCard(arch=arch, class_names=[f"c{i}" for i in range(10)]), device=str(DEVICE))
        for size in batches:
            batch = torch.randn(size, 3, 224, 224).to(DEVICE)
            runs = variants(model, batch, amp)
            medians = time_round_robin(runs, repeats if size == 1 else max(3, repeats // 3))
            base = medians["plain forward (no grad)"]
            for name, ms in medians.items():
                print(f"| {arch} | {size} | {name} | {ms:.1f} | {ms / base:.3f}x |", flush=True)


def many_forward_variants(model, batch, chunk: int) -> dict:
    """AblationCAM and Score-CAM, ours and pytorch-grad-cam's: same layer, class, and inputs per forward."""
    settings = MethodSettings(batch_size=chunk)
    ours = {method: our_method(model, batch, [method], settings) for method in ("ablationcam", "scorecam")}
    if not importable("pytorch_grad_cam"):
        return ours
    from pytorch_grad_cam import AblationCAM, ScoreCAM

    layer = model.module.get_submodule(compute_cams(model, batch[:1], ["gradcam"]).layer)
    references = {
        "ablationcam": AblationCAM(model.module, [layer], batch_size=chunk),
        "scorecam": ScoreCAM(model.module, [layer]),
    }
    references["scorecam"].batch_size = chunk

    def reference(method):
        def run():
            with contextlib.redirect_stderr(io.StringIO()):  # its tqdm bars
                references[method](input_tensor=batch, targets=None)  # the predicted class, as ours

        return run

    runs = {}
    for method in ("ablationcam", "scorecam"):
        runs[method] = ours[method]
        runs[f"pytorch-grad-cam {method}"] = reference(method)
    return runs


def bench_many_forwards(archs, size: int, chunk: int, repeats: int) -> None:
    """The methods of one forward per channel: ours against pytorch-grad-cam's, round-robin in the same run."""
    print(f"\nAblationCAM and Score-CAM, one {size}x{size} image, {chunk} inputs per forward, median of {repeats}:\n")
    print("| model | method | camviewer s | pytorch-grad-cam s | speed-up |")
    print("|---|---|---|---|---|")
    for arch in archs:
        torch.manual_seed(0)
        card = ModelCard(arch=arch, class_names=[f"c{i}" for i in range(10)], input_size=(size, size))
        model = new_model(card, device=str(DEVICE))
        batch = torch.randn(1, 3, size, size).to(DEVICE)
        medians = time_round_robin(many_forward_variants(model, batch, chunk), repeats, warmup=1)
        for method in ("ablationcam", "scorecam"):
            ours = medians[method] / 1000
            theirs = medians.get(f"pytorch-grad-cam {method}")
            if theirs is None:
                print(f"| {arch} | {method} | {ours:.2f} | - | - |", flush=True)
                continue
            theirs /= 1000
            print(f"| {arch} | {method} | {ours:.2f} | {theirs:.2f} | {theirs / ours:.1f}x |", flush=True)


def bench_volume_methods(archs, size: tuple[int, int, int], repeats: int) -> None:
    from camviewer.core.model.volume_recipe import VolumeRecipe

    print(f"\n3-D networks, one-channel volume {'x'.join(map(str, size))}, batch 1, median of {repeats}\n")
    print("| model | variant | median ms | ratio to plain forward |")
    print("|---|---|---|---|")
    for arch in archs:
        torch.manual_seed(0)
        card = ModelCard(
            arch=arch,
            class_names=["normal", "nodule"],
            channels=1,
            mean=(0.5,),
            std=(0.25,),
            arch_options={"spatial_dims": 3} if arch.startswith("monai:") else {},
            volume=VolumeRecipe(size),
        )
        model = new_model(card, device=str(DEVICE))
        runs = variants(model, torch.randn(1, 1, *size).to(DEVICE))
        for method, why in inapplicable_methods(model, ["cam"]).items():  # e.g. a grid too small for the last layer
            print(f"| {arch} | {method} | - | not applicable: {why} |")
            runs.pop(method, None)
        medians = time_round_robin(runs, repeats, warmup=1)
        base = medians["plain forward (no grad)"]
        for name, ms in medians.items():
            print(f"| {arch} | {name} | {ms:.0f} | {ms / base:.3f}x |", flush=True)


def bench_explain_folder(count: int, repeats: int) -> None:
    """`camviewer explain` (gradcam, maps + overlays + CSV) vs a plain batched no-grad loop."""
    from camviewer.cli import main as cli_main
    from camviewer.core.images import list_images, read_image
    from camviewer.core.jobs import run_to_end
    from camviewer.core.synth import generate

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        run_to_end(generate(tmp / "data", "xray", count, seed=0, size=256))
        files = list_images(tmp / "data", recursive=True)
        files = [f for f in files if f.parts[-3] == "data"][:count]  # images only, not masks
        torch.manual_seed(0)
        model = new_model(ModelCard(arch="resnet18", class_names=["normal", "pneumonia"]), device="cpu")
        checkpoint = model.save(tmp / "model.safetensors")

        def plain_loop():
            with torch.no_grad():
                for start in range(0, len(files), 16):
                    images = [read_image(f).pixels for f in files[start : start + 16]]
                    model.module(model.to_batch(images)).softmax(1)

        def camviewer_explain():
            quiet = open(os.devnull, "w")  # noqa: SIM115  (closed in the finally below)
            stderr, sys.stderr = sys.stderr, quiet
            try:
                code = cli_main(
                    [
                        "explain",
                        *map(str, files),
                        "--model",
                        str(checkpoint),
                        "--out",
                        str(tmp / "out"),
                        "--device",
                        "cpu",
                        "--batch-size",
                        "16",
                        "--overwrite",
                    ]
                )
            finally:
                sys.stderr = stderr
                quiet.close()
            assert code == 0

        medians = time_round_robin(
            {"plain batched no-grad loop": plain_loop, "camviewer explain": camviewer_explain}, repeats, warmup=1
        )
        print(
            f"\n`camviewer explain` over {len(files)} images (256x256 PNG, resnet18, batch 16, gradcam; "
            "writes maps, overlays, CSV):\n"
        )
        print("| pipeline | median s | images/s | ratio |")
        print("|---|---|---|---|")
        base = len(files) / (medians["plain batched no-grad loop"] / 1000)
        for name, ms in medians.items():
            rate = len(files) / (ms / 1000)
            print(f"| {name} | {ms / 1000:.2f} | {rate:.1f} | {rate / base:.2f}x |")


def legacy_upsample_map(raw, image_size):
    """camviewer 0.x's display map (no crop): ReLU, cv2.resize, min-max: the baseline of the recipe section."""
    import cv2

    height, width = image_size
    resized = cv2.resize(np.maximum(raw, 0).astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    resized -= resized.min()
    resized /= resized.max() + 1e-7
    return resized


def bench_recipe(sizes: list[tuple[int, int]], repeats: int) -> None:
    """Batch-16 explain of decoded 8-bit images: 0.x preprocessing and placement vs the recipe's.

    Timed whole (preprocessing, one Grad-CAM pass, placement) and without the model pass (the part
    that changed), all four round-robin in the same run.
    """
    from dataclasses import replace
    from functools import partial

    from camviewer.core.images import as_decoded
    from camviewer.core.preprocess import normalize, to_unit_tensor

    torch.manual_seed(0)
    model = new_model(ModelCard(arch="resnet18", class_names=["normal", "pneumonia"]), device="cpu")
    rng = np.random.default_rng(0)
    print("\nBatch-16 explain of 8-bit RGB images (resnet18, gradcam, maps placed on the originals); before:")
    print("OpenCV INTER_AREA + cv2 upsampling (camviewer 0.x), after: torchvision resize + exact inverse:\n")
    print("| images | whole batch before | after | ratio | preprocessing + placement before | after | ratio |")
    print("|---|---|---|---|---|---|---|")
    for height, width in sizes:
        images = [as_decoded(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)) for _ in range(16)]
        raw = compute_cams(model, torch.randn(16, 3, 224, 224), ["gradcam"]).raw
        cards = {"before": replace(model.card, interpolation="area"), "after": model.card}

        def prepare_and_place(which, card, images, raws):
            batch = normalize(torch.stack([to_unit_tensor(image, card) for image in images]), card)
            for image, maps in zip(images, raws):
                size = image.pixels.shape[:2]
                (map_,) = maps["gradcam"].values()
                if which == "before":
                    legacy_upsample_map(map_, size)
                else:
                    upsample_map(map_, size, card.placement(size))
            return batch

        def explain_batch(which, card, images):
            def run():
                batch = normalize(torch.stack([to_unit_tensor(image, card) for image in images]), card)
                prepare_and_place(which, card, images, compute_cams(model, batch, ["gradcam"]).raw)

            return run

        runs = {}
        for which, card in cards.items():
            runs[which] = explain_batch(which, card, images)
            runs[f"{which} steps"] = partial(prepare_and_place, which, card, images, raw)
        ms = time_round_robin(runs, repeats)
        print(
            f"| 16 x {height}x{width} | {ms['before']:.0f} ms | {ms['after']:.0f} ms | {ms['after'] / ms['before']:.3f}x "
            f"| {ms['before steps']:.0f} ms | {ms['after steps']:.0f} ms | {ms['after steps'] / ms['before steps']:.3f}x |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", default="resnet18,densenet121,timm:vit_small_patch16_224,swin_t")
    parser.add_argument("--batches", default="1,16")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--skip-folder", action="store_true")
    parser.add_argument("--skip-methods", action="store_true")
    parser.add_argument("--recipe-sizes", default="256x256,1024x1280", metavar="HxW[,HxW...]")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--many-archs", default="resnet18", help="models for AblationCAM and Score-CAM")
    parser.add_argument("--many-size", type=int, default=224, help="input side for AblationCAM and Score-CAM")
    parser.add_argument("--many-batch", type=int, default=32, help="inputs per forward for both implementations")
    parser.add_argument("--many-repeats", type=int, default=3)
    parser.add_argument("--skip-many", action="store_true")
    parser.add_argument("--volume-archs", default="r3d_18,monai:DenseNet121", help="3-D networks ('' skips them)")
    parser.add_argument("--volume-size", default="32x64x64", metavar="DxHxW")
    parser.add_argument("--skip-recipe", action="store_true")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="where models and inputs live")
    parser.add_argument("--amp", action="store_true", help="add rows under bfloat16 autocast")
    args = parser.parse_args()
    global DEVICE
    DEVICE = torch.device(args.device)
    if DEVICE.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch sees no CUDA device")
    if args.threads:
        torch.set_num_threads(args.threads)
    if not args.skip_methods:
        bench_methods(args.archs.split(","), [int(b) for b in args.batches.split(",")], args.repeats, args.amp)
    if not args.skip_many:
        bench_many_forwards(args.many_archs.split(","), args.many_size, args.many_batch, args.many_repeats)
    if args.volume_archs:
        volume_size = tuple(int(side) for side in args.volume_size.split("x"))
        bench_volume_methods(args.volume_archs.split(","), volume_size, max(3, args.repeats // 3))
    if not args.skip_recipe:  # preprocessing and placement run on the CPU whatever --device says
        sizes = [tuple(int(side) for side in size.split("x")) for size in args.recipe_sizes.split(",")]
        bench_recipe(sizes, max(3, args.repeats // 3))
    if not args.skip_folder:
        bench_explain_folder(args.images, repeats=3)


if __name__ == "__main__":
    main()
