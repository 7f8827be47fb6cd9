"""What to do about an engine error, in the window's words.

The engine's errors state what is wrong and carry the facts as fields (camviewer.core.errors); each
front end says what to do. The command line names its flags (camviewer.commands._common.remedy),
the window names its fields and buttons, here.
"""

from __future__ import annotations

from camviewer.core import errors

# Training options (TrainConfig fields) as the training form labels them.
OPTION_LABELS = {
    "arch": "Architecture",
    "epochs": "Epochs",
    "batch_size": "Batch size",
    "lr": "Learning rate",
    "optimizer": "Optimizer",
    "patience": "Patience",
    "augment": "Augment",
    "freeze": "Freeze",
    "positive_class": "Positive class",
}


def remedy(error: BaseException) -> str | None:
    """One sentence that tells the user what to do in the window, or None when there is nothing to add."""
    match error:
        case errors.UnsafeCheckpointError():
            return "Load it only if you trust its source (open it again and answer Yes); better, re-save it as a state_dict."
        case errors.StateDictMismatchError(looks_like=(arch, _outputs)):
            return f"Open it again and choose {arch} as its architecture."
        case errors.ArchitectureInferenceError():
            return "Open it again and choose its architecture in the dialog."
        case errors.ArchitectureConflict(found=found):
            return f"Choose {found} as the architecture."
        case errors.UnknownArchitecture():
            return "Pick an architecture from the list, or type a torchvision classification model or timm:NAME."
        case errors.RecipeError():
            return "Check the preprocessing: a shorter-side resize needs a centre crop."
        case errors.DeviceUnavailable():
            return "Choose the cpu or auto device."
        case errors.PretrainedWeightsUnavailable(cached_path=None):
            return "Untick ImageNet weights."
        case errors.PretrainedWeightsUnavailable(cached_path=cached):
            return f"Copy {cached.name} into {cached.parent}, or untick ImageNet weights."
        case errors.RunFolderInUse():
            return "Choose a new run folder, or continue that run with Resume…"
        case errors.StoppedEarly(stale_epochs=stale):
            return f"Resume it with a patience above {stale} epochs."
        case errors.AlreadyTrained(epochs_done=done):
            return f"Resume it up to more than {done} epochs."
        case errors.TrainingOptionError(option="arch"):
            return "Choose an architecture."
        case errors.TrainingOptionError(option=option) if option in OPTION_LABELS:
            return f"Check {OPTION_LABELS[option]}."
        case errors.UnmatchedLabels() | errors.UnknownClasses() | errors.OverlappingGroups():
            return "Set each label's model class in the Labels table (several joined by | make a group)."
        case errors.NotOneToOne():
            return "Name the data's class folders after the checkpoint's classes, one folder per class."
        case errors.ClassMismatch():
            return "Rename the data's class folders to the checkpoint's classes, or train a new model instead."
        case errors.EmptySplit(split="val"):
            return "Set Validation above 0, or add a val folder to the data."
        case errors.AmbiguousGroundTruth():
            return "Choose one ground-truth source: a mask folder, a boxes CSV, a COCO file or a Pascal VOC folder."
        case errors.AnnotationError(missing=missing) if missing:
            return "Name the columns in Trust > Load ground truth… (Columns), then score the loaded ground truth."
        case errors.NoApplicableMethod():
            return "Tick other CAM methods (gradcam applies to every CNN)."
        case errors.PositiveClassRequired():
            return "Choose the positive class."
        case errors.MissingInput(needed="model"):
            return "Open or train a model first."
        case errors.MissingInput(needed="roi_masks"):
            return "Choose the folder of ROI masks."
        case errors.RunInterrupted(epochs_done=done, cause=cause):
            first = _first_step(cause)
            if done:
                return f"{first}, then continue the run with Resume… (its {done} finished epoch(s) are kept)."
            return f"{first}, then start it again into the same folder (no epoch had finished)."
        case errors.OutsidePartitionFolder():
            return "Such files are read only if you trust the partition file and say so when asked."
        case errors.ExportExists() | errors.ExportMismatch():
            return "Choose another folder, or export again and replace it."
        case errors.ExportInterrupted(cause=cause):
            first = _first_step(cause)
            return f"{first}, then export to the same folder again and choose Continue: the images done are kept."
        case errors.WriteFailed(no_space=True):
            return "Free some space on that disk, or choose another folder."
        case errors.WriteFailed(not_allowed=True):
            return "Choose a folder you can write to."
        case errors.NonFiniteWeights():
            return "The file is damaged or its training diverged: open another checkpoint (an earlier epoch)."
        case errors.NonFiniteOutput():
            return "Check the model's normalisation (mean and std) and its weights."
        case errors.MethodNotApplicable(alternative=None):
            return "Choose another CAM method."
        case errors.MethodNotApplicable(alternative=alternative):
            return f"Choose {alternative} as the CAM method."
    return None


def _first_step(cause: errors.WriteFailed) -> str:
    if cause.no_space:
        return "Free some space"
    return "Make the folder writable" if cause.not_allowed else "Once the folder can be written"


def with_remedy(message: str, error: BaseException) -> str:
    """``message`` (the error as reported) followed by what to do, when there is something to say."""
    hint = remedy(error)
    if not hint:
        return message
    return f"{message}\n{hint}" if "\n" in message else f"{message.rstrip('.')}. {hint}"
