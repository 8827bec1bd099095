"""The plate reader: a small all-convolutional CTC recogniser (32x128 gray in, 32 steps out)."""

from __future__ import annotations

import torch
from torch import nn


def _block(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]


class ReaderNet(nn.Module):
    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(32),
            nn.ReLU(True),  # 16 x 64
            *_block(32, 48),
            nn.MaxPool2d(2),  # 8 x 32
            *_block(48, 64),
            *_block(64, 64),
            nn.MaxPool2d((2, 1)),  # 4 x 32
            *_block(64, 96),
            *_block(96, 96),
            nn.MaxPool2d((2, 1)),  # 2 x 32
            nn.Conv2d(96, 192, (2, 1), bias=False),
            nn.BatchNorm2d(192),
            nn.ReLU(True),  # 1 x 32
        )
        self.context = nn.Sequential(
            nn.Conv1d(192, 192, 3, padding=1, bias=False),
            nn.BatchNorm1d(192),
            nn.ReLU(True),
            nn.Conv1d(192, 192, 3, padding=2, dilation=2, bias=False),
            nn.BatchNorm1d(192),
            nn.ReLU(True),
        )
        self.dropout = nn.Dropout(0.15)
        self.classifier = nn.Conv1d(192, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: N x 1 x 32 x 128 -> log-probabilities N x T(32) x classes."""
        f = self.features(x).squeeze(2)  # N x C x T
        f = f + self.context(f)
        logits = self.classifier(self.dropout(f))  # N x classes x T
        return torch.log_softmax(logits, dim=1).permute(0, 2, 1)
