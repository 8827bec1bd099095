"""A lane's region of interest: a rectangle or a polygon in the box's config, what the detector
is shown of the frame, and which plates are the lane's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge_agent.anpr.region import Region
from edge_agent.config import load_config
from protocol.errors import ConfigError

LANE = (
    'device = "hn-b1"\ngate = "CKHN"\n[[lanes]]\n{region}\n[lanes.barrier]\nurl = "/dev/null"\n'
    '[lanes.policy]\ncheckpoint = "barrier-in"\nkind = "barrier-in"\n'
)


def _config(tmp_path: Path, region: str) -> Path:
    path = tmp_path / "box.toml"
    path.write_text(LANE.format(region=region), encoding="utf-8")
    return path


def test_a_polygon_region_blanks_what_lies_outside_it_and_keeps_only_its_plates() -> None:
    frame = np.full((720, 1280, 3), 200, np.uint8)
    region = Region.of_polygon([[400, 300], [900, 300], [1100, 700], [200, 700]])
    assert region.box == (200, 300, 1100, 700)
    part, corner = region.cut(frame)
    assert corner == (200, 300) and part.shape == (400, 900, 3)
    assert part[5, 5].tolist() == [0, 0, 0]  # top-left corner lies outside the lane
    assert part[200, 450].tolist() == [200, 200, 200]
    assert frame.min() == 200  # the camera's frame itself is untouched
    assert region.holds((600, 600, 700, 630))
    assert not region.holds((210, 310, 260, 330))  # inside the rectangle, outside the lane


def test_a_rectangle_region_holds_what_is_inside_it() -> None:
    region = Region.rectangle(100, 100, 500, 300)
    assert region.holds((150, 150, 250, 180)) and not region.holds((520, 150, 600, 180))
    with pytest.raises(ValueError, match="x2 - x1 >= 32"):
        Region.rectangle(100, 100, 110, 300)


def test_the_box_config_takes_a_rectangle_or_a_polygon(tmp_path: Path) -> None:
    lane = load_config(_config(tmp_path, "region = [640, 360, 1920, 1080]")).lanes[0]
    assert lane.detector_region == Region((640, 360, 1920, 1080))
    polygon = "region_polygon = [[400, 300], [900, 300], [1100, 700], [200, 700]]"
    lane = load_config(_config(tmp_path, polygon)).lanes[0]
    assert lane.detector_region is not None and lane.detector_region.polygon is not None
    assert load_config(_config(tmp_path, "")).lanes[0].detector_region is None


@pytest.mark.parametrize(
    ("region", "message"),
    [
        ("region = [10, 10, 20, 20]", "x2 - x1 >= 32"),
        ("region_polygon = [[0, 0], [100, 0]]", "region_polygon"),
        ("region_polygon = [[0, 0], [100, 0], [200, 0]]", "less than 32x16"),
        ("region_polygon = [[0, 0, 1], [100, 0], [0, 100]]", "region_polygon"),
        (
            "region = [0, 0, 640, 360]\nregion_polygon = [[0, 0], [100, 0], [0, 100]]",
            "not both",
        ),
    ],
)
def test_a_region_that_cannot_be_looked_at_is_refused_with_the_reason(
    tmp_path: Path, region: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(_config(tmp_path, region))
