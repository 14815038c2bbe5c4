"""The patch inference engine: windows, fusion weights, TTA, skipping, cancel, OOM fallback, MONAI agreement."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn

from LesionSegLogic.errors import Cancelled, LesionSegError, ModelFileError, NonFiniteError
from LesionSegLogic.inference import (
    FUSIONS,
    TTAS,
    CancelToken,
    DeviceFallbackWarning,
    Progress,
    WindowGrid,
    axis_starts,
    fusion_weights,
    predict_volume,
)
from LesionSegLogic.inference.device import default_batch_size
from LesionSegLogic.inference.fold import fold_batchnorm
from LesionSegLogic.inference.fusion import bspline, profile
from LesionSegLogic.inference.windows import padding_for


class Constant(nn.Module):
    def __init__(self, logit: float) -> None:
        super().__init__()
        self.logit = logit

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.full((x.shape[0], 1, *x.shape[2:]), self.logit, dtype=x.dtype, device=x.device)


class Identity(nn.Module):
    """Logits whose sigmoid is the first input channel: the fused map must reconstruct the input."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.logit(x[:, :1].clamp(1e-6, 1 - 1e-6).double()).float()


class Counting(Identity):
    def __init__(self) -> None:
        super().__init__()
        self.windows = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.windows += x.shape[0]
        return super().forward(x)


def _small_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv3d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv3d(4, 1, 3, padding=1)).eval()


# windows --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("size", "patch", "overlap"), [(40, 16, 0.5), (37, 16, 0.75), (16, 16, 0.5), (100, 7, 0.0)]
)
def test_axis_starts_cover_and_end_on_the_edge(size: int, patch: int, overlap: float) -> None:
    starts = axis_starts(size, patch, overlap)
    assert starts[0] == 0 and starts[-1] == size - patch
    covered = np.zeros(size, bool)
    for s in starts:
        covered[s : s + patch] = True
    assert covered.all()
    steps = np.diff(starts)
    assert np.all(steps > 0) and np.all(steps <= max(1, int(patch * (1 - overlap))))


def test_grid_and_padding() -> None:
    grid = WindowGrid.build((40, 20, 16), (16, 16, 16), 0.5)
    assert len(grid) == len(list(grid)) == 4 * 2 * 1
    assert padding_for((10, 16, 3), (16, 16, 16)) == ((3, 3), (0, 0), (6, 7))


