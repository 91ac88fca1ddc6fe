"""The load and progress maths against hand-worked numbers."""

from __future__ import annotations

import datetime as dt

import pytest

from app.analytics import metrics as m


def test_session_load_is_rpe_times_minutes() -> None:
    assert m.session_load(6, 45) == 270
    assert m.session_load(None, 45) == 0


def test_one_rep_max_estimates() -> None:
    # 100 kg x 5: Epley 100 x (1 + 5/30) = 116.67; Brzycki 100 x 36/32 = 112.5
    assert m.epley(100, 5) == pytest.approx(116.667, abs=1e-3)
    assert m.brzycki(100, 5) == pytest.approx(112.5)
    assert m.epley(60, 1) == pytest.approx(62.0) and m.brzycki(60, 1) == pytest.approx(60.0)
    # Only sets of 10 reps or fewer, with added load.
    assert m.epley(100, 11) is None and m.brzycki(100, 12) is None
    assert m.epley(0, 5) is None and m.brzycki(-10, 5) is None and m.epley(50, 0) is None


def test_monotony_and_strain_by_hand() -> None:
    # Loads 300, 0, 300, 0, 300, 0, 0: mean 128.571; variance 3 x 300^2 / 7 - 128.571^2 = 22,040.8,
    # SD 148.461 -> monotony 0.866; strain = weekly load 900 x 0.866 = 779.4
    week = [300.0, 0, 300, 0, 300, 0, 0]
    result = m.monotony(week)
    assert result.monotony == pytest.approx(0.866, abs=1e-3)
    assert result.strain == pytest.approx(779.4, abs=0.1)
    # The same load every day has no spread: undefined, not infinite.
    assert m.monotony([100.0] * 7) == m.Monotony(None, None)
    assert m.monotony([0.0] * 7) == m.Monotony(None, None)
    with pytest.raises(ValueError, match="seven"):
        m.monotony([1.0, 2.0])


def test_acute_chronic_ratio_by_hand() -> None:
    steady = [100.0] * 28  # acute 700, chronic 2800/4 = 700
    assert m.acwr(steady) == 1.0
    spike = [50.0] * 21 + [150.0] * 7  # acute 1050, chronic (1050 + 1050)/4 = 525
    assert m.acwr(spike) == 2.0
    assert m.acwr([0.0] * 28) is None
    first_week_only = [0.0] * 21 + [100.0] * 7  # acute 700, chronic 175: a gap reads as a spike
    assert m.acwr(first_week_only) == 4.0


def test_percent_change_and_weeks() -> None:
    assert m.percent_change(20, 23) == 15.0
    assert m.percent_change(0, 10) is None
    assert m.week_start(dt.date(2026, 11, 26)) == dt.date(2026, 11, 23)
    daily = m.daily_totals(
        [(dt.date(2026, 11, 23), 5.0), (dt.date(2026, 11, 23), 2.0), (dt.date(2026, 12, 9), 1.0)],
        dt.date(2026, 11, 23),
        dt.date(2026, 11, 25),
    )
    assert daily == [7.0, 0.0, 0.0]
