"""One exception hierarchy for everything a user can get wrong.

Every error a user can provoke (a bad file, a bad argument, a wrong model file) is a subclass of
:class:`LesionSegError`. The CLI prints ``str(error)`` as a one-line reason and exits with status 2; the GUIs show
it in the panel. Errors about a file name the file first: ``"<path>: <problem>"``.
"""

from __future__ import annotations

from os import PathLike


class LesionSegError(Exception):
    """Base class of every error LesionSeg raises on purpose."""


class InputError(LesionSegError):
    """Bad input data; ``path`` names the file (or array) at fault when there is one."""

    def __init__(self, problem: str, path: str | PathLike[str] | None = None) -> None:
        self.path = None if path is None else str(path)
        self.problem = problem
        super().__init__(problem if self.path is None else f"{self.path}: {problem}")


class FileMissingError(InputError):
    """The file does not exist or cannot be opened."""


class CorruptFileError(InputError):
    """The file exists but cannot be parsed (truncated, wrong header, unknown format)."""


class DimensionError(InputError):
    """The image is not a 3-D scalar volume (2-D, 4-D, vector pixels, absurd size)."""


class NonFiniteError(InputError):
    """The image contains NaN or infinite values."""


class ProbabilityRangeError(InputError):
    """A probability map with finite values outside [0, 1] (NaN and infinities are :class:`NonFiniteError`)."""


class ConstantImageError(InputError):
    """The image has a single intensity everywhere (nothing to normalise or segment)."""


class GeometryError(InputError):
    """Bad or incompatible geometry: singular direction, bad spacing, grids that do not overlap."""


class MaskError(InputError):
    """A mask that is not binary, or empty where a non-empty one is required."""


class ModelFileError(InputError):
    """A model file (weights or card) that is missing, corrupt, mismatched or fails its sha256 check."""


class OutputError(LesionSegError):
    """An output that cannot be written, or would overwrite an input."""


class Cancelled(LesionSegError):
    """Long work (inference, training) stopped by a cancellation token; no partial output is left."""


class ConfigError(LesionSegError):
    """A bad option or parameter (unknown loss name, out-of-range weight); the message lists what is accepted."""
