"""Pure demand, targeting, difference-in-differences, H3 and job-runner functions."""

from __future__ import annotations

import h3
import numpy as np
import pandas as pd
import pytest

from geo.analysis.demand import (
    parse_profile,
    predicted_demand,
    segment_benchmarks,
    targeting_list,
    unmet_demand,
)
from geo.analysis.evaluation import comparable_controls, difference_in_differences
from geo.analysis.h3grid import cell_centres_bng, cell_neighbour_pairs, cell_polygons, points_to_cells
from geo.analysis.jobs import JobQueueFull, JobRunner, UnknownJob
from geo.errors import InvalidRequest


def _long(matrix: dict[str, dict[str, float]], value: str) -> pd.DataFrame:
    rows = [(a, s, v) for a, segs in matrix.items() for s, v in segs.items()]
    return pd.DataFrame(rows, columns=["area_code", "segment_code", value])


HH = _long({"a": {"X": 100, "Y": 50}, "b": {"X": 100, "Y": 50}, "c": {"X": 100, "Y": 10}}, "households")
USE = _long({"a": {"X": 50, "Y": 5}, "b": {"X": 20, "Y": 10}, "c": {"X": 10, "Y": 5}}, "target")


def test_benchmark_is_the_percentile_of_area_rates():
    bench = segment_benchmarks(HH, USE, 100, min_households=20)
    # X: rates 0.5, 0.2, 0.1 -> max 0.5; Y: c has 10 households (< 20) and does not vote.
    assert bench.to_dict() == pytest.approx({"X": 0.5, "Y": 0.2})
    assert segment_benchmarks(HH, USE, 50, min_households=20)["X"] == pytest.approx(0.2)


def test_unmet_demand_fills_each_segment_gap_without_offsets():
    out = unmet_demand(HH, USE, 100, min_households=20)
    # a: X at benchmark, Y 50*0.2-5 = 5; b: X 50-20 = 30, Y at benchmark; c: X 40, Y 2-5 < 0 -> 0.
    assert out["unmet"].to_dict() == pytest.approx({"a": 5.0, "b": 30.0, "c": 40.0})
    assert (out["potential"] == out["observed"] + out["unmet"]).all()
    only_y = unmet_demand(HH, USE, 100, min_households=20, segments=["Y"])
    assert only_y["unmet"].to_dict() == pytest.approx({"a": 5.0, "b": 0.0, "c": 0.0})
    with pytest.raises(InvalidRequest, match="`percentile`"):
        unmet_demand(HH, USE, 0)


def test_targeting_ranks_by_gap_and_orders_channels_by_unmet_demand():
    portraits = pd.DataFrame(
        {
            "segment_code": ["X", "Y"],
            "name": ["Ex", "Why"],
            "preferred_channels": [["web"], ["phone", "web"]],
            "preferred_media": [["email"], ["radio"]],
        }
    )
    out = targeting_list(HH, USE, ["X", "Y"], portraits, percentile=100, min_households=20)
    assert list(out["area_code"]) == ["c", "b", "a"]
    assert out.loc[out["area_code"] == "a", "channels"].item() == ["phone", "web"]
    assert out.loc[out["area_code"] == "c", "channels"].item() == ["web"]
    assert out.loc[out["area_code"] == "c", "main_segment_name"].item() == "Ex"


def test_profiles_parse_from_records_mappings_and_csv():
    expected = {"X": 0.2, "Y": 0.05}
    assert parse_profile(expected).to_dict() == expected
    assert (
        parse_profile([{"segment_code": "X", "rate": 0.2}, {"segment_code": "Y", "rate": 0.05}]).to_dict()
        == expected
    )
    assert parse_profile("segment,rate\nX,0.2\nY,0.05\n").to_dict() == expected
    with pytest.raises(InvalidRequest, match="more than once"):
        parse_profile("segment_code,rate\nX,0.2\nX,0.3\n")
    with pytest.raises(InvalidRequest, match="not a number"):
        parse_profile("segment_code,rate\nX,lots\n")


