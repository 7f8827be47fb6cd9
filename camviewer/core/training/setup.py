"""Setting a training run up: the run folder, the model card, the model, frozen layers, the session."""

from __future__ import annotations

import json
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import nn

from camviewer.core.atomic import write_text_atomic
from camviewer.core.csvfiles import csv_text
from camviewer.core.data.decode import DecodedSet, cache_bytes, decode_samples
from camviewer.core.data.index import (
    AUGMENTATIONS,
    DatasetIndex,
    assign_splits,
    read_partition_csv,
    scan_dataset,
    write_split_csv,
)
from camviewer.core.data.labels import LabelMapping, match_class, relabeled
from camviewer.core.data.loaders import build_augmentation, default_workers, torch_dataset
from camviewer.core.data.summary import summarize
from camviewer.core.distributed.world import World
from camviewer.core.errors import (
    ArchitectureConflict,
    ClassMismatch,
    DatasetError,
    EmptySplit,
    InvalidModelCard,
    PretrainedWeightsUnavailable,
    RecipeError,
    TrainingOptionError,
)
from camviewer.core.jobs import CancelToken, Progress
from camviewer.core.model.card import ModelCard, default_class_names
from camviewer.core.model.loaded import LoadedModel
from camviewer.core.model.loading import default_preprocessing, load_model, new_model
from camviewer.core.model.registry import spatial_dims
from camviewer.core.model.volume_recipe import DEFAULT_SIZE, VolumeRecipe
from camviewer.core.training import parallel
from camviewer.core.training.defaults import (
    BALANCE,
    SCHEDULES,
    WARMUP_EPOCHS,
    default_input_size,
    loss_weights,
    settle_defaults,
    warmup_cosine,
)
from camviewer.core.training.freezing import freeze_parameters
from camviewer.core.training.records import EpochRecord, Notice, TrainConfig
from camviewer.core.training.session import Session


def start_session(config: TrainConfig, run_dir: Path, state: dict | None, cancel: CancelToken | None, world: World):
    """Index, decode and split the data, settle the card, build model and optimizer (or restore them); every
    process of a ``world`` does the same (the same seed, the same split), only rank 0 writes."""
    _check_config(config)
    torch.manual_seed(config.seed)
    init = None
    if state:  # the run's own split and card: the same images, preprocessing and statistics
        index = read_partition_csv(run_dir / "split.csv", allow_outside=True)  # the run's own file, naming the data
        try:
            card = ModelCard.from_dict(state["card"])
        except InvalidModelCard as error:
            raise error.in_file(run_dir / "last.pt") from None
        index = replace(index, volumes=card.volume is not None)
    else:
        if config.init:
            init = load_model(config.init, arch=config.arch, device="cpu")
        volumes = (init.card.spatial_dims if init else spatial_dims(config.arch, config.arch_options)) == 3
        index = scan_dataset(config.data, config.allow_outside, volumes=volumes)
        if config.init:
            if _names_no_classes(init, index):
                init.card = replace(init.card, class_names=list(index.class_names))
                text = (
                    f"{Path(config.init).name} names no classes: its {init.card.num_classes} outputs are taken "
                    f"as the data's classes in sorted order ({', '.join(index.class_names)})"
                )
                yield Progress(0, None, text, Notice(text))
            elif not _is_bare(init):
                mapping = LabelMapping.build(index.class_names, init.card.class_names, config.label_map)
                mapping.require_one_to_one()
                if not mapping.is_identity:  # train on the checkpoint's class names from here on
                    index = relabeled(index, mapping)
                    text = "\n".join(mapping.preview_lines())
                    yield Progress(0, None, text, Notice(text))
        card = _preprocessing_card(config, index, init)
    in_memory = cache_bytes(len(index.samples), card) <= config.cache_bytes
    decoded = yield from decode_samples(index.samples, card, in_memory, cancel=cancel)
    if not decoded.samples:
        raise DatasetError(f"{config.data}: none of the {len(index.samples)} images could be decoded")
    index = replace(index, samples=decoded.samples)
    if not state:
        index = assign_splits(index, config.val_split, config.test_split, config.seed)
    decoded.samples = index.samples  # same images, same order, now with their splits
    _check_splits(index)
    defaulted = not state and config.batch_size is None
    if not state:
        card = _final_card(config, card, decoded, run_dir, index.origin)
        config = settle_defaults(config, card.arch, len(index.in_split("train")))
    config = parallel.shared_batch(config, world, defaulted)
    balance = loss_weights(config, index, card.head == "sigmoid")
    if not state:
        chosen = {name: getattr(config, name) for name in ("lr", "batch_size", "schedule", "balance")}
        card.notes["training"].update(chosen, class_weights=balance)
    summary = replace(summarize(index, decoded), balance=config.balance, class_weights=balance)
    yield Progress(0, None, "dataset ready", summary)
    model, notices = _build_model(config, card, init, state is not None, world.device(config.device))
    for text in notices:
        yield Progress(0, None, text, Notice(text))
    session = _new_session(config, run_dir, model, decoded, summary, balance, world)
    if state:
        _restore(session, state)
    elif world.writes:
        _write_run_files(session, index)
    session.network = parallel.network(session.model, world)
    return session


