"""Typed errors. Every message is meant for the user: it names the file and the reason.

Errors state facts and carry them as fields; they never say which flag or button would help. Each front
end words its own remedy from the fields (``camviewer.commands._common.remedy`` for the command line,
``camviewer.gui.common.remedies`` for the window), so no decision is ever taken on message text.

Modules: ``base`` (the root, cancellation, shared), ``images`` (images and volumes), ``models``
(checkpoints, architectures), ``data`` (datasets, label mappings, metrics), ``training``. Import from here.
"""

from camviewer.core.errors.base import (  # noqa: F401
    CamError,
    CamviewerError,
    Cancelled,
    DeviceUnavailable,
    MethodNotApplicable,
    MissingInput,
    NoApplicableMethod,
    OutputExists,
)
from camviewer.core.errors.data import (  # noqa: F401
    AmbiguousGroundTruth,
    AnnotationError,
    DatasetError,
    EmptySplit,
    LabelMappingError,
    LabelMapSyntaxError,
    MetricsError,
    NotOneToOne,
    OverlappingGroups,
    PositiveClassRequired,
    UnknownClasses,
    UnmatchedLabels,
)
from camviewer.core.errors.images import (  # noqa: F401
    CorruptImageError,
    CorruptVolumeError,
    ImageError,
    ImageTooLargeError,
    InconsistentSlicesError,
    MissingSlicesError,
    MixedSeriesError,
    MultipleVolumesError,
    TruncatedImageError,
    UnevenSpacingError,
    UnsupportedImageError,
    UnsupportedVolumeError,
    VolumeError,
    VolumeTooLargeError,
)
from camviewer.core.errors.models import (  # noqa: F401
    ArchitectureConflict,
    ArchitectureInferenceError,
    CheckpointError,
    PretrainedWeightsUnavailable,
    RecipeError,
    StateDictMismatchError,
    UnknownArchitecture,
    UnsafeCheckpointError,
)
from camviewer.core.errors.training import (  # noqa: F401
    AlreadyTrained,
    ClassMismatch,
    RunFolderInUse,
    StoppedEarly,
    TrainingError,
    TrainingOptionError,
)
