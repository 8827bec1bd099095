"""The plate reader: a small all-convolutional CTC recogniser (32x128 gray in, 32 steps out)."""

from __future__ import annotations

import torch
from torch import nn

#: Channels of the stem, the 16x64 block, the 8x32 blocks, the 4x32 blocks and the sequence
#: features: the CPU recipe's default (the shipped reader, trained on a GPU, is 48/96/128/192/320;
#: ``widen`` grows a trained network into wider ones).
WIDTHS = (32, 48, 64, 96, 192)


def _block(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]


class ReaderNet(nn.Module):
    def __init__(self, num_classes: int, widths: tuple[int, int, int, int, int] = WIDTHS) -> None:
        super().__init__()
        stem, c16, c8, c4, seq = widths
        self.widths = widths
        self.features = nn.Sequential(
            nn.Conv2d(1, stem, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(stem),
            nn.ReLU(True),  # 16 x 64
            *_block(stem, c16),
            nn.MaxPool2d(2),  # 8 x 32
            *_block(c16, c8),
            *_block(c8, c8),
            nn.MaxPool2d((2, 1)),  # 4 x 32
            *_block(c8, c4),
            *_block(c4, c4),
            nn.MaxPool2d((2, 1)),  # 2 x 32
            nn.Conv2d(c4, seq, (2, 1), bias=False),
            nn.BatchNorm2d(seq),
            nn.ReLU(True),  # 1 x 32
        )
        self.context = nn.Sequential(
            nn.Conv1d(seq, seq, 3, padding=1, bias=False),
            nn.BatchNorm1d(seq),
            nn.ReLU(True),
            nn.Conv1d(seq, seq, 3, padding=2, dilation=2, bias=False),
            nn.BatchNorm1d(seq),
            nn.ReLU(True),
        )
        self.dropout = nn.Dropout(0.15)
        self.classifier = nn.Conv1d(seq, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: N x 1 x 32 x 128 -> log-probabilities N x T(32) x classes."""
        f = self.features(x).squeeze(2)  # N x C x T
        f = f + self.context(f)
        logits = self.classifier(self.dropout(f))  # N x classes x T
        return torch.log_softmax(logits, dim=1).permute(0, 2, 1)


@torch.no_grad()
def widen(trained: ReaderNet, widths: tuple[int, int, int, int, int]) -> ReaderNet:
    """A wider network that computes exactly what ``trained`` does: every weight is copied into
    the leading slice of its wider tensor; every weight that reads a new channel starts at zero
    (so no channel, old or new, sees the new ones yet, and the classifier ignores them); the
    new channels' weights on the old inputs keep their random start. Training then lets the new
    channels add what they learn."""
    if any(new < old for new, old in zip(widths, trained.widths, strict=True)):
        raise ValueError(f"cannot narrow {trained.widths} to {widths}")
    num_classes = trained.classifier.out_channels
    wide = ReaderNet(num_classes, widths)
    old_state = trained.state_dict()
    for name, tensor in wide.state_dict().items():
        old = old_state[name]
        if tensor.dim() == 0:  # num_batches_tracked
            tensor.copy_(old)
            continue
        if tensor.dim() >= 2:  # conv weight: out x in x k...
            tensor[:, old.shape[1] :] = 0  # no old or new channel reads a new input yet...
        index = tuple(slice(0, n) for n in old.shape)
        tensor[index] = old  # ...and the old channels are exactly as trained
    return wide


def state_widths(state: dict[str, torch.Tensor]) -> tuple[int, int, int, int, int]:
    """The widths of the network a state dict was saved from."""
    outs = [state[f"features.{i}.weight"].shape[0] for i in (0, 3, 7, 14, 21)]
    return (outs[0], outs[1], outs[2], outs[3], outs[4])
