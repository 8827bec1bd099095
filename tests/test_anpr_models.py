"""The committed OpenVINO models read plates of every layout, crop and full frame, on the CPU."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from edge_agent.anpr.engine import Anpr
from edge_agent.anpr.region import Region
from edge_agent.anpr.vote import PlateVote
from simulators.plates.render import Look, draw_plate, render_crop
from simulators.plates.scene import render_scene
from simulators.plates.texts import cn_plate, spec_for, vn_plate
from testkit import ROOT
from testkit.processes import run_module

LAYOUTS = {
    "vn-one-line": lambda rng: spec_for("29C-123.45"),
    "vn-truck": lambda rng: vn_plate(rng, "vn-truck"),
    "vn-trailer": lambda rng: vn_plate(rng, "vn-trailer"),
    "vn-two-line": lambda rng: spec_for("51F-155.85", two_line=True),
    "vn-moto": lambda rng: vn_plate(rng, "vn-moto"),
    "cn-blue": lambda rng: cn_plate(rng, "cn-blue", "桂"),
    "cn-yellow": lambda rng: cn_plate(rng, "cn-yellow", "桂"),
    "cn-two-line": lambda rng: spec_for("桂A4K9X1", two_line=True),
    "cn-green": lambda rng: cn_plate(rng, "cn-green", "桂"),
}


@pytest.fixture(scope="module")
def anpr() -> Anpr:
    return Anpr()


@pytest.fixture(scope="module")
def anpr_int8() -> Anpr:
    return Anpr(precision="int8")


@pytest.mark.parametrize("precision", ["float", "int8"])
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_the_reader_reads_a_rendered_plate_of_every_layout(
    anpr: Anpr, anpr_int8: Anpr, layout: str, precision: str
) -> None:
    anpr = anpr_int8 if precision == "int8" else anpr
    assert anpr.precision == precision
    rng = random.Random(f"layout-{layout}")
    right = 0
    misses = []
    for _ in range(6):
        spec = LAYOUTS[layout](rng)
        read = anpr.read_crop(render_crop(spec, rng, Look(difficulty=0.3, night_share=0)))
        got = read.plate.text if read.plate else read.raw
        if got == spec.text:
            right += 1
            assert read.lines == len(spec.lines)
            assert 0 < read.confidence <= 1
        else:
            misses.append((spec.text, got))
    assert right >= 5, f"{layout}: misread {misses}"


def test_a_truck_frame_is_found_and_read(anpr: Anpr) -> None:
    assert anpr.has_detector
    rng = random.Random("frames")
    found = read_right = 0
    for _ in range(10):
        scene = render_scene(rng, night=False)
        results = anpr.read_frame(scene.image)
        if results:
            found += 1
            x1, y1, x2, y2 = results[0].bbox or (0, 0, 0, 0)
            bx1, by1, bx2, by2 = scene.boxes[0]
            assert x1 <= (bx1 + bx2) / 2 <= x2 and y1 <= (by1 + by2) / 2 <= y2
            read_right += any(
                (r.plate.text if r.plate else r.raw) == scene.specs[0].text for r in results
            )
    assert found >= 9 and read_right >= 7


def test_votes_across_frames_settle_on_the_plate(anpr: Anpr) -> None:
    rng = random.Random("vote")
    spec = spec_for("桂A12345")
    vote = PlateVote(agree=3)
    for _ in range(8):
        vote.add(anpr.read_crop(render_crop(spec, rng, Look(difficulty=0.5, night_share=0))))
        if vote.decided:
            break
    leader = vote.leader()
    assert vote.decided and leader is not None and leader.text == "桂A12345"
    assert leader.display == "桂A·12345" and leader.country == "CN"


def test_the_cli_prints_one_json_line_per_image(tmp_path: Path) -> None:
    rng = random.Random("cli")
    crop = tmp_path / "crop.png"
    spec = spec_for("12C-345.67")
    cv2.imwrite(str(crop), render_crop(spec, rng, Look(difficulty=0.2, night_share=0))[..., ::-1])
    frame = tmp_path / "frame.jpg"
    cv2.imwrite(str(frame), render_scene(rng, spec=spec, night=False).image[..., ::-1])
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 not really")
    result = run_module("cuakhau", "anpr", "read", "--json", "--crop", str(crop), str(bad))
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 1  # one file failed
    assert lines[0]["plates"][0]["text"] == "12C34567"
    assert lines[0]["plates"][0]["display"] == "12C-345.67"
    assert lines[0]["plates"][0]["country"] == "VN" and lines[0]["ms"] > 0
    assert lines[1]["file"] == str(bad) and "error" in lines[1]
    full = run_module("cuakhau", "anpr", "read", "--json", str(frame))
    plates = json.loads(full.stdout)["plates"]
    assert plates and plates[0]["text"] == "12C34567" and len(plates[0]["bbox"]) == 4
    for reader in ("float", "int8"):  # the default is "auto", as a gate box's config
        forced = run_module("cuakhau", "anpr", "read", "--json", "--reader", reader, str(frame))
        assert json.loads(forced.stdout)["plates"][0]["text"] == "12C34567"
    wrong = run_module("cuakhau", "anpr", "read", "--reader", "int4", str(frame))
    assert wrong.returncode == 2 and "invalid choice: 'int4'" in wrong.stderr


def test_a_reader_precision_that_does_not_exist_is_refused() -> None:
    with pytest.raises(ValueError, match="'int4': not one of float, int8, auto"):
        Anpr(precision="int4")


def test_auto_runs_int8_only_where_the_float_reader_would_run_in_f32(tmp_path: Path) -> None:
    import openvino as ov

    has_bf16 = "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    assert Anpr(precision="auto").precision == ("float" if has_bf16 else "int8")
    # a models folder without the INT8 file: the float reader, whatever the CPU
    for name in ("plate_reader.xml", "plate_reader.bin"):
        (tmp_path / name).write_bytes((ROOT / "models" / name).read_bytes())
    assert Anpr(tmp_path, precision="auto").precision == "float"


@pytest.mark.parametrize(
    ("plate", "two_line"), [("桂C88888", False), ("51F-155.85", False), ("62C-999.00", True)]
)
def test_a_crop_whose_shape_could_be_either_layout_is_read_right(
    anpr: Anpr, plate: str, two_line: bool
) -> None:
    """A detector box with margins around a tilted one-line plate is as tall as a two-line one
    (height/width 0.4, inside the ambiguous band); five looks of each plate, all read right."""
    spec = spec_for(plate, two_line=two_line)
    for look in range(5):
        face = draw_plate(spec, random.Random(f"{plate}/{look}"), px_per_mm=0.5)
        h, w = face.shape[:2]
        pad = max(0, (int(w * 0.4) - h) // 2)
        crop = cv2.copyMakeBorder(face, pad, pad, 4, 4, cv2.BORDER_CONSTANT, value=(90, 90, 95))
        assert 0.36 <= crop.shape[0] / crop.shape[1] <= 0.62
        read = anpr.read_crop(crop)
        assert read.plate is not None and read.plate.text == spec.text, (look, read.raw)
        assert read.lines == len(spec.lines)


def _tilted_in_a_wide_margin(crop: np.ndarray, degrees: float) -> np.ndarray:
    h, w = crop.shape[:2]
    framed = cv2.copyMakeBorder(crop, h // 4, h // 4, w // 10, w // 10, cv2.BORDER_REPLICATE)
    fh, fw = framed.shape[:2]
    m = cv2.getRotationMatrix2D((fw / 2, fh / 2), degrees, 1.0)
    return cv2.warpAffine(framed, m, (fw, fh), borderMode=cv2.BORDER_REPLICATE)


def test_a_second_look_reads_loosely_framed_tilted_plates(anpr: Anpr) -> None:
    """Plates 6 degrees off level inside a wide margin (a loose detector box): the engine's
    second look (tighter and tilted crops, weighed together) reads them at least as well as one
    look, and nearly all of them right; a clear plate is read once."""
    once = Anpr(second_look=False)
    right = right_once = total = 0
    misses = []
    before = anpr.second_looks
    for text, two_line in (("29C-123.45", False), ("51F-155.85", True), ("桂A4K9X1", False)):
        spec = spec_for(text, two_line=two_line)
        for seed in range(12):
            rng = random.Random(f"look-{seed}")
            crop = render_crop(spec, rng, Look(difficulty=0.3, night_share=0))
            tilted = _tilted_in_a_wide_margin(crop, 6)
            got = anpr.read_crop(tilted)
            total += 1
            if got.plate is not None and got.plate.text == spec.text:
                right += 1
            else:
                misses.append((spec.text, got.plate.text if got.plate else got.raw))
            first = once.read_crop(tilted)
            right_once += first.plate is not None and first.plate.text == spec.text
    assert anpr.second_looks > before
    assert once.second_looks == 0
    assert right >= right_once, f"second look {right}/{total}, one look {right_once}/{total}"
    assert right >= 30, f"{right}/{total} read right; misread {misses}"

    clear = render_crop(spec_for("29C-123.45"), random.Random(1), Look(difficulty=0.2))
    looked = anpr.second_looks
    read = anpr.read_crop(clear)
    assert read.plate is not None and read.plate.text == "29C12345"
    assert read.confidence >= 0.9 and anpr.second_looks == looked


def test_a_far_plate_is_looked_at_again_however_sure(anpr: Anpr) -> None:
    """A crop under 80 px wide (4-8 px a character) gets its second looks even when the first
    reading is sure: sure wrong readings gather there. A clear far plate still reads right."""
    spec = spec_for("29C-123.45")
    far = render_crop(spec, random.Random(2), Look(difficulty=0.2, small_share=1.0, night_share=0))
    assert far.shape[1] < 80
    looked = anpr.second_looks
    read = anpr.read_crop(far)
    assert anpr.second_looks == looked + 1
    assert read.plate is not None and read.plate.text == spec.text


FAR = (1900, 1100, 2860, 1640)


def _far_scene(rng: random.Random) -> tuple[np.ndarray, tuple[int, int, int, int], str]:
    """A truck 960x540 in a corner of a 3840x2160 frame (``FAR``): its plate 7-18 px wide when the
    whole frame is seen at the detector's input, 27-75 px when only the truck's part is."""
    scene = render_scene(rng, size=(960, 540), night=False)
    frame = np.full((2160, 3840, 3), 90, np.uint8)
    x0, y0 = FAR[:2]
    frame[y0 : y0 + 540, x0 : x0 + 960] = scene.image
    bx1, by1, bx2, by2 = scene.boxes[0]
    return frame, (x0 + bx1, y0 + by1, x0 + bx2, y0 + by2), scene.specs[0].text


def test_a_lane_region_finds_plates_too_small_in_the_whole_frame(anpr: Anpr) -> None:
    rng = random.Random("region")
    whole = in_region = read = 0
    for _ in range(6):
        frame, (bx1, by1, bx2, by2), text = _far_scene(rng)
        cx, cy = (bx1 + bx2) / 2, (by1 + by2) / 2

        def hit(results: list[Any], cx: float = cx, cy: float = cy) -> bool:
            return any(
                r.bbox and r.bbox[0] <= cx <= r.bbox[2] and r.bbox[1] <= cy <= r.bbox[3]
                for r in results
            )

        whole += hit(anpr.read_frame(frame))
        found = anpr.read_frame(frame, region=FAR)
        in_region += hit(found)  # boxes come back in the whole frame's coordinates
        read += any((r.plate.text if r.plate else r.raw) == text for r in found)
    assert in_region >= 5 and read >= 4 and in_region > whole
    with pytest.raises(ValueError, match="region"):
        anpr.read_frame(frame, region=(10, 10, 20, 20))


def test_a_lane_polygon_keeps_the_plates_inside_it_and_only_those(anpr: Anpr) -> None:
    # two lanes split a 1280x720 view along its diagonal; the plate lies wholly in one of them
    upper = Region.of_polygon([[0, 0], [1280, 0], [0, 720]])
    lower = Region.of_polygon([[1280, 0], [1280, 720], [0, 720]])
    rng = random.Random("polygon")
    checked = 0
    while checked < 3:
        scene = render_scene(rng, night=False)
        x1, y1, x2, y2 = scene.boxes[0]
        corners = [upper.holds((x, y, x, y)) for x in (x1, x2) for y in (y1, y2)]
        if len(set(corners)) > 1 or not anpr.read_frame(scene.image):
            continue  # the plate straddles the lanes' border, or is not found at all
        mine, theirs = (upper, lower) if corners[0] else (lower, upper)
        text = scene.specs[0].text
        assert any(
            (r.plate.text if r.plate else r.raw) == text
            for r in anpr.read_frame(scene.image, region=mine)
        )
        assert not anpr.read_frame(scene.image, region=theirs)
        checked += 1


def test_the_camera_probe_saves_a_snapshot_with_the_region_and_the_plates(tmp_path: Path) -> None:
    frame, _, text = _far_scene(random.Random("probe"))
    folder = tmp_path / "camera"
    folder.mkdir()
    cv2.imwrite(str(folder / "frame.png"), frame[..., ::-1])
    snapshot = tmp_path / "snap.jpg"
    done = run_module(
        "cuakhau",
        "probe",
        "camera",
        str(folder),
        "--region",
        ",".join(str(v) for v in FAR),
        "--out",
        str(snapshot),
    )
    assert done.returncode == 0, done.stderr
    readings = [json.loads(line) for line in done.stdout.splitlines()]
    assert readings and any(r.get("text") == text or r.get("raw") == text for r in readings), (
        readings
    )
    image = cv2.imread(str(snapshot))
    assert image is not None and image.shape[:2] == (2160, 3840)
    # the same lane as a polygon (a technician's four corners)
    corners = "1900,1100 2860,1100 2860,1640 1900,1640"
    done = run_module(
        "cuakhau", "probe", "camera", str(folder), "--region", corners, "--out", str(snapshot)
    )
    assert done.returncode == 0, done.stderr
    assert any(json.loads(line).get("text") == text for line in done.stdout.splitlines())
    bad = run_module("cuakhau", "probe", "camera", str(folder), "--region", "1,2,3")
    assert bad.returncode == 2 and "x1,y1,x2,y2" in bad.stderr
    for corners in ("1,2 3,4", "1,2 300,4 5"):  # too few corners; a corner without its y
        bad = run_module("cuakhau", "probe", "camera", str(folder), "--region", corners)
        assert bad.returncode == 2 and "polygon" in bad.stderr, bad.stderr
