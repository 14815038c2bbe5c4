"""Patch-wise 3-D DenseNet of Hashemi et al. 2018 (section II-A-2, Fig. 2), after Bui et al.'s
3D DenseSeg.

* three initial 3×3×3 convolutional layers;
* five dense blocks with growth rate 12, each of four layers: a 1×1×1 bottleneck convolution (to
  ``4 × growth`` maps) followed by a 3×3×3 convolution (``growth`` maps); every layer sees the concatenation
  of the block input and all earlier layers (skip connections between all layers of a block);
* every dense block but the last is followed by a transition block: 1×1×1 convolution + 2×2×2 max-pooling
  (down-sampling of stride two), so a patch must be divisible by 16;
* each convolution is followed by batch normalisation and ReLU; dropout 0.2 only after the 3×3×3 convolutions
  inside dense blocks;
* the output of every dense block is upsampled to the input resolution by a transposed convolution, the
  results are concatenated and a final 1×1×1 convolution gives one channel (the paper's sigmoid is applied by
  the loss / at inference, so the model returns logits).

The paper does not give the width of the initial convolutions, the transition compression or the number of
maps of the upsampling deconvolutions; they are parameters here (defaults 24, 0.5 and 12).
"""

from __future__ import annotations

import torch
from torch import nn

from LesionSegLogic.models.blocks import check_input


def _conv_bn_relu(cin: int, cout: int, kernel: int) -> list[nn.Module]:
    conv = nn.Conv3d(cin, cout, kernel, padding=kernel // 2, bias=False)
    return [conv, nn.BatchNorm3d(cout), nn.ReLU(True)]


class DenseLayer(nn.Module):
    """Bottlenecked dense layer: 1×1×1 conv → BN → ReLU → 3×3×3 conv → BN → ReLU → dropout.

    The output is the input with the new ``growth`` maps concatenated."""

    def __init__(self, cin: int, growth: int, bottleneck: int, dropout: float) -> None:
        super().__init__()
        self.body = nn.Sequential(
            *_conv_bn_relu(cin, bottleneck * growth, 1),
            *_conv_bn_relu(bottleneck * growth, growth, 3),
            nn.Dropout3d(dropout) if dropout > 0 else nn.Identity(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.body(x)], dim=1)


class DenseNet3D(nn.Module):
    """Hashemi et al. 2018's patch-wise DenseNet mapping ``(B, in_channels, D, H, W)`` to logits ``(B, 1, D, H, W)``."""

    def __init__(
        self,
        in_channels: int = 1,
        init_features: int = 24,
        growth: int = 12,
        n_blocks: int = 5,
        layers_per_block: int = 4,
        bottleneck: int = 4,
        compression: float = 0.5,
        up_features: int = 12,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        if in_channels < 1 or n_blocks < 1 or layers_per_block < 1 or growth < 1:
            raise ValueError("in_channels, n_blocks, layers_per_block and growth must be >= 1")
        if not 0 < compression <= 1:
            raise ValueError(f"compression must be in (0, 1], got {compression}")
        self.in_channels = int(in_channels)
        self.divisor = 2 ** (n_blocks - 1)
        self.stem = nn.Sequential(
            *_conv_bn_relu(in_channels, init_features, 3),
            *_conv_bn_relu(init_features, init_features, 3),
            *_conv_bn_relu(init_features, init_features, 3),
        )
        self.blocks = nn.ModuleList()
        self.transitions = nn.ModuleList()
        self.ups = nn.ModuleList()
        channels = init_features
        for b in range(n_blocks):
            layers = []
            for _ in range(layers_per_block):
                layers.append(DenseLayer(channels, growth, bottleneck, dropout))
                channels += growth
            self.blocks.append(nn.Sequential(*layers))
            scale = 2**b
            if scale == 1:
                self.ups.append(nn.Sequential(*_conv_bn_relu(channels, up_features, 1)))
            else:
                self.ups.append(
                    nn.Sequential(
                        nn.ConvTranspose3d(channels, up_features, scale, stride=scale, bias=False),
                        nn.BatchNorm3d(up_features),
                        nn.ReLU(True),
                    )
                )
            if b < n_blocks - 1:
                out = max(1, int(channels * compression))
                self.transitions.append(nn.Sequential(*_conv_bn_relu(channels, out, 1), nn.MaxPool3d(2)))
                channels = out
        self.head = nn.Conv3d(n_blocks * up_features, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.in_channels, self.divisor, "DenseNet3D")
        x = self.stem(x)
        outputs = []
        for b, block in enumerate(self.blocks):
            x = block(x)
            outputs.append(self.ups[b](x))
            if b < len(self.transitions):
                x = self.transitions[b](x)
        return self.head(torch.cat(outputs, dim=1))
