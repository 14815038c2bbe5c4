"""Training smoke test: every loss drives a tiny network to fit a small synthetic lesion patch on CPU."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from LesionSegLogic.losses import available_losses, build_loss


def _patch() -> tuple[torch.Tensor, torch.Tensor]:
    """Two 12³ patches: a noisy image with two bright blobs (the lesions) and their masks."""
    g = torch.Generator().manual_seed(0)
    grid = torch.stack(torch.meshgrid(*(torch.arange(12.0),) * 3, indexing="ij"))
    y = torch.zeros(2, 1, 12, 12, 12)
    for b, centre in enumerate(((4.0, 5.0, 6.0), (7.0, 6.0, 4.0))):
        r2 = sum((grid[i] - centre[i]) ** 2 for i in range(3))
        y[b, 0] = (r2 <= 6.0).float()
    x = y * 2.0 + 0.4 * torch.randn(y.shape, generator=g)
    return x, y


def _dice(logits: torch.Tensor, y: torch.Tensor) -> float:
    pred = (logits > 0).float()
    return float(2 * (pred * y).sum() / (pred.sum() + y.sum()).clamp_min(1.0))


@pytest.mark.parametrize("name", available_losses())
def test_loss_fits_a_synthetic_lesion(name: str) -> None:
    torch.manual_seed(0)
    x, y = _patch()
    net = nn.Sequential(nn.Conv3d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv3d(4, 1, 1))
    with torch.no_grad():
        net[-1].bias.fill_(-2.0)  # start predicting (almost) nothing, as real networks on sparse lesions do
    loss_fn = build_loss(name)
    optimiser = torch.optim.Adam(net.parameters(), lr=0.05)
    with torch.no_grad():
        first_loss, first_dice = float(loss_fn(net(x), y)), _dice(net(x), y)
    for _ in range(60):
        optimiser.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        logits = net(x)
        last_loss = float(loss_fn(logits, y))
    assert last_loss < first_loss
    assert _dice(logits, y) > max(first_dice, 0.8)
