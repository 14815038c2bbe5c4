"""Time and peak memory per kind of phantom case; ratios against the 2 mm brain case measured in the same run.

Each kind runs in a fresh subprocess (peak RSS = ru_maxrss of that process); the MNI maps load is timed apart.
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


if __name__ == "__main__":
    main()
