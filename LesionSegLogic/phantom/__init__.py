"""Synthetic MS phantoms with exact ground truth: brain (MNI152 anatomy) and spinal cord, single or longitudinal.

See ``docs/phantom.md``. Entry points: :func:`generate_case`, :func:`write_case`, :class:`PhantomCase`,
:class:`PhantomOptions`, :func:`load_brain_maps` (to reuse the anatomy across cases) and :func:`case_seed`.
"""

from LesionSegLogic.anatomy import ANATOMIES
from LesionSegLogic.phantom.anatomy import BrainMaps, load_brain_maps
from LesionSegLogic.phantom.case import LesionRecord, PhantomCase, write_case
from LesionSegLogic.phantom.generate import case_seed, generate_case
from LesionSegLogic.phantom.options import PhantomOptions

__all__ = [
    "ANATOMIES",
    "BrainMaps",
    "LesionRecord",
    "PhantomCase",
    "PhantomOptions",
    "case_seed",
    "generate_case",
    "load_brain_maps",
    "write_case",
]