# fusion weights -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", FUSIONS)
@pytest.mark.parametrize("patch", [(16, 16, 16), (9, 12, 5)])
def test_fusion_weights_shape_symmetry_positivity(name: str, patch: tuple[int, int, int]) -> None:
    w = fusion_weights(name, patch)
    assert w.shape == patch and w.dtype == np.float32
    assert np.all(w > 0)
    for axis in range(3):
        np.testing.assert_allclose(w, np.flip(w, axis), rtol=1e-6)
    centre = tuple(p // 2 for p in patch)
    assert w[centre] == pytest.approx(w.max(), rel=1e-6)
    if name != "mean":
        assert w[0, 0, 0] < w[centre]


def test_bspline_is_the_quadratic_b_spline() -> None:
    t = np.linspace(-2, 2, 401)
    b2 = bspline(t, 2)
    expected = np.where(
        np.abs(t) <= 0.5, 0.75 - t**2, np.where(np.abs(t) < 1.5, 0.5 * (np.abs(t) - 1.5) ** 2, 0)
    )
    np.testing.assert_allclose(b2, expected, atol=1e-12)
    # B-splines of every degree are a partition of unity over integer shifts
    for degree in (1, 2, 3):
        s = sum(bspline(t[100:300] - k, degree) for k in range(-4, 5))
        np.testing.assert_allclose(s, 1.0, atol=1e-12)


def test_gaussian_sigma_is_one_eighth_of_the_patch() -> None:
    w = profile("gaussian", 64)
    i = np.arange(64)
    sigma = np.sqrt(-((i - 31.5) ** 2) / (2 * np.log(w)))
    np.testing.assert_allclose(sigma[np.abs(i - 31.5) > 1], 8.0, rtol=1e-9)


# maps ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fusion", FUSIONS)
@pytest.mark.parametrize("overlap", [0.5, 0.75])
def test_constant_model_gives_constant_map(fusion: str, overlap: float) -> None:
    image = np.random.default_rng(0).normal(size=(2, 23, 30, 19)).astype(np.float32)
    p = predict_volume(
        Constant(0.7), image, patch_size=(8, 12, 8), overlap=overlap, fusion=fusion, skip_background=False
    )
    assert p.shape == (23, 30, 19) and p.dtype == np.float32
    np.testing.assert_allclose(p, 1 / (1 + np.exp(-0.7)), atol=1e-6)


@pytest.mark.parametrize("fusion", FUSIONS)
@pytest.mark.parametrize("tta", TTAS)
def test_identity_model_reconstructs_input(fusion: str, tta: str) -> None:
    image = np.random.default_rng(1).uniform(0.01, 0.99, size=(1, 21, 18, 25)).astype(np.float32)
    p = predict_volume(
        Identity(), image, patch_size=(8, 8, 12), fusion=fusion, tta=tta, skip_background=False, batch_size=3
    )
    np.testing.assert_allclose(p, image[0], atol=1e-5)


def test_volume_smaller_than_patch_is_padded() -> None:
    image = np.random.default_rng(2).uniform(0.1, 0.9, size=(1, 5, 20, 9)).astype(np.float32)
    p = predict_volume(Identity(), image, patch_size=(8, 8, 16), skip_background=False)
    np.testing.assert_allclose(p, image[0], atol=1e-5)
    p3 = predict_volume(Identity(), image[0], patch_size=(8, 8, 16), skip_background=False)  # (z, y, x) input
    np.testing.assert_allclose(p3, p)


def test_rotation_tta_maps_predictions_back() -> None:
    """A model that sees only one corner of each window: TTA with a wrong inverse would scramble the map."""

    class Corner(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = torch.zeros(x.shape[0], 1, *x.shape[2:])
            out[:, :, :4, :4, :4] = 3.0
            return out

    image = np.zeros((1, 16, 16, 16), np.float32)
    base = predict_volume(Corner(), image, patch_size=(8, 8, 8), fusion="mean", skip_background=False)
    for tta in ("flip", "rot", "flip-rot"):
        p = predict_volume(
            Corner(), image, patch_size=(8, 8, 8), fusion="mean", tta=tta, skip_background=False
        )
        assert p.shape == base.shape
        assert not np.allclose(p, base)  # other corners contribute after mapping back
    flipped = predict_volume(
        Corner(), image, patch_size=(8, 8, 8), fusion="mean", tta="flip-rot", skip_background=False
    )
    for axis in range(3):
        np.testing.assert_allclose(flipped, np.flip(flipped, axis), atol=1e-6)


def test_batch_size_does_not_change_the_map() -> None:
    image = np.random.default_rng(3).normal(size=(1, 20, 24, 18)).astype(np.float32)
    net = _small_net()
    a = predict_volume(net, image, patch_size=(8, 8, 8), batch_size=1, skip_background=False)
    b = predict_volume(net, image, patch_size=(8, 8, 8), batch_size=5, skip_background=False)
    np.testing.assert_allclose(a, b, atol=1e-6)


# the fast path: batch-norm folding, channels-last buffer, CPU batch size ----------------------------------
def _norm_net() -> nn.Module:
    """Conv → batch norm → ReLU twice, with running statistics far from the identity (so a wrong fold shows)."""
    torch.manual_seed(1)
    net = nn.Sequential(
        nn.Conv3d(2, 6, 3, padding=1), nn.BatchNorm3d(6), nn.ReLU(),
        nn.Sequential(nn.Conv3d(6, 1, 3, padding=1, bias=False), nn.BatchNorm3d(1)),
    )
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, nn.BatchNorm3d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.3, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.3, 0.3)
    return net.eval()


def test_fold_batchnorm_equals_the_network_and_leaves_it_unchanged() -> None:
    net = _norm_net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    folded = fold_batchnorm(net)
    assert folded is not net
    assert not any(isinstance(m, nn.BatchNorm3d) for m in folded.modules())
    assert sum(isinstance(m, nn.BatchNorm3d) for m in net.modules()) == 2
    x = torch.randn(3, 2, 8, 8, 8)
    with torch.inference_mode():
        np.testing.assert_allclose(folded(x).numpy(), net(x).numpy(), atol=1e-5)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    plain = _small_net()
    assert fold_batchnorm(plain) is plain  # nothing to fold: the model itself, not a copy
    training = _norm_net().train()
    assert fold_batchnorm(training) is training  # batch statistics in training mode are not foldable


def test_fold_norms_option_gives_the_same_map_and_keeps_the_model() -> None:
    image = np.random.default_rng(10).normal(size=(2, 20, 17, 22)).astype(np.float32)
    net = _norm_net().train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    folded = predict_volume(net, image, patch_size=(8, 8, 8), skip_background=False, batch_size=3)
    exact = predict_volume(net, image, patch_size=(8, 8, 8), skip_background=False, batch_size=3, fold_norms=False)
    np.testing.assert_allclose(folded, exact, atol=1e-5)
    assert np.abs(exact - 0.5).max() > 0.05  # the map is not trivially flat
    assert net.training
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_cpu_bf16_is_an_option_that_stays_close() -> None:
    """bf16 autocast on the CPU: reduced precision (the map moves, a little), off by default."""
    image = np.random.default_rng(12).normal(size=(2, 16, 16, 16)).astype(np.float32)
    net = _norm_net()
    exact = predict_volume(net, image, patch_size=(8, 8, 8), skip_background=False)
    reduced = predict_volume(net, image, patch_size=(8, 8, 8), skip_background=False, cpu_bf16=True)
    difference = np.abs(reduced - exact).max()
    assert 0 < difference <= 1e-2
    assert reduced.dtype == np.float32


def test_windows_reach_the_model_channels_last_on_the_cpu_and_unchanged() -> None:
    seen: list[torch.Tensor] = []

    class Recording(Identity):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            seen.append(x.clone(memory_format=torch.preserve_format))
            return super().forward(x)

    image = np.random.default_rng(11).uniform(0.1, 0.9, size=(2, 16, 12, 16)).astype(np.float32)
    p = predict_volume(Recording(), image, patch_size=(8, 8, 8), skip_background=False, batch_size=3)
    np.testing.assert_allclose(p, image[0], atol=1e-5)
    assert all(x.is_contiguous(memory_format=torch.channels_last_3d) for x in seen)
    assert [x.shape[0] for x in seen] == [3] * (len(WindowGrid.build((16, 12, 16), (8, 8, 8), 0.5)) // 3)
    first = seen[0][0]  # the first window is the corner of the image, both channels
    np.testing.assert_array_equal(first.numpy(), image[:, :8, :8, :8])


def test_default_cpu_batch_is_about_half_a_million_voxels() -> None:
    cpu = torch.device("cpu")
    assert default_batch_size(cpu, (48, 48, 48)) == 4
    assert default_batch_size(cpu, (64, 64, 64)) == 2
    assert default_batch_size(cpu, (128, 128, 128)) == 1
    assert default_batch_size(cpu, (8, 8, 8)) == 4


# foreground skipping --------------------------------------------------------------------------------------
def _head_like(shape=(40, 48, 40)) -> np.ndarray:
    z, y, x = np.indices(shape)
    c = np.array(shape) / 2
    inside = ((z - c[0]) / 8) ** 2 + ((y - c[1]) / 10) ** 2 + ((x - c[2]) / 7) ** 2 <= 1
    rng = np.random.default_rng(4)
    image = np.where(inside, rng.uniform(0.2, 0.9, shape), 0.05).astype(np.float32)
    return image[None]


def test_skip_background_runs_fewer_windows_and_keeps_foreground() -> None:
    image = _head_like()
    full, skip = Counting(), Counting()
    p_full = predict_volume(full, image, patch_size=(8, 8, 8), skip_background=False, batch_size=4)
    p_skip = predict_volume(skip, image, patch_size=(8, 8, 8), skip_background=True, batch_size=4)
    assert skip.windows < full.windows / 2
    fg = image[0] > 0.1
    np.testing.assert_allclose(p_skip[fg], image[0][fg], atol=1e-5)
    np.testing.assert_allclose(p_full, image[0], atol=1e-5)
    # far from the foreground: nothing was run, probability 0
    assert np.all(p_skip[:4] == 0) and np.all(p_skip[:, :, :4] == 0)


def test_precomputed_mask_and_empty_mask() -> None:
    image = _head_like()
    model = Counting()
    mask = np.zeros(image.shape[1:], bool)
    mask[18:22, 20:24, 18:22] = True
    p = predict_volume(model, image, patch_size=(8, 8, 8), skip_background=mask)
    assert 0 < model.windows <= 27
    np.testing.assert_allclose(p[mask], image[0][mask], atol=1e-5)
    model.windows = 0
    p0 = predict_volume(model, image, patch_size=(8, 8, 8), foreground=np.zeros_like(mask))
    assert model.windows == 0 and not p0.any()


# progress, cancel, errors ---------------------------------------------------------------------------------
def test_progress_reports_and_cancel() -> None:
    image = np.random.default_rng(5).uniform(size=(1, 24, 24, 24)).astype(np.float32)
    seen: list[Progress] = []
    predict_volume(
        Identity(), image, patch_size=(8, 8, 8), skip_background=False, batch_size=2, progress=seen.append
    )
    fractions = [s.fraction for s in seen]
    assert fractions[0] == 0 and fractions[-1] == 1 and fractions == sorted(fractions)
    assert seen[-1].done == seen[-1].total == 125 and seen[-1].eta_s == 0

    token = CancelToken()
    model = Counting()

    def stop_after_first(p: Progress) -> None:
        if p.done > 0:
            token.cancel()

    with pytest.raises(Cancelled):
        predict_volume(
            model,
            image,
            patch_size=(8, 8, 8),
            skip_background=False,
            batch_size=2,
            progress=stop_after_first,
            cancel=token,
        )
    assert model.windows == 2


class OOMWhenBig(Identity):
    """Raises CUDA's out-of-memory error for batches above ``limit`` windows."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] > self.limit:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return super().forward(x)


def test_oom_halves_the_batch_and_says_so() -> None:
    image = np.random.default_rng(6).uniform(0.1, 0.9, size=(1, 24, 24, 24)).astype(np.float32)
    messages: list[str] = []
    with pytest.warns(DeviceFallbackWarning, match="retrying with"):
        p = predict_volume(
            OOMWhenBig(2),
            image,
            patch_size=(8, 8, 8),
            batch_size=8,
            skip_background=False,
            notify=messages.append,
        )
    np.testing.assert_allclose(p, image[0], atol=1e-5)
    assert [m.split(": ")[1] for m in messages] == [
        "retrying with 4 window(s) per batch",
        "retrying with 2 window(s) per batch",
    ]


def test_oom_on_accelerator_falls_back_to_cpu() -> None:
    """The 'meta' device stands in for a GPU: the fake model runs out of memory anywhere but on the CPU."""

    class OOMOffCPU(Identity):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if x.device.type != "cpu":
                raise torch.OutOfMemoryError("CUDA out of memory")
            return super().forward(x)

    image = np.random.default_rng(7).uniform(0.1, 0.9, size=(1, 16, 16, 16)).astype(np.float32)
    messages: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        p = predict_volume(
            OOMOffCPU(),
            image,
            patch_size=(8, 8, 8),
            device="meta",
            batch_size=2,
            skip_background=False,
            notify=messages.append,
        )
    np.testing.assert_allclose(p, image[0], atol=1e-5)
    assert any("continuing on the CPU" in m for m in messages)
    assert any(issubclass(w.category, DeviceFallbackWarning) for w in caught)


def test_oom_on_cpu_at_batch_one_is_an_error() -> None:
    image = np.random.default_rng(8).uniform(size=(1, 16, 16, 16)).astype(np.float32)
    with pytest.warns(DeviceFallbackWarning), pytest.raises(LesionSegError, match="out of memory on the CPU"):
        predict_volume(OOMWhenBig(0), image, patch_size=(8, 8, 8), batch_size=2, skip_background=False)


def test_other_errors_are_not_swallowed_and_mode_is_restored() -> None:
    class Broken(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise ValueError("boom")

    model = Broken().train()
    with pytest.raises(ValueError, match="boom"):
        predict_volume(model, np.ones((1, 8, 8, 8), np.float32), patch_size=(8, 8, 8), skip_background=False)
    assert model.training


def test_bad_inputs_are_typed_errors() -> None:
    image = np.ones((1, 8, 8, 8), np.float32)
    image[0, 1, 1, 1] = np.nan
    with pytest.raises(NonFiniteError):
        predict_volume(Identity(), image, patch_size=(8, 8, 8))

    class WrongShape(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x[:, 0]

    with pytest.raises(ModelFileError, match="expected"):
        predict_volume(
            WrongShape(), np.ones((1, 8, 8, 8), np.float32), patch_size=(8, 8, 8), skip_background=False
        )
    with pytest.raises(LesionSegError, match="fusion"):
        predict_volume(Identity(), np.ones((1, 8, 8, 8), np.float32), patch_size=(8, 8, 8), fusion="median")


def test_agrees_with_monai_sliding_window() -> None:
    monai_inferers = pytest.importorskip("monai.inferers")
    image = np.random.default_rng(9).normal(size=(1, 30, 37, 26)).astype(np.float32)
    net = _small_net()
    for overlap in (0.5, 0.75):
        ours = predict_volume(
            net,
            image,
            patch_size=(16, 16, 12),
            overlap=overlap,
            fusion="gaussian",
            skip_background=False,
            batch_size=3,
        )
        with torch.no_grad():
            theirs = monai_inferers.sliding_window_inference(
                torch.from_numpy(image)[None],
                (16, 16, 12),
                2,
                lambda t: torch.sigmoid(net(t)),
                overlap=overlap,
                mode="gaussian",
            )[0, 0].numpy()
        assert np.abs(ours - theirs).max() <= 1e-5