def test_predicted_demand_and_interval():
    pred = predicted_demand(HH, {"X": 0.1, "Y": 1.0})
    assert pred["predicted"].to_dict() == pytest.approx({"a": 60.0, "b": 60.0, "c": 20.0})
    assert (pred["predicted_low"] < pred["predicted"]).all() and (
        pred["predicted"] < pred["predicted_high"]
    ).all()
    partial = predicted_demand(HH, {"X": 0.1})
    assert partial["coverage"]["a"] == pytest.approx(100 / 150)
    assert partial.attrs["unknown_segments"] == ["Y"]


def test_difference_in_differences_recovers_a_known_effect():
    rng = np.random.default_rng(11)
    n = 60
    hh = rng.integers(100, 300, n)
    base = rng.uniform(0.1, 0.3, n)  # events per household per year
    treated = np.arange(n) < 20
    before = rng.poisson(hh * base)
    # Everyone rises 10 % (a district-wide trend); treated areas gain 50 per 1000 households.
    after = rng.poisson(hh * (base * 1.1 + np.where(treated, 0.05, 0.0)))
    areas = pd.DataFrame(
        {"households": hh, "before": before, "after": after}, index=[f"o{i}" for i in range(n)]
    )
    codes = areas.index.to_numpy()
    out = difference_in_differences(
        areas, codes[treated], codes[~treated], before_days=365.25, after_days=365.25
    )
    assert out["ci_low"] <= 50 <= out["ci_high"] and out["p_value"] < 0.01
    placebo = difference_in_differences(
        areas, codes[20:40], codes[40:], before_days=365.25, after_days=365.25
    )
    assert placebo["ci_low"] <= 0 <= placebo["ci_high"]
    with pytest.raises(InvalidRequest, match="both treated and controls"):
        difference_in_differences(areas, codes[:5], codes[3:9], before_days=1, after_days=1)


def test_comparable_controls_pick_the_most_similar_areas():
    shares = pd.DataFrame(
        {"X": [0.9, 0.1, 0.85, 0.2, 0.88], "Y": [0.1, 0.9, 0.15, 0.8, 0.12]}, index=list("tuvwx")
    )
    rate = pd.Series([0.2, 0.2, 0.21, 0.5, 0.19], index=list("tuvwx"))
    assert comparable_controls(shares, rate, ["t"], 2) == ["x", "v"]
    assert comparable_controls(shares, rate, ["t"], 2, exclude=["x"]) == ["v", "u"]


def test_h3_points_cells_polygons_and_neighbours():
    lat = np.array([52.1, 52.1, 52.2000001])
    lng = np.array([1.5, 1.5, 1.6])
    cells = points_to_cells(lat, lng, 8)
    assert cells[0] == cells[1] == h3.latlng_to_cell(52.1, 1.5, 8)
    ring = h3.grid_ring(cells[0], 1)
    left, right = cell_neighbour_pairs([cells[0], *ring])
    assert len(left) == 6 + 6  # centre to each, plus each ring cell to its two ring neighbours / 2
    poly = cell_polygons([cells[0]])[0]
    assert poly["type"] == "Polygon" and poly["coordinates"][0][0] == poly["coordinates"][0][-1]
    x, y = cell_centres_bng([cells[0]])[0]
    assert 600_000 < x < 700_000 and 200_000 < y < 300_000  # East Anglia in British National Grid
    with pytest.raises(InvalidRequest, match="`resolution`"):
        points_to_cells(lat, lng, 20)


def test_job_runner_reports_progress_errors_and_limits():
    runner = JobRunner(max_workers=1, max_pending=2)

    def work(progress):
        progress(0.5)
        return 42

    job = runner.wait(runner.submit("test", {}, work).id)
    assert job.status == "done" and job.result == 42 and job.progress == 1.0

    def fail(progress):
        raise InvalidRequest("bad input")

    failed = runner.wait(runner.submit("test", {}, fail).id)
    assert failed.status == "failed" and failed.error == "bad input"
    with pytest.raises(UnknownJob):
        runner.get("0" * 32)
    import threading

    gate = threading.Event()
    runner.submit("test", {}, lambda p: gate.wait(5))
    runner.submit("test", {}, lambda p: None)
    with pytest.raises(JobQueueFull):
        runner.submit("test", {}, lambda p: None)
    gate.set()
