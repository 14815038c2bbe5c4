"""The review case and session of the workflow and slider tests (no test functions here; needs slicer-core): an
oblique FLAIR-like image with reference lesions and a probability map with misses and false alarms, and a
``ReviewSession`` started on it through a fake model run."""

from __future__ import annotations

import numpy as np
from LesionSegLib.nodes import add_volume_node
from LesionSegLib.parameters import PREDICTION_SEGMENTS, ModelChoice, ReviewParameters
from LesionSegLib.runner import InferenceResult, InProcessRunner
from LesionSegLib.segmentation import add_mask_segmentation, segment_mask
from LesionSegLib.session import ReviewSession, default_engine_factory
from web_cases import balls_and_cones

from LesionSegLogic.image import Image


def engine_factory():
    return default_engine_factory


def make_case(seed: int = 3) -> tuple[Image, np.ndarray, np.ndarray]:
    """Oblique FLAIR-like image, reference lesions, and a probability map with misses and false alarms."""
    rng = np.random.default_rng(seed)
    shape = (28, 32, 30)
    lesions = [(7, 8, 8, 3.0, 0.9), (8, 22, 20, 2.5, 0.55), (20, 10, 22, 2.0, 0.3), (20, 24, 8, 2.5, 0.0)]
    reference, probability = balls_and_cones(rng, shape, 0.1, lesions, [(14, 16, 15, 0.65), (22, 28, 26, 0.35)])
    q, _ = np.linalg.qr(np.array([[0.95, -0.2, 0.1], [0.2, 0.95, 0.1], [-0.1, -0.1, 0.99]]))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    flair = Image((100 + 50 * probability + rng.normal(0, 5, shape)).astype(np.float32),
                  (1.5, 1.0, 1.1), (-20.0, 15.0, -10.0), q, "flair")
    return flair, reference, np.clip(probability, 0, 1)


def start_session(app, case, mode="lesion", views=None):
    flair, reference, probability = case
    calls = []

    def fake_predict(request, progress, cancel):
        calls.append(request)
        if progress:
            progress(1.0, "done")
        return InferenceResult(request.flair.with_array(probability), 0.45, "fake-model")

    session = ReviewSession(app.scene, runner=InProcessRunner(fake_predict), view_controller=views,
                            parameters=ReviewParameters(mode=mode), engine_factory=engine_factory())
    flair_node = add_volume_node(app.scene, flair, "FLAIR")
    reference_node, _ = add_mask_segmentation(app.scene, "Reference", reference, flair_node,
                                              PREDICTION_SEGMENTS[0])
    session.set_inputs(flair_node)
    session.set_reference(reference_node)
    session.run_inference(ModelChoice("fake"))
    assert len(calls) == 1 and calls[0].flair.same_grid(flair)
    return session, flair_node


def review_labels(session, flair_node, scene) -> np.ndarray:
    labels = np.zeros(session.flair.shape, np.uint8)
    for label, segment_id in session.review.segment_ids.items():
        labels[segment_mask(session.review.node, segment_id, flair_node, scene)] = label
    return labels
