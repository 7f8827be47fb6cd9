"""Has a run learned anything? Chance level on the validation split, the warning when the kept epoch is
no better, and what early stopping waits for."""

from __future__ import annotations

import math
from collections.abc import Mapping

from camviewer.core.training.records import AtChance
from camviewer.core.training.session import Session


def chance_accuracy(class_counts: Mapping[str, int], images: int, multi_label: bool = False) -> float:
    """What always predicting the most frequent class scores on ``images`` images with these label counts.

    Multi-label accuracy is the share of labels right per image: always answering each label's majority
    scores the mean over labels of max(p, 1 - p).
    """
    if not images:
        return math.nan
    if multi_label:
        return sum(max(count, images - count) / images for count in class_counts.values()) / len(class_counts)
    return max(class_counts.values()) / images


def at_chance(accuracy: float, chance: float, images: int) -> bool:
    """Not better than ``chance`` by two binomial standard errors on ``images`` images."""
    margin = 2 * math.sqrt(max(chance * (1 - chance), 1e-12) / max(images, 1))
    return accuracy <= chance + margin


def chance_level(session: Session) -> float:
    """What always answering the commonest class scores on this run's validation split."""
    return chance_accuracy(session.summary.counts["val"], session.val_images, session.card.head == "sigmoid")


def at_chance_notice(session: Session) -> AtChance | None:
    """An AtChance notice when the kept (best) epoch does not beat always predicting the most frequent class."""
    if session.best_epoch is None:
        return None
    accuracy = session.history[session.best_epoch - 1].val_acc
    chance, images = chance_level(session), session.val_images
    if not at_chance(accuracy, chance, images):
        return None
    text = (
        f"the validation accuracy stayed at chance level: {accuracy:.3f} for the kept epoch {session.best_epoch}, "
        f"while always answering the most frequent class scores {chance:.3f} on these {images} images; "
        "the model has not learned to tell the classes apart"
    )
    return AtChance(text, accuracy, chance, images, len(session.history))


def has_beaten_chance(session: Session) -> bool:
    """Early stopping waits for this: a fresh net can sit at chance for several epochs before it learns.

    (The validation loss creeps down by thousandths on that plateau, or not at all, and a patience
    counted there stopped runs that were about to learn.)
    """
    chance, images = chance_level(session), session.val_images
    return any(not at_chance(record.val_acc, chance, images) for record in session.history)
