"""Zoo v2 training side (issue 12): the recipe's sets agree with the zoo's sets, the packed arrays are the
predictor's normalisation, and the GPU script's batches are deterministic and keep labels aligned (on CPU)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from LesionSegLogic.losses import available_losses, build_loss
from LesionSegLogic.training.zoo_recipe import LOSSES, SETS

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
sys.path.insert(0, str(SCRIPTS))

import zoo_data  # noqa: E402
import zoo_device  # noqa: E402


def test_recipe_sets_have_the_issue_losses_and_match_the_zoo_sets() -> None:
    from LesionSegLogic.zoo.card import CONTRAST_IMAGES
    from LesionSegLogic.zoo.sets import get_set

    assert len({r.name for r in LOSSES}) == len(LOSSES) == 13
    assert all(r.loss in available_losses() for r in LOSSES)
    for r in LOSSES:
        build_loss(r.loss, **r.params)
    sizes = {name: len(s.losses) for name, s in SETS.items()}
    assert sizes == {"brain": 13, "brain_flair": 3, "cord": 7, "longitudinal": 2} and sum(sizes.values()) == 25
    assert set(SETS["cord"].losses) == {"bce", "dice", "combo", "generalized_dice", "log_cosh_dice", "tversky",
                                        "focal_tversky"}
    for name, zset in SETS.items():
        zoo = get_set(name)
        images = {image for contrast in zset.inputs for image in CONTRAST_IMAGES[contrast]}
        assert frozenset(images) == zoo.images and zset.task == zoo.task and zset.anatomy == zoo.anatomy, name
        assert zset.data == zoo.data and zset.mask == zoo.reference, name
        assert set(zset.channels) <= set(zoo_data.SETS[zset.data].images), name


def test_groups_split_each_set_evenly() -> None:
    groups = zoo_device.make_groups(None, 5)
    assert sorted(len(g.losses) for g in groups if g.set_name == "brain") == [4, 4, 5]
    assert sum(len(g.losses) for g in groups) == 25
    only = zoo_device.make_groups(["brain:dice", "cord:bce"], 5)
    assert [(g.set_name, g.losses) for g in only] == [("brain", ["dice"]), ("cord", ["bce"])]


def test_pack_stores_the_predictor_normalisation(tmp_path) -> None:
    from LesionSegLogic.io.read import read_image
    from LesionSegLogic.phantom import generate_case, write_case
    from LesionSegLogic.preprocessing import foreground_mask
    from LesionSegLogic.training.data import zscore

    case = generate_case(3, anatomy="cord", fov_mm=(60.0, 40.0, 20.0), n_lesions=1)
    write_case(case, tmp_path / "data" / "cord" / "pool" / "phantom0000")
    zoo_data.pack(tmp_path / "data", tmp_path / "pack", ["cord"], {})
    [(image, mask)] = zoo_data.load_pack(tmp_path / "pack", "cord")
    t2 = read_image(tmp_path / "data" / "cord" / "pool" / "phantom0000" / "t2.nii.gz").array
    box = zoo_data._foreground_box(foreground_mask(t2), zoo_data.CROP_MARGIN)
    expected = zscore(t2)[box]  # normalised on the whole image first, as the predictor does, then cropped
    assert image.shape[1:] == mask.shape == expected.shape and mask.sum() == case.lesions.array.sum()
    assert np.abs(image[0] - np.clip(expected, zoo_data.QUANT_LOW, None)).max() <= zoo_data.QUANT_STEP / 2 + 1e-6


def _cases() -> list:
    rng = np.random.default_rng(0)
    cases = []
    for i in range(2):
        mask = np.zeros((20, 20, 20), np.uint8)
        mask[5 + i: 12, 6:14, 4:9] = 1
        image = torch.from_numpy(np.stack([mask * 3.0 + rng.normal(0, 0.1, mask.shape)]).astype(np.float32))
        cases.append((f"c{i}", image, mask))
    return cases


def test_patch_stream_is_deterministic_and_keeps_labels_aligned() -> None:
    stream = zoo_device.PatchStream(_cases(), (8, 8, 8), 4, 5, lesion_share=0.8, jitter=0.4, augment=True)
    x1, y1 = stream.next(3)
    x2, y2 = stream.next(3)
    x3, _ = stream.next(4)
    assert torch.equal(x1, x2) and torch.equal(y1, y2) and not torch.equal(x1, x3)
    assert x1.shape == (4, 1, 8, 8, 8) and y1.shape == (4, 1, 8, 8, 8)
    assert torch.equal(x1 > 1.5, y1 > 0.5)  # the image is 3 × mask + noise: flips and rotations moved both


@pytest.mark.heavy
def test_device_script_trains_two_models_on_cpu(tmp_path) -> None:
    """``--device cpu --iterations 2`` on a pack of two tiny cord cases: weights and train.json in a tar."""
    import json
    import tarfile

    from LesionSegLogic.phantom import generate_case, write_case

    for i in range(3):
        case = generate_case(i, anatomy="cord", fov_mm=(80.0, 70.0, 45.0), n_lesions=2)
        write_case(case, tmp_path / "data" / "cord" / "pool" / f"phantom{i:04d}")
    zoo_data.pack(tmp_path / "data", tmp_path / "pack", ["cord"], {})
    code = zoo_device.main(["--pack", str(tmp_path / "pack"), "--out", str(tmp_path / "out"), "--work",
                            str(tmp_path / "work"), "--device", "cpu", "--iterations", "2", "--only", "cord:bce",
                            "cord:dice", "--no-smoke"])
    assert code == 0
    with tarfile.open(tmp_path / "out" / "models_1.tar") as tar:
        names = sorted(tar.getnames())
        record = json.load(tar.extractfile("cord/bce/train.json"))
    assert names == ["cord/bce/model.safetensors", "cord/bce/train.json", "cord/dice/model.safetensors",
                     "cord/dice/train.json"]
    assert record["iterations"] == 2 and record["inputs"] == ["t2"] and record["config"]["randomise"] == "domain"
