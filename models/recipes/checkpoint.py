"""What both training recipes share: resumable checkpoints and the export to OpenVINO IR."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import torch
from torch import nn


def save_checkpoint(
    path: Path,
    model: nn.Module,
    optimiser: torch.optim.Optimizer,
    schedule: Any,
    step: int,
    rng: random.Random,
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "model": model.state_dict(),
        "optimiser": optimiser.state_dict(),
        "schedule": schedule.state_dict(),
        "step": step,
        "rng": rng.getstate(),
        "torch_rng": torch.get_rng_state(),
    }
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)  # a stop mid-write never leaves a torn checkpoint


def load_checkpoint(
    path: Path,
    model: nn.Module,
    optimiser: torch.optim.Optimizer,
    schedule: Any,
    rng: random.Random,
) -> int:
    """Restore everything ``save_checkpoint`` wrote; returns the step to continue from."""
    state = torch.load(path, map_location="cpu", weights_only=False)
    saved_total = state["schedule"].get("total_steps")
    if saved_total is not None and saved_total != getattr(schedule, "total_steps", saved_total):
        raise SystemExit(
            f"{path} was made for --steps {saved_total}; resume with the same --steps "
            "(or start over without --resume)"
        )
    model.load_state_dict(state["model"])
    optimiser.load_state_dict(state["optimiser"])
    schedule.load_state_dict(state["schedule"])
    rng.setstate(state["rng"])
    if "torch_rng" in state:
        torch.set_rng_state(state["torch_rng"])
    print(f"resumed at step {state['step']}")
    return int(state["step"])


def optimise(
    loss: torch.Tensor,
    model: nn.Module,
    optimiser: torch.optim.Optimizer,
    schedule: Any,
    clip: float,
) -> float:
    """One step down ``loss``: gradients clipped to norm ``clip``, the schedule advanced.
    Returns the loss's value."""
    optimiser.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimiser.step()
    schedule.step()
    return float(loss.item())


def export_ir(
    model: nn.Module, example_shape: tuple[int, ...], xml_path: Path, dynamic_batch: bool = False
) -> None:
    """``openvino.convert_model`` + FP16 ``save_model``; the IR's input is ``example_shape``
    (its batch left open with ``dynamic_batch``)."""
    import openvino as ov

    model.eval()
    ov_model = ov.convert_model(model, example_input=torch.zeros(*example_shape))
    # a dynamic batch, or the example's shape fixed in the IR (the runtime reads it from there)
    ov_model.reshape({0: [-1, *example_shape[1:]] if dynamic_batch else list(example_shape)})
    xml_path.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(ov_model, str(xml_path), compress_to_fp16=True)
    print(f"exported {xml_path}")
