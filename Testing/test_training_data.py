"""Data folders, splits, patch sampling, augmentation and reproducible batches."""

from __future__ import annotations

import numpy as np
import pytest
from training_cases import make_case, make_dataset, write_volume

from LesionSegLogic.errors import FileMissingError, GeometryError, InputError
from LesionSegLogic.training.augment import augment
from LesionSegLogic.training.batches import BatchStream
from LesionSegLogic.training.config import TrainConfig
from LesionSegLogic.training.data import LoadedCase, discover_cases, load_case, split_cases
from LesionSegLogic.training.sampling import LesionCentredSampler, axis_patch_starts, extract, pad_to_patch


def _case(shape=(20, 30, 40), seed=0) -> LoadedCase:
    rng = np.random.default_rng(seed)
    mask = np.zeros(shape, np.uint8)
    mask[2:4, 3:6, 30:34] = 1
    mask[15:18, 25:28, 2:5] = 1
    return LoadedCase("c", rng.normal(size=(2, *shape)).astype(np.float32), mask, (1.0, 1.0, 1.0))


def test_discover_and_split(tmp_path):
    make_dataset(tmp_path, n=10)
    cases = discover_cases(tmp_path)
    assert [c.name for c in cases] == [f"case{i:02d}" for i in range(10)]
    assert [p.name for p in cases[0].images] == ["flair.nii.gz", "t2.nii.gz"]
    s = split_cases(cases, (0.6, 0.15, 0.15, 0.1), seed=3)
    parts = [s.train, s.validation, s.threshold, s.test]
    assert all(len(p) >= 1 for p in parts)
    names = [c.name for p in parts for c in p]
    assert sorted(names) == sorted(c.name for c in cases)  # subject-level, disjoint, complete
    assert split_cases(cases, seed=3) == split_cases(cases, seed=3)
    assert split_cases(cases, seed=3) != split_cases(cases, seed=4)
    with pytest.raises(InputError):
        split_cases(cases[:2])


def test_manifest(tmp_path):
    make_case(tmp_path / "raw" / "a", seed=1)
    (tmp_path / "manifest.csv").write_text("case,flair,mask\nsubj1,raw/a/flair.nii.gz,raw/a/lesions.nii.gz\n")
    cases = discover_cases(tmp_path, contrasts=("flair",))
    assert len(cases) == 1 and cases[0].name == "subj1"
    (tmp_path / "manifest.csv").write_text(
        "case,flair,mask\nsubj1,raw/a/nothere.nii.gz,raw/a/lesions.nii.gz\n"
    )
    with pytest.raises(FileMissingError, match="nothere"):
        discover_cases(tmp_path, contrasts=("flair",))


def test_bad_data_folders(tmp_path):
    with pytest.raises(FileMissingError, match="does not exist"):
        discover_cases(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no cases found"):
        discover_cases(tmp_path / "empty")
    make_case(tmp_path / "d" / "c1", seed=1)
    (tmp_path / "d" / "c1" / "t2.nii.gz").unlink()
    with pytest.raises(FileMissingError, match="'t2'"):
        discover_cases(tmp_path / "d")
    make_case(tmp_path / "e" / "c1", seed=1)
    write_volume(tmp_path / "e" / "c1" / "lesions.nii.gz", np.zeros((5, 5, 5), np.uint8))
    with pytest.raises(GeometryError):
        load_case(discover_cases(tmp_path / "e")[0])


def test_load_case_resamples_and_normalises(tmp_path):
    make_case(tmp_path / "c", seed=2, shape=(16, 24, 24))
    case = discover_cases(tmp_path)[0]
    lc = load_case(case, target_spacing=(2.0, 2.0, 2.0))
    assert lc.image.shape == (2, 8, 12, 12) and lc.mask.shape == (8, 12, 12)
    assert lc.spacing == (2.0, 2.0, 2.0)
    assert set(np.unique(lc.mask)) <= {0, 1} and lc.mask.any()
    full = load_case(case)
    assert full.image.dtype == np.float32 and np.isfinite(full.image).all()
    les, bg = full.image[0][full.mask > 0], full.image[0][full.mask == 0]
    assert les.mean() - bg.mean() > 2.0 and abs(float(np.median(bg))) < 1.0  # z-scored, contrast kept


def test_lesion_centred_share_and_bounds():
    case = _case()
    patch = (8, 8, 8)
    sampler = LesionCentredSampler([case], patch, lesion_share=0.8, jitter=0.5)
    rng = np.random.default_rng(0)
    specs = [sampler.draw(rng) for _ in range(1000)]
    share = np.mean([s.lesion for s in specs])
    assert 0.75 < share < 0.85
    for s in specs:
        assert all(0 <= a <= n - p for a, n, p in zip(s.start, case.shape, patch, strict=True))
        x, y = extract(case, s, patch)
        assert x.shape == (2, *patch) and y.shape == patch
        if s.lesion:
            assert y.any()  # jitter ≤ half the patch keeps the lesion voxel inside
    none = LesionCentredSampler([case], patch, lesion_share=0.0)
    assert not any(none.draw(rng).lesion for _ in range(50))


def test_axis_patches_cover_axis():
    starts = axis_patch_starts((100, 30, 30), (48, 16, 16), axis=0, overlap=0.75)
    zs = [s[0] for s in starts]
    assert zs[0] == 0 and zs[-1] == 100 - 48
    assert all(b - a <= 12 for a, b in zip(zs, zs[1:], strict=False))  # 75 % overlap: step 12
    assert all(s[1:] == starts[0][1:] for s in starts)


def test_pad_small_case():
    padded = pad_to_patch(_case(shape=(6, 30, 40)), (8, 8, 8))
    assert padded.shape == (8, 30, 40) and padded.mask.sum() == _case(shape=(6, 30, 40)).mask.sum()


@pytest.mark.parametrize("shape", [(8, 8, 8), (8, 12, 16)])
def test_augment_keeps_alignment(shape):
    rng = np.random.default_rng(1)
    mask = (rng.random(shape) > 0.7).astype(np.uint8)
    image = np.stack([mask * 5.0 + 1, mask * -3.0]).astype(np.float32)
    seen = set()
    for _ in range(40):
        x, y = augment(image, mask, rng, mirror=True, rotate90=True)
        assert x.shape == image.shape and y.shape == mask.shape
        np.testing.assert_array_equal(x[0], y * 5.0 + 1)
        np.testing.assert_array_equal(x[1], y * -3.0)
        seen.add(y.tobytes())
    assert len(seen) > 5  # the transforms really vary
    xj, yj = augment(image, mask, rng, mirror=False, rotate90=False, intensity_jitter=0.1)
    np.testing.assert_array_equal(yj, mask)
    assert not np.allclose(xj, image)


def test_same_seed_same_batches_whatever_the_loss():
    cases = [_case(seed=0), _case(seed=1)]
    a = BatchStream(cases, TrainConfig(loss="dice", patch_size=(8, 8, 8), batch_size=4), seed=5)
    b = BatchStream(
        cases, TrainConfig(loss="bce", loss_params={"x": 1}, patch_size=(8, 8, 8), batch_size=4), 5
    )
    c = BatchStream(cases, TrainConfig(patch_size=(8, 8, 8), batch_size=4), seed=6)
    for _ in range(3):
        xa, ya = a.next_batch()
        xb, yb = b.next_batch()
        xc, _ = c.next_batch()
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
        assert xa.shape == (4, 2, 8, 8, 8) and ya.shape == (4, 1, 8, 8, 8)
        assert not np.array_equal(xa, xc)
