import pytest
from paycore.invoices.totals import Line, Totals, compute_totals, mismatches


@pytest.mark.parametrize(
    ("lines", "bps", "expected"),
    [
        ([Line(3, 10_000), Line(1, 2_550)], 1_800, Totals(32_550, 5_859, 38_409)),
        ([Line(1, 1_005)], 1_250, Totals(1_005, 126, 1_131)),  # 125.625 rounds up
        ([Line(1, 1_004)], 1_250, Totals(1_004, 126, 1_130)),  # 125.5 rounds half up
        ([Line(1, 1_003)], 1_250, Totals(1_003, 125, 1_128)),  # 125.375 rounds down
        ([Line(2, 0)], 1_800, Totals(0, 0, 0)),
        ([Line(1, 999)], 0, Totals(999, 0, 999)),
    ],
)
def test_compute_totals(lines: list[Line], bps: int, expected: Totals) -> None:
    assert compute_totals(lines, bps) == expected


def test_mismatches_name_only_the_wrong_figures() -> None:
    computed = Totals(100, 18, 118)
    assert mismatches(computed, subtotal=100, tax=18, total=118) == {}
    assert mismatches(computed) == {}
    assert mismatches(computed, tax=17, total=117) == {
        "tax": {"sent": 17, "expected": 18},
        "total": {"sent": 117, "expected": 118},
    }
