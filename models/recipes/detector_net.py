"""The plate detector: a small CenterNet-style network (RGB in, sides multiples of 16;
stride-4 maps out)."""

from __future__ import annotations

import torch
from torch import nn


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)
    )


class DetectorNet(nn.Module):
    """Outputs N x 5 x H/4 x W/4: plate-centre heatmap (sigmoid), log width and height in
    output cells, and the centre's sub-cell offset (sigmoid)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(_conv(3, 16, 2), _conv(16, 24, 2), _conv(24, 24))  # /4
        self.down8 = nn.Sequential(_conv(24, 48, 2), _conv(48, 48))  # /8
        self.down16 = nn.Sequential(_conv(48, 80, 2), _conv(80, 80), _conv(80, 80))  # /16
        self.lat8 = nn.Conv2d(48, 32, 1)
        self.lat16 = nn.Conv2d(80, 32, 1)
        self.fuse = nn.Sequential(
            nn.Conv2d(24 + 32, 32, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(True)
        )
        self.head = nn.Sequential(
            nn.Conv2d(32, 32, 3, padding=1, groups=32, bias=False),
            nn.BatchNorm2d(32),
            nn.ReLU(True),
            nn.Conv2d(32, 5, 1),
        )
        nn.init.constant_(self.head[-1].bias, 0.0)
        with torch.no_grad():
            self.head[-1].bias[0] = -4.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s4 = self.stem(x)
        s8 = self.down8(s4)
        s16 = self.down16(s8)
        up = self.lat8(s8) + nn.functional.interpolate(self.lat16(s16), scale_factor=2.0)
        up = nn.functional.interpolate(up, scale_factor=2.0)
        out = self.head(self.fuse(torch.cat([s4, up], dim=1)))
        heat = torch.sigmoid(out[:, 0:1])
        size = out[:, 1:3]
        offset = torch.sigmoid(out[:, 3:5])
        return torch.cat([heat, size, offset], dim=1)
