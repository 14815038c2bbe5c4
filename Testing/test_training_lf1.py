"""Kamraoui's LF1 estimator (Kamraoui et al. 2021): the lesion-wise F1, balanced pair generation, training, the loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from LesionSegLogic.errors import ModelFileError
from LesionSegLogic.training.lf1_estimator import (
    EstimatorConfig,
    LF1Estimator,
    LF1Loss,
    generate_pairs,
    lesion_f1,
    load_estimator,
    make_pair,
    save_estimator,
    train_estimator,
)


def test_lesion_f1_counts_lesions_not_voxels():
    ref = np.zeros((20, 20, 20), bool)
    ref[2:4, 2:4, 2:4] = True  # lesion A
    ref[10:16, 10:16, 10:16] = True  # lesion B (big)
    pred = np.zeros_like(ref)
    pred[3, 3, 3] = True  # touches A by one voxel: detected (any overlap)
    pred[17:19, 1:3, 1:3] = True  # a false positive
    # LTPR = 1/2, LPPV = 1/2 -> F1 = 0.5, although the voxel Dice is tiny
    assert lesion_f1(pred, ref) == pytest.approx(0.5)
    assert lesion_f1(ref, ref) == 1.0
    assert lesion_f1(np.zeros_like(ref), ref) == 0.0
    assert lesion_f1(np.zeros_like(ref), np.zeros_like(ref)) == 1.0


def test_pairs_cover_unit_interval_evenly():
    x, y = generate_pairs(60, (24, 24, 24), seed=1, bins=10)
    assert x.shape == (60, 2, 24, 24, 24) and y.shape == (60,)
    hist = np.histogram(y, bins=10, range=(0, 1))[0]
    assert hist.min() >= 4 and hist.max() <= 8  # 6 per bin, up to bin-edge rounding
    prob, ref = x[:, 0], x[:, 1]
    assert prob.min() >= 0 and prob.max() <= 1
    # probability maps are blurred: intermediate values, not a binary mask
    assert ((prob > 0.05) & (prob < 0.95)).mean() > 0.001
    assert set(np.unique(ref)) <= {0.0, 1.0}
    # each target is the LF1 of the map at 0.5
    for i in range(0, 60, 7):
        assert y[i] == pytest.approx(lesion_f1(prob[i] >= 0.5, ref[i]))


def test_pair_in_requested_bin():
    rng = np.random.default_rng(0)
    for low, high in [(0.0, 0.1), (0.4, 0.5), (0.9, 1.0)]:
        _, _, f1 = make_pair((24, 24, 24), rng, (low, high))
        assert low <= f1 <= high


def test_estimator_learns_and_roundtrips(tmp_path):
    cfg = EstimatorConfig(patch=(20, 20, 20), features=(4, 8), hidden=16)
    model, report = train_estimator(n_train=200, n_test=60, epochs=6, seed=0, config=cfg, batch_size=16)
    assert sum(report.target_histogram) == 200
    # better than predicting the mean of a uniform target (MAE 0.25)
    assert report.mae < 0.22 and report.pearson > 0.4
    assert not any(p.requires_grad for p in model.parameters())
    save_estimator(model, report, tmp_path, cfg)
    loaded = load_estimator(tmp_path)
    x = torch.rand(2, 1, 20, 20, 20)
    r = (torch.rand(2, 1, 20, 20, 20) > 0.9).float()
    assert torch.allclose(loaded(x, r), model(x, r))
    weights = tmp_path / "lf1_estimator.safetensors"
    weights.write_bytes(weights.read_bytes()[:-4] + b"\0\0\0\0")
    with pytest.raises(ModelFileError, match="sha256"):
        load_estimator(tmp_path)


def test_lf1_loss_gradient_reaches_logits_not_estimator():
    torch.manual_seed(0)
    est = LF1Estimator((4, 8), 8)

    class Zero(torch.nn.Module):
        def forward(self, logits, target):
            return (logits * 0).sum()

    loss_fn = LF1Loss(Zero(), est, weight=0.2)
    logits = torch.randn(2, 1, 8, 8, 8, requires_grad=True)
    target = (torch.rand(2, 1, 8, 8, 8) > 0.8).float()
    loss = loss_fn(logits, target)
    with torch.no_grad():
        expected = 0.2 * (1 - est(torch.sigmoid(logits), target).mean())
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    loss.backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0
    assert all(p.grad is None for p in est.parameters())
    loss_fn.train()
    assert not est.training