def _check_config(config: TrainConfig) -> None:
    if not config.arch and not config.init:
        raise TrainingOptionError("arch", "none given, and no checkpoint to fine-tune from")
    if config.optimizer not in ("adam", "sgd"):
        raise TrainingOptionError("optimizer", "unknown; adam or sgd", config.optimizer)
    if config.augment not in AUGMENTATIONS:
        raise TrainingOptionError("augment", f"unknown; one of {', '.join(AUGMENTATIONS)}", config.augment)
    if config.schedule not in SCHEDULES:
        raise TrainingOptionError("schedule", f"unknown; one of {', '.join(SCHEDULES)}", config.schedule)
    if config.balance not in BALANCE:
        raise TrainingOptionError("balance", f"unknown; one of {', '.join(BALANCE)}", config.balance)
    for name in ("epochs", "batch_size", "patience"):
        if getattr(config, name) is not None and getattr(config, name) < 1:
            raise TrainingOptionError(name, "must be at least 1", getattr(config, name))
    if config.lr is not None and not config.lr > 0:
        raise TrainingOptionError("lr", "the learning rate must be positive", config.lr)


def _check_splits(index: DatasetIndex) -> None:
    for split in ("train", "val"):
        if not index.in_split(split):
            raise EmptySplit(index.source, split)


def _is_bare(init: LoadedModel) -> bool:
    """A checkpoint without class names of its own (a bare state_dict)."""
    return init.card.class_names == default_class_names(init.card.num_classes)


def _names_no_classes(init: LoadedModel, index: DatasetIndex) -> bool:
    """A bare state_dict (no card) to fine-tune from, with as many outputs as the data has classes."""
    return _is_bare(init) and init.card.num_classes == len(index.class_names)


def _class_names(index: DatasetIndex, init: LoadedModel | None) -> list[str]:
    """The dataset's classes, in the init checkpoint's order when fine-tuning (matched by name)."""
    if init is None:
        if len(index.class_names) < 2 and not index.multi_label:
            raise DatasetError(f"{index.source}: found one class ({index.class_names}); a classifier needs two")
        return index.class_names
    theirs, ours = init.card.class_names, index.class_names
    if set(theirs) != set(ours):
        raise ClassMismatch(str(init.source), list(theirs), list(ours))
    return list(theirs)


