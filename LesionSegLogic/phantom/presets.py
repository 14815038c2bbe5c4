"""The three named generator settings of the model zoo: ``train`` (what training draws from), ``tune`` (the
threshold-optimisation set) and ``shifted`` (held-out acquisition settings never used in training or tuning).

Held-out evaluation on new seeds alone measures little: a model meets the same contrasts, noise and resolution it
was trained on. The ``shifted`` setting changes the acquisition instead — the other field strength (1.5 T relaxation
times and 1.5 T TR/TE/TI), thick slices (brain 1×1×3 and 0.9×0.9×5 mm; cord 0.7×0.7×3.5 mm), lower SNR, a stronger
bias field and confluent periventricular lesions — so its numbers say how a model copes with a protocol it never
saw.

The ``tune`` setting is the threshold-optimisation set of Hussein et al. 2023: the recommended threshold of a card is
chosen on it, never on the training setting, so that it transfers beyond the training acquisition. It spans
acquisitions between ``train`` and ``shifted`` yet shares no acquisition value with ``shifted`` (the test stays held
out): 3 T (the test's 1.5 T stays unseen), brain 2×1×1 and 4×1.2×1.2 mm slices, cord 0.6×0.6×3.2 mm, SNR 15–22
(the test's 10–15 below it), bias amplitude 0.15–0.24 (the test's 0.25–0.35 above it), 15 % of brain lesions
confluent, no lesion-free cases.

Every value lives here and nowhere else; ``scripts/zoo_data.py`` and ``lesionseg phantom --preset`` read it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from LesionSegLogic.phantom.options import CORD_SPACING, PhantomOptions

Spacing = tuple[float, float, float]


@dataclass(frozen=True)
class GeneratorSetting:
    """Ranges the phantoms of one setting draw from; case ``index`` cycles through ``spacings``."""

    name: str
    role: str  #: what the zoo uses it for, in a few words (``lesionseg phantom --help``)
    description: str
    field_strength: float
    draw_protocol: bool
    spacings: dict[str, tuple[Spacing, ...]]  #: anatomy → output spacings (z, y, x) mm, cycled by case index
    snr_range: tuple[float, float]
    bias_range: tuple[float, float]
    confluent: float  #: brain only
    lesion_free_every: int  #: every n-th case (index % n == n − 1) has no lesions; 0: none

    def options(self, anatomy: str, index: int, **overrides: Any) -> PhantomOptions:
        """The :class:`PhantomOptions` of case ``index`` of this setting (``overrides``: e.g. ``fov_mm``)."""
        spacings = self.spacings[anatomy]
        lesion_free = self.lesion_free_every > 0 and index % self.lesion_free_every == self.lesion_free_every - 1
        fields: dict[str, Any] = {
            "spacing": spacings[index % len(spacings)],
            "field_strength": self.field_strength,
            "draw_protocol": self.draw_protocol,
            "snr_range": self.snr_range,
            "bias_range": self.bias_range,
            "confluent": self.confluent if anatomy == "brain" else 0.0,
        }
        if lesion_free:
            fields["n_lesions"] = 0
        return PhantomOptions(**{**fields, **overrides})

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["spacings"] = {k: [list(s) for s in v] for k, v in self.spacings.items()}
        return d


#: The zoo's training grid for the brain (1.5 mm isotropic, as ``scripts/train_zoo.py``).
BRAIN_TRAIN_SPACING: Spacing = (1.5, 1.5, 1.5)

TRAIN = GeneratorSetting(
    name="train",
    role="what the zoo's models train on",
    description="3 T, TR/TE/TI drawn per case from 3 T clinical ranges; brain 1.5 mm isotropic, cord 0.6×0.6×2.8 mm "
    "sagittal; SNR 16–40; bias amplitude 0–0.2; no confluent lesions; every 10th case lesion-free",
    field_strength=3.0,
    draw_protocol=True,
    spacings={"brain": (BRAIN_TRAIN_SPACING,), "cord": (CORD_SPACING,)},
    snr_range=(16.0, 40.0),
    bias_range=(0.0, 0.2),
    confluent=0.0,
    lesion_free_every=10,
)

SHIFTED = GeneratorSetting(
    name="shifted",
    role="the held-out test acquisition, never used in training or for a threshold",
    description="1.5 T (1.5 T relaxation times, TR/TE/TI drawn from 1.5 T ranges); brain 1×1×3 mm and 0.9×0.9×5 mm "
    "axial slices (alternating), cord 0.7×0.7×3.5 mm sagittal; SNR 10–15; bias amplitude 0.25–0.35; brain: 30 % "
    "of lesions confluent periventricular; no lesion-free cases",
    field_strength=1.5,
    draw_protocol=True,
    spacings={"brain": ((3.0, 1.0, 1.0), (5.0, 0.9, 0.9)), "cord": ((0.7, 0.7, 3.5),)},
    snr_range=(10.0, 15.0),
    bias_range=(0.25, 0.35),
    confluent=0.3,
    lesion_free_every=0,
)

TUNE = GeneratorSetting(
    name="tune",
    role="the threshold-optimisation set",
    description="threshold-optimisation set (Hussein et al. 2023), between train and shifted but sharing no value "
    "with shifted: 3 T, TR/TE/TI drawn per case from 3 T clinical ranges; brain 2×1×1 mm and 4×1.2×1.2 mm axial "
    "slices (alternating), cord 0.6×0.6×3.2 mm sagittal; SNR 15–22; bias amplitude 0.15–0.24; brain: 15 % of "
    "lesions confluent periventricular; no lesion-free cases",
    field_strength=3.0,
    draw_protocol=True,
    spacings={"brain": ((2.0, 1.0, 1.0), (4.0, 1.2, 1.2)), "cord": ((CORD_SPACING[0], CORD_SPACING[1], 3.2),)},
    snr_range=(15.0, 22.0),
    bias_range=(0.15, 0.24),
    confluent=0.15,
    lesion_free_every=0,
)

#: Every named setting, by name (the one vocabulary of ``--preset``).
PRESETS: dict[str, GeneratorSetting] = {s.name: s for s in (TRAIN, TUNE, SHIFTED)}
