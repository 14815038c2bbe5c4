"""Phantom variety options (issue 12): field strength, drawn protocols, slice thickness, SNR/bias ranges,
confluent periventricular lesions, lesion-free cases and the two named generator settings.

Options that do not depend on the anatomy are tested on small cord phantoms (no MNI maps to load: fast); the
brain-only ones (confluent lesions, the brain's axial slice axis) carry the ``heavy`` mark."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import ndimage

from LesionSegLogic.errors import ConfigError
from LesionSegLogic.phantom import generate_case
from LesionSegLogic.phantom.brain import CONFLUENT
from LesionSegLogic.phantom.options import PhantomOptions
from LesionSegLogic.phantom.presets import PRESETS, SHIFTED, TRAIN, TUNE
from LesionSegLogic.phantom.protocol import PROTOCOL_RANGES, resolve_protocol, tissue_at
from LesionSegLogic.phantom.signal import CSF, WM, Flair, SpinEcho, tissue_signal

CORD = {"anatomy": "cord", "fov_mm": (60.0, 30.0, 20.0)}


@pytest.fixture(scope="module")
def maps(brain_maps):
    return brain_maps  # loaded once per session (conftest.py)


def test_field_strength_changes_relaxation_and_the_images() -> None:
    assert tissue_at(WM, 1.5).t1 < WM.t1 and tissue_at(WM, 3.0) == WM
    three = generate_case(5, **CORD, n_lesions=2, noise=False, bias=0.0)
    one_five = generate_case(5, **CORD, n_lesions=2, noise=False, bias=0.0, field_strength=1.5)
    # the same lesions (the acquisition draws come from their own stream), other intensities
    assert np.array_equal(three.lesions.array, one_five.lesions.array)
    assert not np.array_equal(three.t2.array, one_five.t2.array)
    assert one_five.to_json()["acquisition"]["field_strength_t"] == 1.5
    # the brain FLAIR still nulls CSF at 1.5 T: its TI follows the 1.5 T CSF T1
    protocol = resolve_protocol("brain", Flair(), SpinEcho(), 1.5, False, np.random.default_rng(0))
    flair = Flair(ti=protocol.flair.inversion_time)
    assert tissue_signal(flair, tissue_at(CSF, 1.5)) < 0.01 * tissue_signal(flair, tissue_at(WM, 1.5))
    assert tissue_signal(flair, tissue_at(CSF, 1.5)) < tissue_signal(Flair(ti=Flair().inversion_time),
                                                                     tissue_at(CSF, 1.5))


def test_drawn_protocol_lies_in_the_ranges_and_is_deterministic() -> None:
    a = generate_case(11, **CORD, n_lesions=1, draw_protocol=True)
    b = generate_case(11, **CORD, n_lesions=1, draw_protocol=True)
    c = generate_case(12, **CORD, n_lesions=1, draw_protocol=True)
    assert np.array_equal(a.t2.array, b.t2.array)
    ranges = PROTOCOL_RANGES[("cord", 3.0)]
    got = [x.to_json()["acquisition"]["t2"] for x in (a, c)]
    for t2 in got:
        assert ranges.t2_tr[0] <= t2["tr_ms"] <= ranges.t2_tr[1] and ranges.t2_te[0] <= t2["te_ms"] <= ranges.t2_te[1]
    assert got[0] != got[1]
    fixed = generate_case(11, **CORD, n_lesions=1).to_json()["acquisition"]["t2"]
    assert fixed["tr_ms"] == 4000.0 and got[0]["tr_ms"] != 4000.0
    # brain FLAIR: TR, TE in range, TI near the CSF null
    rng = np.random.default_rng(3)
    brain = PROTOCOL_RANGES[("brain", 1.5)]
    for _ in range(5):
        flair = resolve_protocol("brain", Flair(), SpinEcho(), 1.5, True, rng).flair
        assert brain.flair_tr[0] <= flair.tr <= brain.flair_tr[1] and brain.flair_te[0] <= flair.te <= brain.flair_te[1]
        null = Flair(tr=flair.tr, null_t1=tissue_at(CSF, 1.5).t1).inversion_time
        assert 0.95 * null <= flair.inversion_time <= 1.05 * null


def test_slice_thickness_sets_the_slice_axis_spacing() -> None:
    cord = generate_case(2, **CORD, n_lesions=1, slice_thickness=3.5)
    assert cord.flair.spacing[2] == 3.5 and cord.to_json()["acquisition"]["slice_axis"] == 2
    options = PhantomOptions(spacing=(1.0, 0.9, 0.9), slice_thickness=5.0)
    assert options.with_thickness((1.0, 0.9, 0.9), 0) == (5.0, 0.9, 0.9)
    assert options.resolved_slice_axis((1.2, 0.9, 0.9), 0) == 0  # thickness given: the anatomy's slice axis
    assert PhantomOptions().resolved_slice_axis((1.2, 0.9, 0.9), 0) is None  # else only a clearly thick axis


def test_snr_and_bias_ranges_are_drawn_inside_them() -> None:
    snrs = {generate_case(s, **CORD, n_lesions=0, snr_range=(10.0, 12.0)).snr for s in (1, 2)}
    assert all(10.0 <= v <= 12.0 for v in snrs) and len(snrs) == 2
    flat = generate_case(3, **CORD, n_lesions=0, noise=False, bias_range=(0.0, 0.0))
    strong = generate_case(3, **CORD, n_lesions=0, noise=False, bias_range=(0.5, 0.5))
    inside = flat.t2.array > 50
    ratio = strong.t2.array[inside] / flat.t2.array[inside]  # the bias field, noise being off
    assert np.std(np.log(ratio)) > 0.05


def test_lesion_free_case_writes_and_loads(tmp_path) -> None:
    from LesionSegLogic.phantom import write_case
    from LesionSegLogic.training.data import discover_cases, load_case

    case = generate_case(4, **CORD, n_lesions=0, longitudinal=True, n_new=0, n_enlarging=0)
    assert case.records == () and not case.lesions.array.any() and not case.new_lesions.array.any()
    folder = write_case(case, tmp_path / "free")
    assert json.loads((folder / "phantom.json").read_text())["n_lesions"] == 0
    loaded = load_case(discover_cases(tmp_path)[0])
    assert loaded.mask.sum() == 0 and loaded.image.shape[0] >= 1


def test_options_are_validated_with_one_line_errors() -> None:
    for bad in ({"field_strength": 7.0}, {"slice_thickness": 0.0}, {"snr_range": (30.0, 10.0)},
                {"bias_range": (0.1, 2.0)}, {"confluent": 1.5}):
        with pytest.raises(ConfigError) as info:
            PhantomOptions(**bad)
        assert next(iter(bad)) in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="brain option"):
        generate_case(0, confluent=0.5, **CORD)


def test_presets_share_no_acquisition_setting() -> None:
    assert set(PRESETS) == {"train", "tune", "shifted"}
    assert TRAIN.field_strength != SHIFTED.field_strength
    assert TRAIN.snr_range[1] <= SHIFTED.snr_range[0] or SHIFTED.snr_range[1] <= TRAIN.snr_range[0]
    assert TRAIN.bias_range[1] < SHIFTED.bias_range[0]
    for anatomy in ("brain", "cord"):
        assert not set(TRAIN.spacings[anatomy]) & set(SHIFTED.spacings[anatomy])
    assert TRAIN.confluent == 0 < SHIFTED.confluent
    free = [TRAIN.options("brain", i).n_lesions for i in range(20)]
    assert free.count(0) == 2 and SHIFTED.options("brain", 9).n_lesions is None
    assert SHIFTED.options("brain", 0).spacing != SHIFTED.options("brain", 1).spacing


def _disjoint(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[1] <= b[0] or b[1] <= a[0]


def test_tune_setting_keeps_the_test_held_out_and_differs_from_train() -> None:
    """The threshold-optimisation setting (Hussein et al. 2023) shares no acquisition value with the test's."""
    assert TUNE.field_strength == TRAIN.field_strength != SHIFTED.field_strength
    assert _disjoint(TUNE.snr_range, SHIFTED.snr_range) and _disjoint(TUNE.bias_range, SHIFTED.bias_range)
    assert TUNE.bias_range[1] < SHIFTED.bias_range[0]
    for anatomy in ("brain", "cord"):
        assert not set(TUNE.spacings[anatomy]) & set(SHIFTED.spacings[anatomy])
        assert not set(TUNE.spacings[anatomy]) & set(TRAIN.spacings[anatomy])
    cord_thickness = [s[2] for s in (TRAIN.spacings["cord"][0], TUNE.spacings["cord"][0], SHIFTED.spacings["cord"][0])]
    assert cord_thickness == sorted(cord_thickness) and len(set(cord_thickness)) == 3  # x: the sagittal slice axis
    assert TUNE.snr_range != TRAIN.snr_range and TUNE.bias_range != TRAIN.bias_range
    assert TRAIN.confluent < TUNE.confluent != SHIFTED.confluent and TUNE.lesion_free_every == 0
    assert TUNE.options("brain", 0).spacing != TUNE.options("brain", 1).spacing


