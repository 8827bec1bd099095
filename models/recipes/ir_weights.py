"""Start a torch network from a committed OpenVINO IR, so fine-tuning needs no lost checkpoint.

The IR keeps every convolution with its batch norm folded in (weight times scale, one bias per
channel). Loading it back: each convolution gets the folded weight, and each batch norm is set
up to pass that bias through unchanged in eval mode while holding the real per-channel
statistics of its input, measured on calibration batches. Train-mode batch statistics then
match the running ones, so the first fine-tuning steps start from the shipped behaviour instead
of a reshuffled one. ``max_difference`` checks the round trip against the IR itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn


def _constant(node: Any) -> np.ndarray:
    """The value behind a weight or bias input (an openvino Node, through FP16 ``Convert``s)."""
    while node.get_type_name() == "Convert":
        node = node.input_value(0).get_node()
    if node.get_type_name() != "Constant":
        raise ValueError(f"expected a constant, found {node.get_type_name()}")
    return np.asarray(node.get_data(), dtype=np.float32)


def ir_convolutions(xml_path: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """(weight, bias) of each convolution of the IR, in graph order."""
    import openvino as ov

    model = ov.Core().read_model(str(xml_path))
    found = []
    for op in model.get_ordered_ops():
        if op.get_type_name() != "Convolution":
            continue
        weight = _constant(op.input_value(1).get_node())
        adds = [
            target.get_node()
            for target in op.output(0).get_target_inputs()
            if target.get_node().get_type_name() == "Add"
        ]
        if len(adds) != 1:
            raise ValueError(f"{xml_path}: convolution {op.get_friendly_name()} has no bias add")
        add = adds[0]
        other = [add.input_value(i).get_node() for i in range(2)]
        bias_node = other[1] if other[0].get_friendly_name() == op.get_friendly_name() else other[0]
        found.append((weight, _constant(bias_node).reshape(-1)))
    return found


def _conv_bn_pairs(model: nn.Module) -> list[tuple[nn.Module, nn.Module | None]]:
    modules = list(model.modules())
    pairs: list[tuple[nn.Module, nn.Module | None]] = []
    for i, module in enumerate(modules):
        if isinstance(module, (nn.Conv1d, nn.Conv2d)):
            follower = modules[i + 1] if i + 1 < len(modules) else None
            bn = follower if isinstance(follower, (nn.BatchNorm1d, nn.BatchNorm2d)) else None
            pairs.append((module, bn))
    return pairs


@torch.no_grad()
def load_ir_weights(model: nn.Module, xml_path: Path, calibration: torch.Tensor) -> None:
    """Fill ``model`` (the network the IR was exported from) with the IR's weights."""
    convs = ir_convolutions(xml_path)
    pairs = _conv_bn_pairs(model)
    if len(convs) != len(pairs):
        raise ValueError(f"{xml_path} has {len(convs)} convolutions, the network {len(pairs)}")
    stats: dict[int, torch.Tensor] = {}
    hooks = []
    for k, ((weight, bias), (conv, bn)) in enumerate(zip(convs, pairs, strict=True)):
        if tuple(conv.weight.shape) != weight.shape:
            raise ValueError(
                f"{xml_path}: convolution {k} is {weight.shape}, the network's "
                f"{tuple(conv.weight.shape)}"
            )
        conv.weight.copy_(torch.from_numpy(weight))
        if bn is None:
            conv.bias.copy_(torch.from_numpy(bias))
            continue
        bn.running_mean.zero_()
        bn.running_var.fill_(1.0 - bn.eps)
        bn.weight.fill_(1.0)
        bn.bias.copy_(torch.from_numpy(bias))
        hooks.append(
            conv.register_forward_hook(
                lambda _m, _i, out, k=k: stats.__setitem__(k, out.detach().clone())
            )
        )
    model.eval()
    model(calibration)
    for hook in hooks:
        hook.remove()
    for k, (_conv, bn) in enumerate(pairs):
        if bn is None:
            continue
        out = stats[k]
        dims = [d for d in range(out.dim()) if d != 1]
        mean = out.mean(dim=dims)
        var = out.var(dim=dims, unbiased=False)
        bias = bn.bias.clone()
        bn.running_mean.copy_(mean)
        bn.running_var.copy_(var)
        bn.weight.copy_(torch.sqrt(var + bn.eps))
        bn.bias.copy_(mean + bias)


def max_difference(model: nn.Module, xml_path: Path, lines: torch.Tensor) -> float:
    """Largest gap between the torch model and the IR on ``lines`` (log-probabilities)."""
    import openvino as ov

    compiled = ov.Core().compile_model(str(xml_path), "CPU")
    model.eval()
    with torch.no_grad():
        ours = model(lines).numpy()
    theirs = compiled(lines.numpy())[0]
    return float(np.abs(ours - theirs).max())


def ir_widths(xml_path: Path) -> tuple[int, int, int, int, int]:
    """The widths (``reader_net.WIDTHS``) of the reader network an IR was exported from."""
    outs = [weight.shape[0] for weight, _ in ir_convolutions(xml_path)]
    if len(outs) != 10:
        raise ValueError(f"{xml_path} has {len(outs)} convolutions, a reader has 10")
    return (outs[0], outs[1], outs[2], outs[4], outs[6])
