"""Typed errors. Every message is meant for the user: it names the file and the reason.

Errors state facts and carry them as fields; they never say which flag or button would help. Each front
end words its own remedy from the fields (``camviewer.commands._common.remedy`` for the command line,
``camviewer.gui.common.remedies`` for the window), so no decision is ever taken on message text.

Modules: ``base`` (the root, cancellation, writing, shared), ``images`` (images and volumes), ``models``
(checkpoints, model cards, architectures), ``data`` (datasets, label mappings, metrics), ``training``,
``export`` (export folders), ``distributed``. Import from here.
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
    WriteFailed,
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
    OutsidePartitionFolder,
    OverlappingGroups,
    PositiveClassRequired,
    UnknownClasses,
    UnmatchedLabels,
)
from camviewer.core.errors.distributed import ProcessFailed, TooFewDevices  # noqa: F401
from camviewer.core.errors.export import (  # noqa: F401
    ExportError,
    ExportExists,
    ExportInterrupted,
    ExportMismatch,
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
    SpecialFileError,
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
    InvalidModelCard,
    NonFiniteOutput,
    NonFiniteWeights,
    PretrainedWeightsUnavailable,
    RecipeError,
    SpatialDimsMismatch,
    StateDictMismatchError,
    UnknownArchitecture,
    UnsafeCheckpointError,
)
from camviewer.core.errors.training import (  # noqa: F401
    AlreadyTrained,
    ClassMismatch,
    RunFolderInUse,
    RunInterrupted,
    StoppedEarly,
    TrainingError,
    TrainingOptionError,
)
