"""Indicator parsers, byte-exact: the published vectors, motion, sign, overload, checksums."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.devices.scale.mtsics import MtSicsParser
from edge_agent.devices.scale.protocols import PARSERS, make_parser
from edge_agent.devices.scale.stability import StabilityTracker
from edge_agent.devices.scale.stgs import StGsParser
from edge_agent.devices.scale.toledo import ToledoParser
from edge_agent.devices.scale.xk3190 import Xk3190A12Parser, Xk3190Parser
from simulators.scale import frames

XK_VECTOR = bytes.fromhex("02 2B 30 31 32 33 34 30 30 31 46 03")
TOLEDO_VECTOR = bytes.fromhex("02 2A 30 20 30 32 34 35 36 30 30 30 30 30 30 30 0D 26")
TOLEDO_MOTION = bytes.fromhex("02 2A 38 20 30 32 34 35 36 30 30 30 30 30 30 30 0D 1E")


# -- XK3190 format 0 ---------------------------------------------------------------------------


def test_xk3190_vector_reads_12340_kg() -> None:
    (reading,) = Xk3190Parser().feed(XK_VECTOR)
    assert reading.kg == 12340 and reading.status == "ok" and reading.raw == XK_VECTOR


def test_xk3190_accepts_the_plus_0x30_nibble_encoding() -> None:
    frame = frames.xk3190(12340, hex_letters=False)
    assert frame[9:11] == b"1?"  # 0x1F as '1' and 0x30 + 15
    assert Xk3190Parser().feed(frame)[0].kg == 12340


def test_xk3190_stability_is_computed_from_identical_readings() -> None:
    parser = Xk3190Parser(StabilityTracker(count=3))
    readings = parser.feed(frames.xk3190(24500) + frames.xk3190(24560) * 3)
    assert [r.stable for r in readings] == [False, False, False, True]


def test_xk3190_negative_and_decimals() -> None:
    assert Xk3190Parser().feed(frames.xk3190(-120))[0].kg == -120
    assert Xk3190Parser().feed(frames.xk3190(12.345, decimals=3))[0].kg == pytest.approx(12.345)


def test_xk3190_bad_checksum_is_refused_and_counted() -> None:
    parser = Xk3190Parser()
    assert parser.feed(frames.xk3190(24560, corrupt=True)) == []
    assert parser.rejected["checksum"] == 1
    assert parser.feed(frames.xk3190(24560))[0].kg == 24560


def test_xk3190_overload_shows_as_the_full_scale_figure() -> None:
    # Format 0 has no overload flag; the indicator sends its all-nines figure.
    assert Xk3190Parser().feed(frames.xk3190(999999))[0].kg == 999999


# -- XK3190-A12 ------------------------------------------------------------------------------


def test_a12_vector_and_checksum() -> None:
    (reading,) = Xk3190A12Parser().feed(b"WG004.139kg3D\r\n")
    assert reading.kg == pytest.approx(4.139) and not reading.net
    parser = Xk3190A12Parser()
    assert parser.feed(b"WG004.139kg3E\r\n") == [] and parser.rejected["checksum"] == 1


def test_a12_net_overload_and_unit_scale() -> None:
    assert Xk3190A12Parser().feed(frames.xk3190_a12(24.56, net=True))[0].net
    (over,) = Xk3190A12Parser().feed(frames.xk3190_a12(None))
    assert over.kg is None and over.status == "overload"
    tonnes = Xk3190A12Parser(unit_scale=1000).feed(frames.xk3190_a12(24.56))
    assert tonnes[0].kg == pytest.approx(24560)


# -- Toledo --------------------------------------------------------------------------------------


def test_toledo_vector_is_24560_kg_stable() -> None:
    (reading,) = ToledoParser().feed(TOLEDO_VECTOR)
    assert reading.kg == 24560 and reading.stable and not reading.net


def test_toledo_motion_bit_decides_stability() -> None:
    (reading,) = ToledoParser().feed(TOLEDO_MOTION)
    assert reading.kg == 24560 and not reading.stable


def test_toledo_checksum_is_twos_complement_of_the_7_bit_sum_not_xor() -> None:
    parser = ToledoParser()
    assert parser.feed(TOLEDO_VECTOR[:-1] + b"\x27") == []
    assert parser.rejected["checksum"] == 1


def test_toledo_negative_net_overload_and_no_checksum_variant() -> None:
    (neg,) = ToledoParser().feed(frames.toledo(-340, net=True))
    assert neg.kg == -340 and neg.net
    (over,) = ToledoParser().feed(frames.toledo(None))
    assert over.kg is None and over.status == "overload"
    plain = frames.toledo(18000, checksum=False)
    assert ToledoParser(checksum=False).feed(plain * 2)[0].kg == 18000


def test_toledo_read_from_a_7e1_line_as_8n1_ignores_the_parity_bit() -> None:
    with_parity = bytes(b | 0x80 if bin(b).count("1") % 2 else b for b in TOLEDO_VECTOR)
    assert ToledoParser().feed(with_parity)[0].kg == 24560


# -- MT-SICS and ST,GS ------------------------------------------------------------------------


def test_mtsics_replies() -> None:
    parser = MtSicsParser()
    assert parser.request() == b"SI\r\n"
    readings = parser.feed(
        b"S S     24560 kg\r\nS D     24530 kg\r\nS D    -15 kg\r\n"
        b"S +\r\nS -\r\nS I\r\nES\r\nET\r\nEL\r\n"
    )
    assert [(r.kg, r.stable, r.status) for r in readings] == [
        (24560, True, "ok"),
        (24530, False, "ok"),
        (-15, False, "ok"),
        (None, False, "overload"),
        (None, False, "underload"),
        (None, False, "busy"),
        (None, False, "error"),
        (None, False, "error"),
        (None, False, "error"),
    ]


def test_stgs_lines() -> None:
    readings = StGsParser().feed(
        b"ST,GS,+0024560kg\r\nUS,GS,+0024100kg\r\n"
        b"ST,NT,-0000340kg\r\nOL,GS,+9999999kg\r\nST,GS,+0024.56t\r\n"
    )
    assert [(r.kg, r.stable, r.net, r.status) for r in readings] == [
        (24560, True, False, "ok"),
        (24100, False, False, "ok"),
        (-340, True, True, "ok"),
        (None, False, False, "overload"),
        (24560, True, False, "ok"),
    ]
    parser = StGsParser()
    assert parser.feed(b"ST,GS,+00245X0kg\r\n") == [] and parser.rejected["content"] == 1


def test_unknown_protocol_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="toledo"):
        make_parser("yaohua-9")


# -- any bytes ------------------------------------------------------------------------------

VALID = {
    "xk3190": frames.xk3190(24560),
    "xk3190-a12": frames.xk3190_a12(24.56),
    "toledo": frames.toledo(24560),
    "toledo-nochecksum": frames.toledo(24560, checksum=False)
    + frames.toledo(24560, checksum=False),
    "mtsics": frames.mtsics(24560),
    "stgs": frames.stgs(24560),
}


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600), st.sampled_from(sorted(PARSERS)))
def test_arbitrary_bytes_never_raise(data: bytes, protocol: str) -> None:
    parser = make_parser(protocol)
    for i in range(0, len(data), 37):
        parser.feed(data[i : i + 37])


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(sorted(PARSERS)))
def test_a_valid_frame_after_any_garbage_is_still_read(garbage: bytes, protocol: str) -> None:
    parser = make_parser(protocol)
    parser.feed(garbage)
    readings = parser.feed(VALID[protocol])
    expected = 24.56 if protocol == "xk3190-a12" else 24560
    assert readings and readings[-1].kg == pytest.approx(expected)


@pytest.mark.parametrize("protocol", sorted(VALID))
def test_many_frames_in_one_large_read_are_all_read(protocol: str) -> None:
    parser = make_parser(protocol)
    assert len(parser.feed(VALID[protocol] * 400)) >= 400
    assert parser.rejected_total == 0
