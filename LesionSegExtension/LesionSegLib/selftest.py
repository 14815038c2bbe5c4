"""The module's self-test workflow, Qt-free so that pytest (slicer-core) and Slicer's ``LesionSegTest`` run
the same code: phantom → nodes → inference → threshold moves → segments and metrics checked."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from LesionSegLogic.errors import LesionSegError

from .nodes import add_volume_node
from .parameters import ModelChoice
from .runner import InferenceRunner, InProcessRunner
from .session import ReviewSession

if TYPE_CHECKING:
    from LesionSegLogic.phantom import BrainMaps


def run_review_self_test(scene, runner: InferenceRunner | None = None, model: str | None = None,
                         seed: int = 7, maps: BrainMaps | None = None) -> dict:
    """Run the review workflow on a small phantom; raises ``AssertionError`` when something is off.

    ``maps``: the MNI brain maps the phantom is drawn from, when the caller has them loaded already (a test
    session's); by default the phantom generator loads them."""
    from .dependencies import require_dependencies  # installs (in Slicer) or checks what follows needs

    require_dependencies()
    from LesionSegLogic.phantom import generate_case
    from LesionSegLogic.zoo.catalog import list_cards

    case = generate_case(seed, fov_mm=(40, 60, 60), spacing=(2.0, 2.0, 2.0), n_lesions=6, maps=maps)
    if model is None:
        cards = list_cards()
        if not cards and runner is None:
            raise LesionSegError("no bundled model to run the self-test with")
        model = cards[0].name if cards else "injected"
    session = ReviewSession(scene, runner=runner or InProcessRunner())
    flair = add_volume_node(scene, case.flair.with_array(case.flair.array.astype(np.float32)), "FLAIR")
    t2 = add_volume_node(scene, case.t2.with_array(case.t2.array.astype(np.float32)), "T2")
    session.set_inputs(flair, t2=t2)
    session.set_reference(case.lesions)
    session.run_inference(ModelChoice(model, "cpu"))
    report = {}
    for threshold in (0.3, session.recommended_threshold, 0.7):
        state = session.set_threshold(threshold)
        overlay = session.review.labels
        assert np.array_equal(overlay, state.overlay), "review segments differ from the engine's overlay"
        lesion = state.metrics["lesion"]
        assert lesion["n_reference"] == len(case.records), "reference lesions miscounted"
        report[round(float(threshold), 3)] = lesion["f1"]
    return report
