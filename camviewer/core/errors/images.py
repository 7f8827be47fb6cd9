"""Images and volumes that cannot be read: ``path`` and ``reason`` say which and why."""

from __future__ import annotations

from pathlib import Path

from camviewer.core.errors.base import CamviewerError


class ImageError(CamviewerError):
    """An image could not be read. ``path`` and ``reason`` say which and why."""

    kind = "unreadable"
    noun = "image"

    def __init__(self, path: str | Path | None, reason: str):
        self.path = None if path is None else str(path)
        self.reason = reason
        where = self.path if self.path is not None else "<array>"
        super().__init__(f"{where}: {self.kind} {self.noun}: {reason}")


class UnsupportedImageError(ImageError):
    kind = "unsupported"


class CorruptImageError(ImageError):
    kind = "corrupt"


class TruncatedImageError(CorruptImageError):
    kind = "truncated"


class ImageTooLargeError(ImageError):
    kind = "too large"


class VolumeError(ImageError):
    """A volume (NIfTI file, DICOM series or multi-frame DICOM) could not be read. ``path`` and ``reason``.

    A subclass of ImageError, so that code which skips unreadable inputs skips unreadable volumes too.
    """

    noun = "volume"


class UnsupportedVolumeError(VolumeError):
    kind = "unsupported"


class CorruptVolumeError(VolumeError):
    kind = "corrupt"


class VolumeTooLargeError(VolumeError):
    kind = "too large"


class MultipleVolumesError(VolumeError):
    """A 4-D file holds ``count`` volumes (time points, gradient directions); the caller picks one by index."""

    kind = "ambiguous"

    def __init__(self, path: str | Path, count: int):
        self.count = count
        super().__init__(path, f"holds {count} volumes (a 4-D series); choose one by its index, 0 to {count - 1}")


class MixedSeriesError(VolumeError):
    """A folder holds several DICOM series; ``series`` lists them (SeriesSummary), the caller picks one by UID."""

    kind = "ambiguous"

    def __init__(self, path: str | Path, series: list):
        self.series = list(series)
        listed = "; ".join(str(entry) for entry in self.series)
        super().__init__(path, f"holds {len(self.series)} DICOM series, choose one by its series UID: {listed}")


class MissingSlicesError(VolumeError):
    """Gaps in the slice positions. ``gaps``: (index of the slice before the gap, gap in mm) pairs; ``step``: median mm."""

    kind = "incomplete"

    def __init__(self, path: str | Path, gaps: list[tuple[int, float]], step: float, slices: int):
        self.gaps, self.step, self.slices = list(gaps), step, slices
        missing = sum(max(1, round(gap / step) - 1) for _, gap in self.gaps)
        shown = ", ".join(f"{gap:.2f} mm after slice {index + 1}" for index, gap in self.gaps[:5])
        more = f" and {len(self.gaps) - 5} more" if len(self.gaps) > 5 else ""
        super().__init__(
            path,
            f"about {missing} slice(s) missing from {slices}: the usual step is {step:.2f} mm but there is a gap "
            f"of {shown}{more}",
        )


class UnevenSpacingError(VolumeError):
    """The slices are not evenly spaced (beyond a tolerance). ``steps``: the distinct steps in mm, sorted."""

    kind = "unevenly spaced"

    def __init__(self, path: str | Path, steps: list[float]):
        self.steps = list(steps)
        super().__init__(
            path,
            f"slice steps vary from {min(self.steps):.3f} to {max(self.steps):.3f} mm; a volume needs one spacing",
        )


class InconsistentSlicesError(VolumeError):
    """Slices of one series disagree on ``attribute`` (orientation, size, pixel spacing, position);
    ``values`` maps each value seen (as text) to the number of slices that have it."""

    kind = "inconsistent"

    def __init__(self, path: str | Path, attribute: str, values: dict[str, int], detail: str = ""):
        self.attribute, self.values = attribute, dict(values)
        seen = "; ".join(f"{value} ({count} slice{'s' if count != 1 else ''})" for value, count in self.values.items())
        super().__init__(path, f"slices differ in {attribute}: {seen}" + (f" ({detail})" if detail else ""))


class SpecialFileError(UnsupportedImageError):
    """Not a regular file (``file_type``: "a FIFO (named pipe)", "a socket", "a character device", "a folder"...).

    Only regular files are read: reading a FIFO or a device could block forever or never end.
    """

    def __init__(self, path: str | Path, file_type: str):
        self.file_type = file_type
        super().__init__(path, f"{file_type}, not a regular file")
