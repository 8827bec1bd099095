"""The INT8 reader recipe (needs the ``train`` extra's nncf; skipped without it)."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from edge_agent.anpr.engine import Anpr
from simulators.plates.render import Look, render_crop
from simulators.plates.texts import random_plate
from testkit import ROOT
from testkit.processes import run_module

pytest.importorskip("nncf")


def quantize(*args: str) -> subprocess.CompletedProcess[str]:
    return run_module("models.recipes.quantize_reader", *args, timeout=600)


@pytest.mark.slow
def test_the_recipe_makes_an_int8_reader_that_reads_as_the_committed_one(tmp_path: Path) -> None:
    result = quantize("--out", str(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = json.loads((tmp_path / "plate_reader.int8.metrics.json").read_text())
    assert metrics["renders_seed_5002"]["same_reading"] >= 0.99
    assert (
        metrics["ccpd_train_half"]["int8_exact"]
        >= metrics["ccpd_train_half"]["float_exact"] - 0.005
    )
    for name in ("plate_detector.xml", "plate_detector.bin"):
        shutil.copy(ROOT / "models" / name, tmp_path / name)
    made, committed = Anpr(tmp_path, precision="int8"), Anpr(precision="int8")
    rng = random.Random("int8 recipe")
    for _ in range(20):
        crop = render_crop(random_plate(rng), rng, Look(difficulty=0.4))
        assert made.read_crop(crop).raw == committed.read_crop(crop).raw


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--reader", "models/no_such_reader.xml"], "no such IR"),
        (["--max-drop", "2"], "not a share"),
    ],
)
def test_bad_arguments_are_refused_with_the_reason(args: list[str], expected: str) -> None:
    result = quantize(*args)
    assert result.returncode == 2 and expected in result.stderr
