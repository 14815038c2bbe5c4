"""A configurable 3-D U-Net (Çiçek et al. 2016) as used by the seed papers.

* Hussein et al. 2023: filters 16/32/64, 3×3×3 convolutions, 2×2×2 max-pooling, batch normalisation
  after each convolution → ``UNet3D(features=(16, 32, 64), norm="batch")``.
* Cabezas & Diez 2024: filters 32/64/128/256, 3×3×3 kernels, ReLU, group norm with groups of 8
  channels, max-pooling of size 2 → ``UNet3D(features=(32, 64, 128, 256), norm="group")``.

Each level has ``convs_per_block`` (default 2) conv → norm → activation units; the decoder upsamples with a
2×2×2 transposed convolution, concatenates the skip connection and applies the same block. The last level is
the bottleneck, so the patch must be divisible by ``2 ** (len(features) - 1)``. The head is a 1×1×1
convolution to a single logit channel (apply a sigmoid for probabilities).
"""

from __future__ import annotations

import torch
from torch import nn

from LesionSegLogic.models.blocks import check_input, make_activation, make_norm


class ConvBlock(nn.Sequential):
    """``n`` × (3×3×3 conv → norm → activation)."""

    def __init__(self, cin: int, cout: int, n: int, norm: str, activation: str, group_size: int) -> None:
        layers: list[nn.Module] = []
        for i in range(n):
            layers += [
                nn.Conv3d(cin if i == 0 else cout, cout, 3, padding=1, bias=norm == "none"),
                make_norm(norm, cout, group_size),
                make_activation(activation),
            ]
        super().__init__(*layers)


class UNet3D(nn.Module):
    """3-D U-Net mapping ``(B, in_channels, D, H, W)`` to logits ``(B, 1, D, H, W)``."""

    def __init__(
        self,
        in_channels: int = 1,
        features: tuple[int, ...] = (16, 32, 64),
        norm: str = "batch",
        activation: str = "relu",
        convs_per_block: int = 2,
        group_size: int = 8,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        features = tuple(int(f) for f in features)
        if len(features) < 2 or any(f < 1 for f in features):
            raise ValueError(f"features needs at least two positive widths, got {features}")
        if in_channels < 1:
            raise ValueError(f"in_channels must be >= 1, got {in_channels}")
        self.in_channels = int(in_channels)
        self.divisor = 2 ** (len(features) - 1)
        self.encoders = nn.ModuleList()
        cin = self.in_channels
        for f in features:
            self.encoders.append(ConvBlock(cin, f, convs_per_block, norm, activation, group_size))
            cin = f
        self.pool = nn.MaxPool3d(2)
        self.ups = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for f_skip, f_low in zip(features[-2::-1], features[:0:-1], strict=True):
            self.ups.append(nn.ConvTranspose3d(f_low, f_skip, 2, stride=2))
            self.decoders.append(ConvBlock(2 * f_skip, f_skip, convs_per_block, norm, activation, group_size))
        self.dropout = nn.Dropout3d(dropout) if dropout > 0 else nn.Identity()
        self.head = nn.Conv3d(features[0], 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.in_channels, self.divisor, "UNet3D")
        skips: list[torch.Tensor] = []
        for i, encoder in enumerate(self.encoders):
            x = encoder(x if i == 0 else self.pool(x))
            skips.append(x)
        x = self.dropout(skips.pop())
        for up, decoder in zip(self.ups, self.decoders, strict=True):
            x = decoder(torch.cat([skips.pop(), up(x)], dim=1))
        return self.head(x)
