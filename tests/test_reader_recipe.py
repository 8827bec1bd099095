"""The reader recipe's network surgery (needs the ``train`` extra; skipped without torch)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from edge_agent.anpr.charset import NUM_CLASSES  # noqa: E402
from models.recipes.reader_net import ReaderNet, state_widths, widen  # noqa: E402


def _trained_like() -> ReaderNet:
    """A narrow reader with non-trivial batch-norm statistics, as training leaves them."""
    torch.manual_seed(3)
    net = ReaderNet(NUM_CLASSES, (8, 12, 16, 20, 24))
    net.train()
    with torch.no_grad():
        for _ in range(3):
            net(torch.randn(16, 1, 32, 128))
    net.eval()
    return net


def test_a_widened_reader_reads_exactly_as_the_narrow_one() -> None:
    narrow = _trained_like()
    wide = widen(narrow, (12, 20, 24, 32, 40)).eval()
    assert wide.widths == (12, 20, 24, 32, 40)
    assert sum(p.numel() for p in wide.parameters()) > sum(p.numel() for p in narrow.parameters())
    x = torch.randn(4, 1, 32, 128)
    with torch.no_grad():
        gap = (wide(x) - narrow(x)).abs().max().item()
    assert gap < 1e-4


def test_a_reader_is_never_narrowed_and_its_widths_come_back_from_its_weights() -> None:
    narrow = _trained_like()
    with pytest.raises(ValueError, match="cannot narrow"):
        widen(narrow, (4, 12, 16, 20, 24))
    assert state_widths(narrow.state_dict()) == (8, 12, 16, 20, 24)