def _preprocessing_card(config: TrainConfig, index: DatasetIndex, init: LoadedModel | None) -> ModelCard:
    """The card's architecture, classes and preprocessing; mean/std are settled after decoding."""
    base = init.card if init else None
    if base is not None and config.arch not in (None, base.arch):
        raise ArchitectureConflict(f"the checkpoint to fine-tune from ({config.init})", base.arch, config.arch)
    multi_label = index.multi_label if config.multi_label is None else config.multi_label
    grayscale = config.grayscale if config.grayscale is not None else (base.grayscale if base else False)
    channels = base.channels if base else (1 if grayscale or index.volumes else 3)
    names = _class_names(index, init)
    positive = config.positive_class or (base.positive_class if base else None) or index.positive_class
    if positive is not None:
        positive = match_class(positive, names) or positive  # the data's name in the checkpoint's spelling
    if positive is not None and (positive not in names or len(names) != 2 or multi_label):
        raise TrainingOptionError(
            "positive_class",
            f"needs a two-class, single-label dataset with that class; classes are {', '.join(names)}",
            positive,
        )
    try:
        return ModelCard(
            arch=base.arch if base else config.arch,
            class_names=names,
            channels=channels,
            mean=base.mean if base else (0.5,) * channels,
            std=base.std if base else (0.25,) * channels,
            head="sigmoid" if multi_label else "softmax",
            positive_class=positive,
            border_crop=_border_crop(config, base),
            grayscale=grayscale,
            arch_options=dict(base.arch_options) if base else dict(config.arch_options),
            **_recipe(config, base),
        )
    except ValueError as error:
        raise RecipeError(str(error)) from None


def _recipe(config: TrainConfig, base: ModelCard | None) -> dict:
    """The geometry and interpolation (volumes: grid, spacing, window): as configured, else the init checkpoint's,
    else a stretch to the arch's size (a volume recipe's defaults)."""
    if base.volume is not None if base else spatial_dims(config.arch, config.arch_options) == 3:
        volume = base.volume if base else VolumeRecipe(DEFAULT_SIZE)
        return {"volume": volume.changed(config.input_size, config.spacing, config.window)}
    if any(value is not None for value in (config.input_size, config.resize, config.crop, config.letterbox)):
        geometry = {
            "input_size": config.input_size,
            "resize": config.resize,
            "crop": config.crop,
            "letterbox": bool(config.letterbox),
        }
    elif base is not None:
        geometry = {
            "input_size": base.input_size,
            "resize": base.resize,
            "crop": base.crop,
            "letterbox": base.letterbox,
        }
    else:  # timm's own transform for a timm model, else a stretch to the architecture's size
        channels = 1 if config.grayscale else 3
        preprocessing = default_preprocessing(config.arch, channels, default_input_size(config.arch))
        geometry = {
            key: preprocessing.get(key) for key in ("input_size", "resize", "crop", "letterbox", "interpolation")
        }
        geometry["letterbox"] = bool(geometry["letterbox"])  # only timm's transforms may name it
    interpolation = config.interpolation or (base.interpolation if base else geometry.pop("interpolation", None))
    return geometry | ({"interpolation": interpolation} if interpolation else {})


def _border_crop(config: TrainConfig, base: ModelCard | None) -> float:
    """The configured border crop, else what a crop-mode refined dataset asks for, else the init checkpoint's.

    The refined dataset comes before the init checkpoint: fine-tuning on a crop-mode set exists to
    add that crop to a model that had none.
    """
    from camviewer.core.trust.refine import manifest_border_crop

    if config.border_crop is not None:
        return config.border_crop
    folder = Path(config.data)
    requested = manifest_border_crop(folder if folder.is_dir() else folder.parent)
    if requested is not None:
        return requested
    return base.border_crop if base is not None else 0.0


def _final_card(
    config: TrainConfig, card: ModelCard, decoded: DecodedSet, run_dir: Path, origin: dict | None
) -> ModelCard:
    if config.init:
        mean, std = card.mean, card.std
    elif config.pretrained:  # the statistics the weights were trained with
        preprocessing = default_preprocessing(card.arch, card.channels)
        mean, std = preprocessing["mean"], preprocessing["std"]
    else:
        mean, std = decoded.channel_stats("train")
    notes = {
        "training": {
            "data": str(config.data),  # as given; the split file below locates the images
            "split_file": str((run_dir / "split.csv").resolve()),
            "seed": config.seed,
            "augment": config.augment,
            "init": config.init,
            "pretrained": config.pretrained,
            "command": config.command,
            "normalization": "init checkpoint"
            if config.init
            else "imagenet"
            if config.pretrained
            else "training split",
        }
    }
    if origin:
        notes["training"]["data_origin"] = origin
    return replace(card, mean=mean, std=std, notes=notes)


