"""The plate normaliser: real formats accepted, others refused, confusables fixed by position."""

from __future__ import annotations

import random

import pytest

from edge_agent.anpr.normaliser import normalise
from simulators.plates.texts import random_plate, vn_plate

ACCEPTED = [
    # raw reader output, lines, canonical text, display, country, kind
    ("12C34567", 1, "12C34567", "12C-345.67", "VN", "vn"),
    ("51F15585", 1, "51F15585", "51F-155.85", "VN", "vn"),
    ("50Z1630", 1, "50Z1630", "50Z-1630", "VN", "vn"),
    ("51LD12345", 1, "51LD12345", "51LD-123.45", "VN", "vn"),
    ("29R08191", 2, "29R08191", "29R-081.91", "VN", "vn-trailer"),
    ("59L214999", 2, "59L214999", "59-L2 149.99", "VN", "vn-moto"),
    ("29MD122359", 2, "29MD122359", "29-MD1 223.59", "VN", "vn-moto"),  # electric: MĐ series
    ("桂A12345", 1, "桂A12345", "桂A·12345", "CN", "cn"),
    ("桂A4K9X1", 1, "桂A4K9X1", "桂A·4K9X1", "CN", "cn"),
    ("A4K9X1", 1, "A4K9X1", "A·4K9X1", "CN", "cn"),  # stored without the province
    ("皖AD12345", 1, "皖AD12345", "皖A·D12345", "CN", "cn-new-energy"),
    ("桂AFB1234", 1, "桂AFB1234", "桂A·FB1234", "CN", "cn-new-energy"),  # a letter second
    ("粤B12345D", 1, "粤B12345D", "粤B·12345D", "CN", "cn-new-energy"),  # a large vehicle's
    ("12c-345.67", 1, "12C34567", "12C-345.67", "VN", "vn"),  # separators and case ignored
]


@pytest.mark.parametrize(("raw", "lines", "text", "display", "country", "kind"), ACCEPTED)
def test_real_formats_are_accepted(
    raw: str, lines: int, text: str, display: str, country: str, kind: str
) -> None:
    plate = normalise(raw, lines)
    assert plate is not None
    assert (plate.text, plate.display, plate.country, plate.kind) == (text, display, country, kind)
    assert not plate.fixed


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("I2C34567", "12C34567"),  # a province number holds digits only
        ("1205456B", "12D54568"),  # position 3 is the series letter; the tail is digits
        ("12C3456O", "12C34560"),
        ("桂AI2345", "桂A12345"),  # Chinese plates have no I or O
        ("桂0O1234", "桂D01234"),
        ("桂AD1O345", "桂AD10345"),  # a new-energy plate ends in four digits...
        ("皖A1234SD", "皖A12345D"),  # ...or, a large vehicle's, starts with five
    ],
)
def test_confusables_are_swapped_only_where_the_format_decides(raw: str, text: str) -> None:
    plate = normalise(raw)
    assert plate is not None and plate.text == text and plate.fixed


@pytest.mark.parametrize(
    "raw",
    [
        *("", "hello", "123", "12345678", "ABCDEFGHIJ", "12C345", "桂", "桂A123", "1234C567"),
        "51FA44614",  # no FA series: a stray character between series and number
        "29AH51796",
        "12W34567",  # Vietnamese plates never use I, J, O, Q or W
        "30Q12345",
        "29MX122359",  # the only three-character motorbike series is MĐ and a digit
        "29MD022359",
        "沪W9N57HH",  # six after the letter, but neither new-energy form (an H read twice)
        "桂AFFUAE4",
    ],
)
def test_non_plates_are_refused(raw: str) -> None:
    assert normalise(raw) is None


def test_a_chinese_new_energy_plate_is_never_two_line() -> None:
    """A one-line plate in a thick frame is as tall as a two-line one; read as two lines it can
    come out as eight characters, which no two-line Chinese plate holds."""
    assert normalise("皖RD12345", 2) is None
    plate = normalise("皖RD12345", 1)
    assert plate is not None and plate.kind == "cn-new-energy"
    two = normalise("桂A4K9X1", 2)
    assert two is not None and two.display == "桂A·4K9X1"


def test_a_motorbike_series_letter_must_be_vietnamese() -> None:
    assert normalise("59W187515", 2) is None
    plate = normalise("59N187515", 2)
    assert plate is not None and plate.display == "59-N1 875.15"


def test_every_plate_the_renderer_makes_is_a_format_the_normaliser_accepts() -> None:
    """The renderer and the normaliser share one idea of the formats: a rendered plate's text
    comes back unchanged, with its line count (the electric MĐ series included)."""
    rng = random.Random(11)
    specs = [random_plate(rng) for _ in range(400)]
    specs += [vn_plate(rng, "vn-moto") for _ in range(200)]
    assert any("Đ" in spec.lines[0] for spec in specs), "no electric motorbike plate drawn"
    for spec in specs:
        plate = normalise(spec.text, len(spec.lines))
        assert plate is not None, spec
        assert plate.text == spec.text and not plate.fixed, spec


def test_the_reader_picks_which_digit_a_lookalike_letter_is() -> None:
    # the province number 59 read as 5S: the table alone would say 55; the reader's own
    # next-best digit for that S is 9
    assert normalise("5SF131469", 2).text == "55F131469"  # type: ignore[union-attr]
    plate = normalise("5SF131469", 2, as_digit="59F131469", as_letter="5SF131469")
    assert plate is not None and plate.text == "59F131469" and plate.fixed
    assert plate.display == "59-F1 314.69"
    # and which letter a lookalike digit is, in the series position
    plate = normalise("51834567", 1, as_digit="51834567", as_letter="51E34567")
    assert plate is not None and plate.text == "51E34567"


def test_only_lookalikes_are_ever_swapped() -> None:
    # a V is no digit, whatever the reader would make of it: 5V204212 is no plate
    assert normalise("5V204212", 2, as_digit="51204212", as_letter="5VZ04212") is None
    # alternatives of another length than the reading are ignored (the table decides)
    assert normalise("5SF131469", 2, as_digit="59", as_letter="").text == "55F131469"  # type: ignore[union-attr]


def test_a_motorbike_series_is_a_letter_and_a_digit_unless_the_reader_is_sure_of_two_letters() -> (
    None
):
    # 59-C2 read 59-CZ: two-letter series are rare, so an unsure Z is the reader's 2
    unsure = (1.0, 1.0, 0.0, 0.4, 1.0, 1.0, 1.0, 1.0, 1.0)
    plate = normalise("59CZ24729", 2, as_digit="59C224729", digit_odds=unsure)
    assert plate is not None and plate.text == "59C224729" and plate.display == "59-C2 247.29"
    # a reader sure of the second letter keeps it (59-VA 008.43 exists)
    sure = (1.0, 1.0, 0.0, 0.001, 1.0, 1.0, 1.0, 1.0, 1.0)
    plate = normalise("59VA00843", 2, as_digit="59V400843", digit_odds=sure)
    assert plate is not None and plate.text == "59VA00843"
    # without the reader's odds the reading stands as read
    assert normalise("59CZ24729", 2).text == "59CZ24729"  # type: ignore[union-attr]
    # and a letter that looks like no digit is never made one
    plate = normalise("59CK24729", 2, as_digit="59C224729", digit_odds=unsure)
    assert plate is not None and plate.text == "59CK24729"
