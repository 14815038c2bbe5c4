"""Time and peak memory per kind of phantom case; ratios against the 2 mm brain case measured in the same run.

Each kind runs in a fresh subprocess (peak RSS = ru_maxrss of that process); the MNI maps load is timed apart.

A second table compares, in the same run and each in a fresh subprocess, the two speed-ups of issue 17 with the
paths they replaced: the lesion inside-test (``LesionShape.inside``, sines only in the perturbation band) against
``level(points) ≤ 1`` on the same brain case (the phantoms must be equal, bit for bit), and the MNI templates read
by :func:`LesionSegLogic.phantom.anatomy.mni152_1mm` against ``nilearn.datasets``' loaders (import included).
"""

from __future__ import annotations

import json
import subprocess
import sys

KINDS = {
    "brain 2 mm (baseline)": "dict(spacing=(2.0, 2.0, 2.0))",
    "brain 1 mm (MNI grid)": "dict()",
    "brain 1 mm, 40 lesions": "dict(n_lesions=40)",
    "brain 0.5x0.5x3 mm aniso": "dict(anisotropic=True)",
    "brain 1 mm longitudinal": "dict(longitudinal=True)",
    "cord 0.6x0.6x2.8 mm": "dict(anatomy='cord')",
}

CHILD = """
import json, resource, time
from LesionSegLogic.phantom import generate_case, load_brain_maps
kwargs = {kwargs}
t0 = time.perf_counter()
maps = load_brain_maps() if kwargs.get('anatomy', 'brain') == 'brain' else None
t1 = time.perf_counter()
case = generate_case(0, maps=maps, **kwargs)
t2 = time.perf_counter()
print(json.dumps(dict(load=t1 - t0, generate=t2 - t1, shape=list(case.flair.shape), lesions=len(case.records),
                      peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)))
"""


PATHS = {
    "inside: level(points) <= 1 (baseline)": "level",
    "inside: sines only in the band": "band",
}

PATH_CHILD = """
import hashlib, json, time
import numpy as np
from LesionSegLogic.phantom import generate_case, load_brain_maps
from LesionSegLogic.phantom.lesions import LesionShape
maps = load_brain_maps()
if {path!r} == "level":
    LesionShape.inside = lambda self, points: self.level(points) <= 1.0
    LesionShape.unit_inside = lambda self, q: self.unit_level(q) <= 1.0
t0 = time.perf_counter()
cases = [generate_case(seed, maps=maps, spacing=(1.5, 1.5, 1.5)) for seed in (1, 2)]
t1 = time.perf_counter()
digest = hashlib.sha256(b"".join(np.ascontiguousarray(c.flair.array).tobytes() + c.lesions.array.tobytes()
                                 for c in cases)).hexdigest()[:16]
print(json.dumps(dict(seconds=t1 - t0, lesions=sum(len(c.records) for c in cases), digest=digest)))
"""

MAPS_CHILD = """
import json, time
t0 = time.perf_counter()
if {path!r} == "nilearn":
    from nilearn import datasets
    for load in (datasets.load_mni152_gm_template, datasets.load_mni152_wm_template, datasets.load_mni152_template):
        load(resolution=1)
else:
    from LesionSegLogic.phantom.anatomy import mni152_1mm
    for kind in ("gm", "wm", "t1"):
        mni152_1mm(kind)
print(json.dumps(dict(seconds=time.perf_counter() - t0)))
"""


def _child(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def compare_paths() -> None:
    """The second table (module docstring)."""
    rows = [(name, _child(PATH_CHILD.format(path=path))) for name, path in PATHS.items()]
    base = rows[0][1]["seconds"]
    print(f"\n{'two brain cases, 1.5 mm':40s} {'lesions':>7s} {'seconds':>8s} {'× baseline':>10s} {'sha256':>16s}")
    for name, r in rows:
        print(f"{name:40s} {r['lesions']:7d} {r['seconds']:8.2f} {r['seconds'] / base:10.2f} {r['digest']:>16s}")
    maps = [(name, _child(MAPS_CHILD.format(path=path))) for name, path in
            (("templates: nilearn.datasets (baseline)", "nilearn"), ("templates: mni152_1mm", "nibabel"))]
    base = maps[0][1]["seconds"]
    for name, r in maps:
        print(f"{name:40s} {'':7s} {r['seconds']:8.2f} {r['seconds'] / base:10.2f}")


def main() -> None:
    rows = []
    for name, kwargs in KINDS.items():
        out = subprocess.run([sys.executable, "-c", CHILD.format(kwargs=kwargs)], capture_output=True, text=True,
                             check=True)
        rows.append((name, json.loads(out.stdout.strip().splitlines()[-1])))
    base = rows[0][1]["generate"]
    print(f"{'case':28s} {'grid (z,y,x)':>16s} {'lesions':>7s} {'maps s':>7s} {'generate s':>10s} "
          f"{'ratio':>6s} {'peak MB':>8s}")
    for name, r in rows:
        print(f"{name:28s} {'x'.join(map(str, r['shape'])):>16s} {r['lesions']:7d} {r['load']:7.2f} "
              f"{r['generate']:10.2f} {r['generate'] / base:6.2f} {r['peak_mb']:8.0f}")
    compare_paths()


if __name__ == "__main__":
    main()