def _build_model(
    config: TrainConfig, card: ModelCard, init: LoadedModel | None, resuming: bool, device: str
) -> tuple[LoadedModel, list[str]]:
    notices = []
    if resuming:  # the weights come from last.pt: no ImageNet download, no init file needed
        model = new_model(card, device)
    elif init is not None:
        model = new_model(card, device)
        model.module.load_state_dict(init.module.state_dict())
    else:
        try:
            model = new_model(card, device, pretrained=config.pretrained)
        except PretrainedWeightsUnavailable as error:
            if not config.allow_random_init:
                raise
            notices.append(f"{error}; continuing from random initialisation, as allowed")
            card.notes["training"]["pretrained"] = "unavailable: random initialisation"
            model = new_model(card, device)
    if config.freeze:
        frozen = freeze_parameters(model.module, config.freeze)
        notices.append(
            f"froze {frozen:,} of {sum(p.numel() for p in model.module.parameters()):,} parameters ({config.freeze})"
        )
    return model, notices


def _new_session(config, run_dir, model: LoadedModel, decoded, summary, balance: dict | None, world: World) -> Session:
    card = model.card
    multi_label = card.head == "sigmoid"
    augment = build_augmentation(config.augment, card.channels, card.spatial_dims)
    workers = config.workers if config.workers is not None else default_workers(decoded.pixels is None)
    generator = torch.Generator().manual_seed(config.seed)
    pin = model.device.type == "cuda"
    train_set = torch_dataset(decoded, "train", card, multi_label, augment)
    val_set = torch_dataset(decoded, "val", card, multi_label)
    trainable = [p for p in model.module.parameters() if p.requires_grad]
    if config.optimizer == "adam":
        optimizer = torch.optim.Adam(trainable, lr=config.lr, weight_decay=config.weight_decay)
    else:
        optimizer = torch.optim.SGD(trainable, lr=config.lr, momentum=0.9, weight_decay=config.weight_decay)
    train_loader = parallel.train_loader(train_set, config, world, generator, workers, pin)
    weights = None if balance is None else torch.tensor(list(balance.values()), device=model.device)
    return Session(
        config=config,
        run_dir=run_dir,
        card=card,
        model=model,
        optimizer=optimizer,
        scheduler=_scheduler(config, optimizer, len(train_loader)),
        scaler=torch.amp.GradScaler("cuda", enabled=model.device.type == "cuda"),
        loss_fn=nn.BCEWithLogitsLoss(pos_weight=weights) if multi_label else nn.CrossEntropyLoss(weight=weights),
        train_loader=train_loader,
        val_loader=parallel.val_loader(val_set, config, world, workers, pin),
        loader_generator=generator,
        decoded=decoded,
        summary=summary,
        world=world,
    )


def _scheduler(config: TrainConfig, optimizer: torch.optim.Optimizer, steps_per_epoch: int):
    """``warmup-cosine``: stepped after every batch; ``plateau``: stepped with each epoch's validation loss."""
    if config.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=max(1, config.patience // 2))
    total = config.epochs * steps_per_epoch
    warmup = min(WARMUP_EPOCHS * steps_per_epoch, total // 4)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, partial(warmup_cosine, warmup=warmup, total=total))


def _write_run_files(session: Session, index: DatasetIndex) -> None:
    run = session.run_dir
    write_split_csv(index.samples, run / "split.csv")
    write_text_atomic(run / "config.json", json.dumps(session.config.to_dict(), indent=2) + "\n")
    if session.decoded.skipped:
        write_text_atomic(run / "skipped.csv", csv_text([("path", "reason"), *session.decoded.skipped]))


def _restore(session: Session, state: dict[str, Any]) -> None:
    session.model.module.load_state_dict(state["model"])
    session.optimizer.load_state_dict(state["optimizer"])
    session.scheduler.load_state_dict(state["scheduler"])
    session.scaler.load_state_dict(state["scaler"])
    session.history = [EpochRecord(**record) for record in state["history"]]
    session.best_val_loss, session.best_epoch = float(state["best_val_loss"]), state["best_epoch"]
    session.stale_epochs = int(state["stale_epochs"])
    session.saved_epochs = len(session.history)
    rng = state["rng"]
    torch.set_rng_state(rng["torch"])
    session.loader_generator.set_state(rng["loader"])
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
