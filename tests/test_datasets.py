"""Dataset layouts, CSV partitions, splits, decoding checks, caching and augmentation."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from camviewer.core.data.decode import decode_samples
from camviewer.core.data.index import SPLITS, assign_splits, read_partition_csv, scan_dataset, write_split_csv
from camviewer.core.data.loaders import CachedImages, build_augmentation, label_targets, torch_dataset
from camviewer.core.errors import DatasetError, OutsidePartitionFolder
from camviewer.core.images import read_image
from camviewer.core.jobs import CancelToken, run_to_end
from camviewer.core.model.card import ModelCard
from camviewer.core.preprocess import to_unit_tensor


def write_image(path: Path, colour: tuple[int, int, int], size: int = 32, seed: int = 0) -> Path:
    """A small noisy RGB PNG dominated by ``colour``."""
    rng = np.random.default_rng(seed)
    pixels = np.clip(np.array(colour)[None, None, :] + rng.integers(-30, 30, (size, size, 3)), 0, 255)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels.astype(np.uint8)).save(path)
    return path


COLOURS = {"red": (200, 40, 40), "blue": (40, 40, 200), "green": (40, 200, 40)}


def class_folders(root: Path, counts: dict[str, int], size: int = 32) -> Path:
    """``count`` images per class folder; each class has its own colour ("red" is red, "blue" blue)."""
    for k, (name, count) in enumerate(counts.items()):
        colour = COLOURS.get(name, list(COLOURS.values())[k % 3])
        for i in range(count):
            write_image(root / name / f"{name}_{i}.png", colour, size, seed=100 * k + i)
    return root


CARD = ModelCard("tinyvgg_gap", ["a", "b"], input_size=(16, 16), arch_options={"widths": [4, 8]})


def test_class_folders_ignore_ground_truth_hidden_and_underscore_folders(tmp_path):
    class_folders(tmp_path, {"parasitized": 3, "uninfected": 2})
    write_image(tmp_path / "parasitized" / "deeper" / "nested.png", (0, 0, 0))  # recursive inside a class
    for folder in ("masks/parasitized", "roi/uninfected", "boxes", "annotations", ".cache", "_meta"):
        write_image(tmp_path / folder / "x.png", (0, 0, 0))
    (tmp_path / "empty").mkdir()
    (tmp_path / "synth.json").write_text(json.dumps({"positive_class": "parasitized"}))

    index = scan_dataset(tmp_path)

    assert index.layout == "class-folders"
    assert index.class_names == ["parasitized", "uninfected"]
    assert index.class_counts() == {"parasitized": 4, "uninfected": 2}
    assert index.positive_class == "parasitized"
    assert not index.has_splits and not index.multi_label
    assert index.ignored_folders == [str(tmp_path / "empty")]


def test_split_first_layout_keeps_its_splits_and_reads_aliases(tmp_path):
    for split, count in (("train", 4), ("valid", 2), ("test", 2)):
        class_folders(tmp_path / split, {"cat": count, "dog": count})
    write_image(tmp_path / "masks" / "cat" / "m.png", (0, 0, 0))

    index = scan_dataset(tmp_path)

    assert index.layout == "split-folders" and index.has_splits
    assert {split: sum(index.class_counts(split).values()) for split in SPLITS} == {"train": 8, "val": 4, "test": 4}
    assert assign_splits(index, 0.25, 0.0, seed=1) is index  # its own splits are kept


def test_split_first_layout_without_val_carves_it_from_train(tmp_path):
    for split in ("train", "test"):
        class_folders(tmp_path / split, {"cat": 8, "dog": 8})

    index = assign_splits(scan_dataset(tmp_path), 0.25, 0.0, seed=0)

    assert index.class_counts("val") == {"cat": 2, "dog": 2}
    assert index.class_counts("train") == {"cat": 6, "dog": 6}
    assert index.class_counts("test") == {"cat": 8, "dog": 8}


def test_csv_partition_single_label_with_relative_paths_and_splits(tmp_path):
    class_folders(tmp_path / "images", {"yes": 2, "no": 2})
    rows = [
        "path,label,split",
        "images/yes/yes_0.png,yes,train",
        "images/yes/yes_1.png,yes,Validation",
        "images/no/no_0.png,no,train",
        f"{tmp_path / 'images/no/no_1.png'},no,test",
    ]
    csv_file = tmp_path / "lists" / "partition.csv"
    csv_file.parent.mkdir()
    csv_file.write_text("\n".join(rows).replace("images/", "../images/", 3) + "\n")
    with pytest.raises(OutsidePartitionFolder) as refused:  # every image lies outside lists/: asked for, not assumed
        scan_dataset(csv_file)
    assert len(refused.value.outside) == 4

    index = scan_dataset(csv_file, allow_outside=True)

    assert index.layout == "csv" and index.class_names == ["no", "yes"]
    assert [s.split for s in index.samples] == ["train", "val", "train", "test"]
    assert all(Path(s.path).is_file() for s in index.samples)


def test_csv_partition_multi_label(tmp_path):
    class_folders(tmp_path, {"x": 3})
    (tmp_path / "labels.csv").write_text("path,label\nx/x_0.png,effusion|mass\nx/x_1.png,mass\nx/x_2.png, nodule \n")

    index = scan_dataset(tmp_path / "labels.csv")

    assert index.multi_label and index.class_names == ["effusion", "mass", "nodule"]
    targets = label_targets(index.samples, index.class_names, multi_label=True)
    assert targets.tolist() == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]


@pytest.mark.parametrize(
    "text, problem",
    [
        ("file,label\na.png,x\n", "'path' and 'label'"),
        ("path,label,split\na.png,x,train\nb.png,y,\n", "fill it on all or none"),
        ("path,label,split\na.png,x,holdout\n", "unknown split"),
        ("path,label\na.png,\n", "at least one label"),
    ],
)
def test_csv_partition_errors_name_the_problem(tmp_path, text, problem):
    (tmp_path / "p.csv").write_text(text)
    with pytest.raises(DatasetError, match=problem):
        read_partition_csv(tmp_path / "p.csv")


def test_unreadable_files_are_skipped_and_listed_by_decoding_not_by_extension(tmp_path):
    class_folders(tmp_path, {"a": 3, "b": 3})
    good = (tmp_path / "a" / "a_0.png").read_bytes()
    (tmp_path / "a" / "truncated.png").write_bytes(good[: len(good) // 2])
    (tmp_path / "b" / "notes.png").write_text("this is a text file, not an image")
    index = scan_dataset(tmp_path)
    assert len(index.samples) == 8  # listed by extension...

    events = []
    job = decode_samples(index.samples, CARD, in_memory=True)
    decoded = run_to_end(job, events.append)

    skipped = dict(decoded.skipped)  # ...but only decodable ones are kept
    assert set(skipped) == {str(tmp_path / "a" / "truncated.png"), str(tmp_path / "b" / "notes.png")}
    assert "not an image" in skipped[str(tmp_path / "b" / "notes.png")]
    assert len(decoded.samples) == 6 and decoded.pixels.shape == (6, 3, 16, 16)
    assert events[-1].done == events[-1].total == 8
    assert "2 unreadable" in events[-1].message


def test_decoding_can_be_cancelled(tmp_path):
    class_folders(tmp_path, {"a": 20, "b": 20})
    token = CancelToken()
    token.cancel()
    from camviewer.core.errors import Cancelled

    with pytest.raises(Cancelled):
        run_to_end(decode_samples(scan_dataset(tmp_path).samples, CARD, in_memory=False, cancel=token))


def test_automatic_split_is_stratified_and_reproducible(tmp_path):
    class_folders(tmp_path, {"big": 30, "small": 10}, size=8)
    index = scan_dataset(tmp_path)

    first = assign_splits(index, 0.2, 0.2, seed=3)
    again = assign_splits(index, 0.2, 0.2, seed=3)
    other = assign_splits(index, 0.2, 0.2, seed=4)

    assert [s.split for s in first.samples] == [s.split for s in again.samples]
    assert [s.split for s in first.samples] != [s.split for s in other.samples]
    assert first.class_counts("train") == {"big": 18, "small": 6}
    assert first.class_counts("val") == {"big": 6, "small": 2}
    assert first.class_counts("test") == {"big": 6, "small": 2}


def test_split_too_small_to_stratify_falls_back_to_a_random_split(tmp_path):
    class_folders(tmp_path, {"many": 9, "one": 1}, size=8)
    index = assign_splits(scan_dataset(tmp_path), 0.2, 0.0, seed=0)
    assert Counter(s.split for s in index.samples) == {"train": 8, "val": 2}


def test_split_csv_round_trip(tmp_path):
    class_folders(tmp_path / "data", {"a": 4, "b": 4}, size=8)
    index = assign_splits(scan_dataset(tmp_path / "data"), 0.25, 0.25, seed=0)

    path = write_split_csv(index.samples, tmp_path / "run" / "split.csv")
    again = read_partition_csv(path, allow_outside=True)  # a run's own split.csv names the data beside it

    assert path.read_text().splitlines()[1].startswith("../data/")
    assert [(Path(s.path).resolve(), s.labels, s.split) for s in again.samples] == [
        (Path(s.path).resolve(), s.labels, s.split) for s in index.samples
    ]


def test_cache_and_stream_give_the_preprocessing_of_inference(tmp_path):
    class_folders(tmp_path, {"a": 2, "b": 2}, size=40)
    card = ModelCard(
        "tinyvgg_gap",
        ["a", "b"],
        input_size=(24, 24),
        border_crop=0.1,
        grayscale=True,
        channels=1,
        mean=(0.5,),
        std=(0.25,),
    )
    index = assign_splits(scan_dataset(tmp_path), 0.5, 0.0, seed=0)
    cached = run_to_end(decode_samples(index.samples, card, in_memory=True))
    streamed = run_to_end(decode_samples(index.samples, card, in_memory=False))
    assert streamed.pixels is None
    cached.samples = streamed.samples = index.samples

    from_cache = torch_dataset(cached, "train", card, multi_label=False)
    from_disk = torch_dataset(streamed, "train", card, multi_label=False)
    rows = [i for i, s in enumerate(index.samples) if s.split == "train"]
    expected = torch.stack([to_unit_tensor(read_image(index.samples[i].path), card) for i in rows])

    cache_batch, cache_targets = from_cache.__getitems__(list(range(len(rows))))
    disk_batch = torch.stack([from_disk[i][0] for i in range(len(rows))])
    assert torch.equal(disk_batch, expected)  # streaming: exactly the inference preprocessing
    assert (cache_batch - expected).abs().max() <= 0.5 / 255 + 1e-6  # cache: the same, stored as uint8
    assert cache_targets.tolist() == [index.class_names.index(index.samples[i].labels[0]) for i in rows]


def test_channel_statistics_come_from_the_training_split(tmp_path):
    write_image(tmp_path / "a" / "0.png", (255, 0, 0), seed=0)
    write_image(tmp_path / "b" / "0.png", (0, 0, 255), seed=1)
    index = scan_dataset(tmp_path)
    decoded = run_to_end(decode_samples(index.samples, CARD, in_memory=False))
    decoded.samples = [s.__class__(s.path, s.labels, "train" if s.labels == ("a",) else "val") for s in decoded.samples]

    mean, std = decoded.channel_stats("train")

    unit = to_unit_tensor(read_image(tmp_path / "a" / "0.png"), CARD)
    assert np.allclose(mean, unit.mean(dim=(1, 2)).numpy(), atol=1e-6)
    assert np.allclose(std, unit.std(dim=(1, 2), unbiased=False).numpy(), atol=1e-5)


@pytest.mark.parametrize("preset", ["light", "standard"])
def test_augmentations_keep_shape_and_range_and_vary_per_image(preset):
    augment = build_augmentation(preset, channels=3)
    torch.manual_seed(0)
    images = torch.rand(6, 3, 16, 16)
    cached = CachedImages((images * 255).round().to(torch.uint8), torch.zeros(6, dtype=torch.int64), augment)

    batch, _ = cached.__getitems__([0] * 6)  # the same image six times

    assert batch.shape == (6, 3, 16, 16) and batch.min() >= 0 and batch.max() <= 1
    assert len({tuple(image.flatten().tolist()) for image in batch}) > 1  # parameters drawn per image
    assert build_augmentation("none", 3) is None
    with pytest.raises(DatasetError):
        build_augmentation("heavy", 3)


def test_missing_folder_and_folder_without_images_are_errors(tmp_path):
    with pytest.raises(DatasetError, match="no such folder"):
        scan_dataset(tmp_path / "nothing")
    (tmp_path / "a").mkdir()
    with pytest.raises(DatasetError, match="no images"):
        scan_dataset(tmp_path)