def test_cli_preset_and_flags(tmp_path) -> None:
    from LesionSegLogic.cli import main

    fov = ["--fov", "60,30,20", "--lesions", "1"]
    assert main(["phantom", str(tmp_path / "p"), "--anatomy", "cord", "--preset", "shifted", *fov]) == 0
    meta = json.loads((tmp_path / "p" / "case_000" / "phantom.json").read_text())
    assert meta["acquisition"]["field_strength_t"] == SHIFTED.field_strength
    assert meta["grid"]["spacing_zyx_mm"] == list(SHIFTED.spacings["cord"][0])
    assert SHIFTED.snr_range[0] <= meta["snr"] <= SHIFTED.snr_range[1]
    assert main(["phantom", str(tmp_path / "f"), "--anatomy", "cord", "--field-strength", "1.5", "--slice-thickness",
                 "4", "--snr-range", "12,13", *fov]) == 0
    meta = json.loads((tmp_path / "f" / "case_000" / "phantom.json").read_text())
    assert meta["grid"]["spacing_zyx_mm"][2] == 4.0 and 12 <= meta["snr"] <= 13
    assert main(["phantom", str(tmp_path / "c"), "--anatomy", "cord", "--confluent", "0.5", *fov]) != 0


@pytest.mark.heavy
def test_brain_slice_thickness_is_axial(maps) -> None:
    case = generate_case(2, maps=maps, spacing=(1.0, 0.9, 0.9), fov_mm=(40.0, 40.0, 40.0), n_lesions=1,
                         slice_thickness=5.0)
    assert case.flair.spacing == (5.0, 0.9, 0.9) and case.to_json()["acquisition"]["slice_axis"] == 0


@pytest.mark.heavy
def test_confluent_lesions_are_large_touch_the_ventricles_and_are_deterministic(maps) -> None:
    opts = {"spacing": (2.0, 2.0, 2.0), "fov_mm": (50.0, 80.0, 80.0), "n_lesions": 2}
    plain = generate_case(21, maps=maps, **opts)
    confluent = generate_case(21, maps=maps, **opts, confluent=1.0)
    again = generate_case(21, maps=maps, **opts, confluent=1.0)
    assert np.array_equal(confluent.lesions.array, again.lesions.array)
    assert confluent.records and all(r.region == CONFLUENT for r in confluent.records)
    assert np.mean([r.volume_mm3 for r in confluent.records]) > 3 * np.mean([r.volume_mm3 for r in plain.records])
    # each touches the ventricles: a CSF-dark FLAIR voxel (nulled CSF) next to the lesion
    flair = confluent.flair.array
    csf_dark = flair < 0.3 * np.median(flair[flair > 0])
    labels = confluent.lesion_labels.array
    for r in confluent.records:
        ring = ndimage.binary_dilation(labels == r.id, iterations=2) & ~(labels == r.id)
        assert csf_dark[ring].any(), r
