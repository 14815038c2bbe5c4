"""Issue 19 item 9: unbounded work is bounded and says so (phantom lesion count, the threshold engine's candidate
cap on a noise map). The timing of the noise map is in ``benchmarks/bench_threshold.py --noise``, not here."""

from __future__ import annotations

import time

import numpy as np
import pytest

from LesionSegLogic.cli import main
from LesionSegLogic.errors import ConfigError
from LesionSegLogic.phantom.options import MAX_LESIONS, PhantomOptions
from LesionSegLogic.threshold import ThresholdEngine
from LesionSegLogic.threshold.engine import (
    BUILD_BYTES_PER_CANDIDATE,
    DEFAULT_MAX_CANDIDATES,
    MAX_AUTO_CANDIDATES,
    MEMORY_SHARE,
    auto_max_candidates,
)
from LesionSegLogic.threshold.naive import naive_at


def test_phantom_refuses_an_absurd_lesion_count_with_the_bound_and_why(tmp_path, capsys) -> None:
    start = time.perf_counter()
    assert main(["phantom", str(tmp_path / "out"), "--lesions", "100000"]) == 2
    err = capsys.readouterr().err
    assert f"[0, {MAX_LESIONS}]" in err and "100000" in err and "placement attempts" in err
    assert time.perf_counter() - start < 30 and not (tmp_path / "out").exists()  # refused before any work
    with pytest.raises(ConfigError):
        PhantomOptions(n_lesions=MAX_LESIONS + 1)
    assert PhantomOptions(n_lesions=MAX_LESIONS).n_lesions == MAX_LESIONS


def test_the_candidate_cap_follows_the_memory_available() -> None:
    assert auto_max_candidates(0) == DEFAULT_MAX_CANDIDATES
    assert auto_max_candidates(10**15) == MAX_AUTO_CANDIDATES
    middle = (DEFAULT_MAX_CANDIDATES + MAX_AUTO_CANDIDATES) // 2
    available = int(np.ceil(middle * BUILD_BYTES_PER_CANDIDATE / MEMORY_SHARE))
    assert auto_max_candidates(available) == middle
    assert DEFAULT_MAX_CANDIDATES <= auto_max_candidates() <= MAX_AUTO_CANDIDATES


def test_a_noise_map_raises_the_floor_says_so_and_stays_exact_below_it() -> None:
    rng = np.random.default_rng(5)
    probability = rng.random((12, 20, 20), dtype=np.float32)
    reference = rng.random(probability.shape) < 0.01
    cap = 1000
    engine = ThresholdEngine(probability, (1.0, 1.0, 1.0), reference, max_candidates=cap)
    assert engine.n_candidates <= cap and engine.floor > 0.5
    note = engine.bound_note
    assert note is not None and f"below {engine.floor:.2f}" in note and f"{cap:,} candidate voxels" in note
    assert "whole-volume pass" in note
    below = engine.at(0.5)
    oracle = naive_at(engine.inputs, 0.5)
    assert below.metrics == oracle.metrics and np.array_equal(below.overlay, oracle.overlay)
    assert engine.last_full_pass_s is not None and "the last one took" in engine.bound_note
    assert ThresholdEngine(probability * 0.001, (1.0, 1.0, 1.0), max_candidates=cap).bound_note is None
