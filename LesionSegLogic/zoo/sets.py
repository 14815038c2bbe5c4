"""The four sets of the zoo v2 (issue 12): what each set's models segment, in which anatomy, from which images.

One table (:data:`ZOO_SETS`) says, for every set, its task (:data:`LesionSegLogic.zoo.card.TASKS`), anatomy
(:data:`LesionSegLogic.anatomy.ANATOMIES`), the images its models read, the lesion-matching rule its held-out
lesion-wise numbers use and the prefix of its model names. Everything else derives from it: which set a card
belongs to (:func:`set_of`, from the card's own task, anatomy and images), the names of the models
(:meth:`ZooSet.model_name`), the grouping of ``lesionseg models`` and of ``docs/zoo.md``, and the rule
``scripts/finalise_zoo.py`` measures with.

* ``brain`` — brain, FLAIR + T2, all lesions; anima rule (MSSEG 2016, Commowick et al. 2018). Names: the loss
  (``weighted_gradient``), as in the v1 zoo.
* ``brain_flair`` — brain, FLAIR only (many clinical protocols); anima rule. Names ``flair_<loss>``.
* ``cord`` — spinal cord, T2-w only (Hussein et al. 2023's setting); Hussein rule. Names ``cord_<loss>``.
* ``longitudinal`` — brain, baseline FLAIR + follow-up FLAIR (+ their difference), new lesions against
  ``new_lesions.nii.gz``; anima rule (MSSEG-2). Names ``new_<loss>``.

Torch-free (the model list and the faces import it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from LesionSegLogic.errors import ConfigError
from LesionSegLogic.metrics.rules import ANIMA, HUSSEIN
from LesionSegLogic.zoo.card import TASK_REFERENCES


@dataclass(frozen=True)
class ZooSet:
    """One set of comparable models (same task, anatomy, images and held-out data)."""

    name: str
    title: str
    task: str
    anatomy: str
    #: the image roles (``flair``/``t2``/``baseline``) its models read (:meth:`ModelCard.images_needed`)
    images: frozenset[str]
    #: the matching rule of its held-out lesion-wise metrics (:data:`LesionSegLogic.metrics.rules.PRESETS`)
    rule: str
    #: prepended to a training run's name (the loss) to make the zoo name, unique across sets
    prefix: str
    #: the data folder its models are trained and measured on (``brain_flair`` shares ``brain``'s phantoms)
    data: str = ""

    def __post_init__(self) -> None:
        if not self.data:
            object.__setattr__(self, "data", self.name)

    @property
    def reference(self) -> str:
        """The stem of the reference mask in a case folder (``lesions`` / ``new_lesions``)."""
        return TASK_REFERENCES[self.task]

    def model_name(self, run: str) -> str:
        """The zoo name of the run ``run`` (a loss name) of this set, e.g. ``cord_dice``."""
        return run if run.startswith(self.prefix) else f"{self.prefix}{run}"

    def holds(self, card: Any) -> bool:
        """True when ``card`` (a :class:`ModelCard` or anything with ``task``/``anatomy``/``images_needed``)
        belongs here."""
        return (getattr(card, "task", "lesions") == self.task and getattr(card, "anatomy", "brain") == self.anatomy
                and frozenset(card.images_needed()) == self.images)


ZOO_SETS: tuple[ZooSet, ...] = (
    ZooSet("brain", "brain, FLAIR + T2", "lesions", "brain", frozenset({"flair", "t2"}), ANIMA.name, ""),
    ZooSet("brain_flair", "brain, FLAIR only", "lesions", "brain", frozenset({"flair"}), ANIMA.name, "flair_",
           data="brain"),
    ZooSet("cord", "spinal cord, T2-w", "lesions", "cord", frozenset({"t2"}), HUSSEIN.name, "cord_"),
    ZooSet("longitudinal", "new lesions, baseline + follow-up FLAIR", "new_lesions", "brain",
           frozenset({"flair", "baseline"}), ANIMA.name, "new_"),
)
SET_NAMES: tuple[str, ...] = tuple(s.name for s in ZOO_SETS)


class UnknownZooSetError(ConfigError, KeyError):
    """A zoo set name that is not one of :data:`SET_NAMES` (a ``KeyError`` too, for callers that catch one)."""

    def __str__(self) -> str:  # the message, not KeyError's quoted repr of it
        return str(self.args[0]) if self.args else ""


def get_set(name: str) -> ZooSet:
    """The set called ``name``; :class:`UnknownZooSetError` naming the known sets otherwise."""
    for zoo_set in ZOO_SETS:
        if zoo_set.name == name:
            return zoo_set
    raise UnknownZooSetError(f"unknown zoo set {name!r}; known: {', '.join(SET_NAMES)}")


def set_of(card: Any) -> ZooSet | None:
    """The set ``card`` belongs to, or ``None`` (a model of another kind, e.g. a user's own)."""
    return next((s for s in ZOO_SETS if s.holds(card)), None)


__all__ = ["SET_NAMES", "ZOO_SETS", "ZooSet", "get_set", "set_of"]
