"""Memory estimates checked before allocating: a one-line error that states the size and the memory needed,
instead of a ``MemoryError`` traceback (or the kernel's OOM killer) half-way through the work (issue 18).

:func:`available_bytes` is what the operating system says a new allocation can get now: ``MemAvailable`` of
``/proc/meminfo``, lowered to the cgroup (container) limit minus its usage when there is one; ``None`` where
neither is known (then nothing is refused). :func:`check_memory` compares an estimate with it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from os import PathLike
from pathlib import Path

from LesionSegLogic.errors import InputError

_MEMINFO = Path("/proc/meminfo")
_CGROUP_LIMITS = (  # (limit, usage): cgroup v2, then v1
    (Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory.current")),
    (Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"), Path("/sys/fs/cgroup/memory/memory.usage_in_bytes")),
)


class InsufficientMemoryError(InputError):
    """The work would need more memory than the machine has available."""


def available_bytes() -> int | None:
    """Bytes a new allocation can get now (see the module doc), or ``None`` when unknown."""
    found: list[int] = []
    try:
        for line in _MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
                break
    except (OSError, ValueError, IndexError):
        pass
    for limit_file, usage_file in _CGROUP_LIMITS:
        try:
            limit, usage = limit_file.read_text().strip(), int(usage_file.read_text().strip())
        except (OSError, ValueError):
            continue
        if limit.isdigit() and int(limit) < 1 << 60:
            found.append(max(0, int(limit) - usage))
        break
    return min(found) if found else None


def gib(n_bytes: float) -> str:
    """``"3.9 GiB"``, ``"512 MiB"``: a size for a message."""
    if n_bytes >= 1 << 30:
        return f"{n_bytes / (1 << 30):,.1f} GiB"
    return f"{n_bytes / (1 << 20):,.0f} MiB"


def check_memory(needed: int, what: str, path: str | PathLike[str] | None = None,
                 available: int | None = None) -> None:
    """Raise :class:`InsufficientMemoryError` (``"<path>: <what> needs about X GiB of memory, Y GiB available"``)
    when ``needed`` bytes exceed ``available`` (default: :func:`available_bytes`)."""
    free = available_bytes() if available is None else available
    if free is not None and needed > free:
        raise InsufficientMemoryError(f"{what} needs about {gib(needed)} of memory; {gib(free)} available", path)


def check_images_fit(paths: Iterable[str | PathLike[str] | None], bytes_per_voxel: float, what: str, *,
                     allow_external_data: bool = False, probabilities: Iterable[str | PathLike[str]] = (),
                     channel: int | None = None) -> None:
    """Before reading: refuse when ``what`` over the largest of the image files ``paths`` (their headers are read,
    not their voxels) would need more than the available memory at ``bytes_per_voxel``. Files also listed in
    ``probabilities`` are probability maps (a softmax's ``channel`` is what will be read). DICOM folders are
    skipped (their size is known only once the series is read)."""
    from LesionSegLogic.io.read import read_header

    maps = {str(p) for p in probabilities}
    for path in paths:
        try:
            if path is None or Path(path).is_dir():
                continue
        except OSError:  # a name too long: read_header says so, naming the file
            pass
        role = "probability" if str(path) in maps else "image"
        size = read_header(path, allow_external_data=allow_external_data, role=role,  # type: ignore[arg-type]
                           channel=channel).size  # (path is not None here; role is one of ROLES)
        voxels = math.prod(size)
        check_memory(int(voxels * bytes_per_voxel), f"{what} over {'×'.join(map(str, size))} voxels", path)
