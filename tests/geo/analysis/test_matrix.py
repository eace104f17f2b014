"""Area-by-segment matrices add up, and public copies hide small counts without leaks (pure)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from geo.analysis.matrix import area_segment_matrix, disclose_cells
from geo.analysis.propensity import TOTAL, propensity_table
from geo.disclosure import DisclosurePolicy

HOUSEHOLDS = pd.DataFrame(
    {
        "area_code": ["W1", "W1", "W1", "W2", "W2", "W2", "W3"],
        "segment_code": ["A", "B", None, "A", "B", "C", "C"],
        "households": [100, 50, 9, 30, 120, 3, 200],
    }
)
TARGET = pd.DataFrame(
    {
        "area_code": ["W1", "W1", "W2", "W2", "W3"],
        "segment_code": ["A", "B", "A", "C", "C"],
        "target": [20, 5, 9, 2, 40],
    }
)


def _cells() -> pd.DataFrame:
    return area_segment_matrix(HOUSEHOLDS, TARGET, segments=["A", "B", "C"])


def test_row_and_column_totals_add_up() -> None:
    cells = _cells()
    inner = cells[(cells.area_code != TOTAL) & (cells.segment != TOTAL)]
    rows = cells[(cells.segment == TOTAL) & (cells.area_code != TOTAL)].set_index("area_code")
    cols = cells[(cells.area_code == TOTAL) & (cells.segment != TOTAL)].set_index("segment")
    grand = cells[(cells.area_code == TOTAL) & (cells.segment == TOTAL)].iloc[0]
    for count in ("households", "target"):
        assert (inner.groupby("area_code")[count].sum() == rows[count]).all()
        assert (inner.groupby("segment")[count].sum() == cols[count]).all()
        assert grand[count] == inner[count].sum() == rows[count].sum() == cols[count].sum()
    # unclassified households are left out of the matrix, as in the propensity table
    assert grand["households"] == HOUSEHOLDS.households.sum() - 9


def test_cell_index_is_penetration_against_overall_and_totals_match_propensity() -> None:
    cells = _cells()
    cell = cells[(cells.area_code == "W1") & (cells.segment == "A")].iloc[0]
    # 100 x (20/100) / (76/503) = 132.37 -> 132
    assert cell["index"] == 132 and cell["penetration_pct"] == 20.0
    # households index: 100 x (100/150) / (130/503) = 257.95 -> 258
    assert cell["households_index"] == 258
    cols = cells[(cells.area_code == TOTAL) & (cells.segment != TOTAL)].set_index("segment")
    table = propensity_table(
        pd.DataFrame(
            {"segment": cols.index, "target": cols.target.to_numpy(), "base": cols.households.to_numpy()}
        ),
        total=False,
    ).set_index("segment")
    assert (cols["index"] == table["index"]).all()


def test_matrix_without_service_has_households_only() -> None:
    cells = area_segment_matrix(HOUSEHOLDS, None, segments=["A", "B", "C"])
    assert cells["target"].isna().all() and cells["index"].isna().all()
    assert cells.loc[(cells.area_code == TOTAL) & (cells.segment == TOTAL), "households"].item() == 503


def test_public_cells_leave_no_line_with_a_single_hidden_count() -> None:
    policy = DisclosurePolicy(threshold=4)
    cells = disclose_cells(
        _cells(),
        policy,
        {
            "households": ["households_pct", "households_index", "index"],
            "target": ["penetration_pct", "index"],
        },
    )
    for count in ("households", "target"):
        hidden = cells[count].map(lambda v: isinstance(v, str))
        grid = pd.DataFrame({"a": cells.area_code, "s": cells.segment, "h": hidden}).pivot(
            index="a", columns="s", values="h"
        )
        assert not (grid.sum(axis=1) == 1).any() and not (grid.sum(axis=0) == 1).any()
        # every count 1..4 is hidden, and what derives from it is null
        raw = _cells()[count]
        assert (hidden[(raw >= 1) & (raw <= 4)]).all()
    assert cells.loc[cells.target.map(lambda v: isinstance(v, str)), "penetration_pct"].isna().all()
    small = cells[(cells.area_code == "W2") & (cells.segment == "C")].iloc[0]
    assert small["households"] == "<5" and small["index"] is None and small["significant"] is None


def test_officers_get_the_cells_unchanged() -> None:
    cells = _cells()
    assert disclose_cells(cells, None, {"households": []}) is cells
    assert np.issubdtype(cells["households"].dtype, np.integer)
