"""Disclosure control: small counts are not shown to public users.

Rules (documented for users in docs/security.md):

1. **Primary suppression.** A count from 1 to ``threshold`` (default 4) is shown as
   ``"<5"`` (``"<threshold+1>"``). Zero stays zero: it discloses nothing about a person.
2. **Secondary suppression** in tables whose rows or columns add up to a published total
   (a matrix of areas by segments, a profile of one area by segment with its total):
   every line (row or column, the total included) with exactly one suppressed entry would
   let a reader subtract and recover it, so the smallest other positive entry of that
   line is suppressed too, and this repeats until no line has exactly one suppressed entry
   (a fixed point). Secondarily suppressed entries are shown as ``"[c]"`` ("confidential",
   the GSS symbol), because they are not small.
3. **Rounding** (optional, ``round_to_base``): every count still shown is rounded to the
   nearest multiple of the base (5 by default when enabled), halves rounding up.
   Columns derived from a count (rates, percentages, indices: all proportional to it for a
   fixed denominator) are scaled by ``rounded / raw`` so that they cannot undo the rounding,
   and become null wherever their count is suppressed.

The secondary rule is the simple "hypercube-free" heuristic used by statistical offices for
two-way tables (see Hundepool et al., *Statistical Disclosure Control*, Wiley 2012, §5.2,
and ONS, *Disclosure control guidance for tables produced from administrative sources*,
2014). It does not claim optimality (fewest cells suppressed), only that no row or column
relation reveals a suppressed cell exactly.

4. **Cell-key perturbation** and **floors** for public callers (bottom of this module):
   the count loaders perturb every count before any analysis sees it.

Everything here is pure and vectorised (numpy over whole tables); the loop in
:func:`secondary_suppression` runs once per round of the fixed point, not per cell.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

#: Label for counts hidden by secondary suppression (GSS symbol for "confidential").
SECONDARY_LABEL = "[c]"
DEFAULT_THRESHOLD = 4
TOTAL = "total"


def suppressed_label(threshold: int) -> str:
    """The label a suppressed count is shown as: ``"<5"`` for threshold 4."""
    return f"<{threshold + 1}"


def small_count_mask(counts: Any, threshold: int) -> np.ndarray:
    """Boolean mask of counts that must be suppressed (1 <= count <= threshold)."""
    values = np.asarray(counts, dtype=float)
    return (values >= 1) & (values <= threshold)


def _check_policy(threshold: int, round_to_base: int | None) -> None:
    if isinstance(threshold, bool) or not isinstance(threshold, int | np.integer) or threshold < 0:
        raise ValueError(f"`threshold` was {threshold!r} but is expected to be an integer >= 0")
    if round_to_base is not None and (
        isinstance(round_to_base, bool)
        or not isinstance(round_to_base, int | np.integer)
        or round_to_base < 2
    ):
        raise ValueError(
            f"`round_to_base` was {round_to_base!r} but is expected to be None or an integer >= 2"
        )


def round_counts(counts: Any, base: int) -> np.ndarray:
    """Round counts to the nearest multiple of ``base``, halves up: ``base * floor(c/base + 1/2)``."""
    values = np.asarray(counts, dtype=float)
    return np.floor(values / base + 0.5) * base


def secondary_suppression(table: Any, primary: Any) -> np.ndarray:
    """Extend a suppression mask so no row or column has exactly one suppressed entry.

    Parameters
    ----------
    table
        A 2-D array of non-negative counts in which every row and every column is an
        additive relation that a reader can exploit: normally the cells with their row
        totals as the last column, column totals as the last row and the grand total in the
        corner (:func:`with_margins` builds it).
    primary
        Boolean mask of the same shape: the entries suppressed for being small.

    Returns
    -------
    numpy.ndarray
        The mask with secondary suppressions added (``primary`` is not modified).

    Notes
    -----
    While some line :math:`L` has exactly one suppressed entry, suppress the smallest
    positive unsuppressed entry of :math:`L` (a zero if the line has no other positive
    entry; ties go to the first position). Rows are fixed, then columns, until neither
    changes. Each round adds at least one entry and there are finitely many, so it ends.
    """
    values = np.nan_to_num(np.asarray(table, dtype=float), nan=0.0)
    mask = np.array(primary, dtype=bool, copy=True)
    if values.ndim != 2 or values.shape != mask.shape:
        raise ValueError(
            f"`table` and `primary` are expected to be 2-D of one shape; got {values.shape} and {mask.shape}"
        )
    while True:
        changed = _fix_lines(values, mask)
        changed = _fix_lines(values.T, mask.T) or changed  # mask.T is a view: writes land in mask
        if not changed:
            return mask


def _fix_lines(values: np.ndarray, mask: np.ndarray) -> bool:
    """One round over the rows of ``values``: protect every row with exactly one suppression."""
    lines = np.flatnonzero(mask.sum(axis=1) == 1)
    if lines.size == 0:
        return False
    sub, sub_mask = values[lines], mask[lines]
    positive = np.where(sub_mask | (sub <= 0), np.inf, sub)
    any_open = np.where(sub_mask, np.inf, sub)
    pick = np.where(np.isfinite(positive).any(axis=1), positive.argmin(axis=1), any_open.argmin(axis=1))
    # A line of one entry has nothing else to suppress (and is no relation anyway).
    ok = np.isfinite(any_open[np.arange(lines.size), pick])
    if not ok.any():
        return False
    mask[lines[ok], pick[ok]] = True
    return True


def with_margins(cells: Any) -> np.ndarray:
    """Return ``cells`` with row totals as an extra column, column totals and grand total as an extra row."""
    values = np.nan_to_num(np.asarray(cells, dtype=float), nan=0.0)
    out = np.zeros((values.shape[0] + 1, values.shape[1] + 1))
    out[:-1, :-1] = values
    out[:-1, -1] = values.sum(axis=1)
    out[-1, :-1] = values.sum(axis=0)
    out[-1, -1] = values.sum()
    return out


def _labelled(
    values: np.ndarray, primary: np.ndarray, secondary: np.ndarray, threshold: int, base: int | None
) -> np.ndarray:
    shown = round_counts(values, base) if base else values
    out = np.empty(values.shape, dtype=object)
    ints = np.rint(shown).astype(np.int64)
    out[...] = ints.tolist() if ints.ndim else int(ints)
    out[primary] = suppressed_label(threshold)
    out[secondary & ~primary] = SECONDARY_LABEL
    return out


def suppress_matrix(
    table: pd.DataFrame,
    threshold: int = DEFAULT_THRESHOLD,
    *,
    round_to_base: int | None = None,
    margins: bool = True,
    total_label: Hashable = TOTAL,
) -> pd.DataFrame:
    """Return a public copy of a two-way table of counts, totals protected.

    Parameters
    ----------
    table
        Counts: one row per row category (e.g. area), one column per column category
        (e.g. segment). Missing values count as zero.
    threshold
        Largest count that is suppressed (shown as ``"<threshold+1>"``).
    round_to_base
        If set, counts still shown are rounded to a multiple of it.
    margins
        Include the row totals (column ``total_label``), the column totals (row
        ``total_label``) and the grand total in the result. They are computed and
        protected either way, because totals published anywhere else form the same
        relations.

    Returns
    -------
    pandas.DataFrame
        Object dtype: ints, ``"<5"`` (small) or ``"[c]"`` (secondary).
    """
    _check_policy(threshold, round_to_base)
    full = with_margins(table.to_numpy(dtype=float, na_value=0.0))
    primary = small_count_mask(full, threshold)
    mask = secondary_suppression(full, primary)
    labelled = _labelled(full, primary, mask, threshold, round_to_base)
    index = [*table.index, total_label]
    columns = [*table.columns, total_label]
    out = pd.DataFrame(labelled, index=pd.Index(index, name=table.index.name), columns=columns, dtype=object)
    out.columns.name = table.columns.name
    return out if margins else out.iloc[:-1, :-1]


def _scale_dependents(
    out: pd.DataFrame, raw: np.ndarray, shown: np.ndarray, hidden: np.ndarray, deps: Iterable[str]
) -> None:
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(raw > 0, shown / raw, 1.0)
    for dep in deps:
        scaled = pd.to_numeric(out[dep], errors="coerce").to_numpy(dtype=float) * factor
        column = pd.Series(scaled, index=out.index, dtype=object)
        column[hidden] = None
        column[pd.isna(out[dep]).to_numpy()] = None
        out[dep] = column


def suppress_columns(
    frame: pd.DataFrame,
    count_columns: Sequence[str],
    threshold: int = DEFAULT_THRESHOLD,
    dependent: Mapping[str, Iterable[str]] | None = None,
    *,
    round_to_base: int | None = None,
) -> pd.DataFrame:
    """Return a copy of ``frame`` with small counts replaced by the suppressed label.

    Each count column is treated on its own (primary suppression and rounding only). When
    a column's rows add up to a total that is also published, use :func:`suppress_long`,
    which protects the total as well.

    Parameters
    ----------
    frame
        Rows of aggregates.
    count_columns
        Columns holding counts of people or households.
    threshold
        Largest count that is suppressed.
    dependent
        For each count column, columns derived from it (percentages, indices, rates)
        that would reveal it; they become None wherever the count is suppressed and are
        scaled with the count when it is rounded.
    round_to_base
        If set, counts still shown are rounded to a multiple of it.
    """
    _check_policy(threshold, round_to_base)
    out = frame.copy()
    for col in count_columns:
        raw = pd.to_numeric(out[col], errors="coerce").to_numpy(dtype=float)
        raw = np.nan_to_num(raw, nan=0.0)
        hidden = small_count_mask(raw, threshold)
        if not hidden.any() and not round_to_base:
            continue
        shown = round_counts(raw, round_to_base) if round_to_base else raw
        _scale_dependents(out, raw, shown, hidden, (dependent or {}).get(col, ()))
        labels = _labelled(raw, hidden, hidden, threshold, round_to_base)
        labels[pd.isna(out[col]).to_numpy()] = None
        out[col] = pd.Series(labels, index=out.index, dtype=object)
    return out


def suppress_long(
    frame: pd.DataFrame,
    row: str,
    column: str,
    count: str,
    threshold: int = DEFAULT_THRESHOLD,
    dependent: Iterable[str] = (),
    *,
    round_to_base: int | None = None,
) -> pd.DataFrame:
    """Suppress a two-way table given in long form (one row per ``row`` x ``column`` pair).

    The pairs are pivoted into a matrix (absent pairs count as zero), protected with
    :func:`suppress_matrix` (row and column totals included), and the labels are put back
    into a copy of ``frame``. Use it for ``DataFrame[area_code, segment_code, target]``
    frames: the totals per area and per segment cannot reveal a suppressed cell.
    ``dependent`` columns become None where the count is hidden and are scaled when it is
    rounded.
    """
    _check_policy(threshold, round_to_base)
    out = frame.copy()
    if out.empty:
        return out
    raw = np.nan_to_num(pd.to_numeric(out[count], errors="coerce").to_numpy(dtype=float), nan=0.0)
    rows, row_codes = pd.factorize(out[row])
    cols, col_codes = pd.factorize(out[column])
    cells = np.zeros((len(row_codes), len(col_codes)))
    np.add.at(cells, (rows, cols), raw)
    full = with_margins(cells)
    mask = secondary_suppression(full, small_count_mask(full, threshold))
    primary = small_count_mask(raw, threshold)
    hidden = mask[rows, cols] | primary
    shown = round_counts(raw, round_to_base) if round_to_base else raw
    _scale_dependents(out, raw, shown, hidden, dependent)
    out[count] = pd.Series(
        _labelled(raw, primary, hidden, threshold, round_to_base), index=out.index, dtype=object
    )
    return out


def disclose(
    count: float | int | None, threshold: int = DEFAULT_THRESHOLD, round_to_base: int | None = None
) -> int | str | None:
    """One count as a public user may see it: the count, ``"<5"``, or rounded."""
    if count is None or (isinstance(count, float) and np.isnan(count)):
        return None
    if 1 <= count <= threshold:
        return suppressed_label(threshold)
    shown = round_counts(count, round_to_base) if round_to_base else count
    return int(np.rint(shown))


@dataclass(frozen=True)
class DisclosurePolicy:
    """The disclosure rules in force for one caller (public callers get one; officers None)."""

    threshold: int = DEFAULT_THRESHOLD
    round_to_base: int | None = None
    #: Seed of the record keys (:func:`key_seed`); None: counts are not perturbed.
    seed: int | None = None
    #: Floors on published detail (:class:`PublicFloors`); None: no floors.
    floors: PublicFloors | None = None

    def __post_init__(self) -> None:
        _check_policy(self.threshold, self.round_to_base)

    @classmethod
    def public(
        cls,
        salt: str,
        threshold: int = DEFAULT_THRESHOLD,
        round_to_base: int | None = None,
        *,
        perturb: bool = True,
        floors: PublicFloors | None = None,
    ) -> DisclosurePolicy:
        """The full policy for a public caller: suppression, perturbation keyed by ``salt``, floors."""
        return cls(
            threshold,
            round_to_base,
            seed=key_seed(salt) if perturb else None,
            floors=floors if floors is not None else PublicFloors(),
        )

    def perturb(self, values: Any, cell_keys: Any) -> np.ndarray:
        """Perturbed counts (unchanged when this policy does not perturb)."""
        if self.seed is None:
            unperturbed: np.ndarray = np.nan_to_num(np.asarray(values, dtype=float), nan=0.0).astype(np.int64)
            return unperturbed
        return perturb(values, cell_keys)

    @property
    def label(self) -> str:
        """How a small count is shown (``"<5"``)."""
        return suppressed_label(self.threshold)

    def value(self, count: float | int | None) -> int | str | None:
        """One count as the public may see it."""
        return disclose(count, self.threshold, self.round_to_base)

    def columns(
        self,
        frame: pd.DataFrame,
        count_columns: Sequence[str],
        dependent: Mapping[str, Iterable[str]] | None = None,
    ) -> pd.DataFrame:
        """:func:`suppress_columns` with this policy."""
        return suppress_columns(
            frame, count_columns, self.threshold, dependent, round_to_base=self.round_to_base
        )

    def long(
        self, frame: pd.DataFrame, row: str, column: str, count: str, dependent: Iterable[str] = ()
    ) -> pd.DataFrame:
        """:func:`suppress_long` with this policy."""
        return suppress_long(
            frame, row, column, count, self.threshold, dependent, round_to_base=self.round_to_base
        )

    def matrix(self, table: pd.DataFrame, *, margins: bool = True) -> pd.DataFrame:
        """:func:`suppress_matrix` with this policy."""
        return suppress_matrix(table, self.threshold, round_to_base=self.round_to_base, margins=margins)


# ------------------------------------------------------------------ cell-key perturbation
#
# The cell-key method (ONS, 2021 Census outputs; ABS TableBuilder, Fraser & Wooton 2005):
# every record (a household, a service event) carries a fixed pseudo-random *record key*
# in [0, KEY_RANGE); a cell's *cell key* is the sum of its records' keys modulo KEY_RANGE;
# the noise added to the cell is read from a published *perturbation table* at row
# min(value, TABLE_ROWS - 1) and column cell key. The same set of records always gets the
# same noise (asking again, or for the same cell by another route, cannot average it away);
# two cells that differ by a few records get unrelated noise, so differencing yields noise.

#: Record keys and cell keys lie in [0, KEY_RANGE).
KEY_RANGE = 256
#: Largest absolute noise.
MAX_NOISE = 3
#: Rows of the perturbation table: values 0..TABLE_ROWS-2 have a row each; larger ones share the last.
TABLE_ROWS = 21
#: The noise distribution for values of MAX_NOISE and above: P(noise = n) for n = -3..3.
#: Mean 0, variance 1.45, mean absolute noise 0.85; P(0) = 0.4.
BASE_NOISE = {-3: 0.025, -2: 0.075, -1: 0.2, 0: 0.4, 1: 0.2, 2: 0.075, 3: 0.025}


def _noise_distribution(value: int) -> dict[int, float]:
    """P(noise = n) for a cell of ``value``: mean zero, perturbed value never negative.

    Zero stays zero (an empty cell has no records and discloses nobody). For values below
    MAX_NOISE the base distribution is cut at ``-value`` and exponentially tilted
    (p(n) ∝ base(n)·exp(θn), θ by bisection) until its mean is zero again, so the noise is
    unbiased for every value.
    """
    if value <= 0:
        return {0: 1.0}
    support = {n: p for n, p in BASE_NOISE.items() if n >= -value}
    ns = np.array(sorted(support))
    base = np.array([support[n] for n in ns])

    def tilted(theta: float) -> np.ndarray:
        w: np.ndarray = base * np.exp(theta * ns)
        return np.asarray(w / w.sum())

    lo, hi = -20.0, 20.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if float((tilted(mid) * ns).sum()) > 0:
            hi = mid
        else:
            lo = mid
    return dict(zip(ns.tolist(), tilted((lo + hi) / 2).tolist(), strict=True))


def perturbation_table() -> np.ndarray:
    """The published perturbation table: ``table[row, cell_key]`` is the noise (an int).

    Row ``v`` (values ``v``; the last row for every value >= TABLE_ROWS - 1) lays its noise
    distribution along the key range: the noise for cell key ``k`` is the one whose
    cumulative probability interval contains ``(k + 1/2) / KEY_RANGE``. With uniform cell
    keys, each noise then occurs with its probability to within 1/KEY_RANGE.
    """
    table = np.zeros((TABLE_ROWS, KEY_RANGE), dtype=np.int64)
    positions = (np.arange(KEY_RANGE) + 0.5) / KEY_RANGE
    for row in range(TABLE_ROWS):
        dist = _noise_distribution(row)
        ns = np.array(sorted(dist))
        cum = np.cumsum([dist[n] for n in ns])
        cum[-1] = 1.0
        table[row] = ns[np.searchsorted(cum, positions, side="right").clip(0, ns.size - 1)]
    return table


_TABLE = perturbation_table()


def perturb(values: Any, cell_keys: Any) -> np.ndarray:
    """Perturbed counts: ``value + table[min(value, TABLE_ROWS-1), cell_key mod KEY_RANGE]``.

    Parameters
    ----------
    values
        True counts (non-negative integers; NaN counts as 0).
    cell_keys
        Each cell's key: the sum of its records' keys (any non-negative integer; reduced
        modulo KEY_RANGE here, so sums of sums may be passed unreduced).
    """
    v = np.nan_to_num(np.asarray(values, dtype=float), nan=0.0).astype(np.int64)
    k = np.nan_to_num(np.asarray(cell_keys, dtype=float), nan=0.0).astype(np.int64) % KEY_RANGE
    if np.any(v < 0):
        raise ValueError("`values` are expected to be counts (>= 0)")
    noise = _TABLE[np.minimum(v, TABLE_ROWS - 1), k]
    return np.asarray(np.maximum(v + noise, 0))


def key_seed(salt: str) -> int:
    """The seed of the record keys, from the installation's secret salt (a signed 63-bit int).

    Record keys are ``hashtextextended(id, seed) & 255`` (PostgreSQL's seeded hash) over a
    record's id, so nobody without the salt can compute a cell's key from the ids of its
    records, and no key needs storing.
    """
    import hashlib
    import hmac

    digest = hmac.new(salt.encode(), b"wardwise record keys v1", hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big", signed=True) >> 1


def perturbed_cells(frame: pd.DataFrame, by: list[str], count: str, policy: DisclosurePolicy) -> pd.DataFrame:
    """``count`` per ``by`` cell, cell-key perturbed: the cell's key is the sum of its rows'
    ``key_sum`` (its records' keys), so the same cell gets the same noise however asked."""
    cells = frame.groupby(by, dropna=False)[[count, "key_sum"]].sum().reset_index()
    cells[count] = policy.perturb(cells[count].to_numpy(), cells["key_sum"].to_numpy()).astype("int64")
    return cells.drop(columns="key_sum")


@dataclass(frozen=True)
class PublicFloors:
    """Floors on the detail published to public callers (docs/security.md, "Floors")."""

    #: Areas (and H3 cells) with fewer households are withheld; smaller `within=` areas refused.
    min_households: int = 50
    #: Finest H3 resolution served to the public.
    max_h3_resolution: int = 8
    #: Date filters must be whole months.
    whole_months: bool = True


#: ``Connection.execution_options`` key carrying the caller's policy (see :func:`protect`).
POLICY_OPTION = "wardwise_disclosure"


def protect(conn: Any, policy: DisclosurePolicy | None) -> Any:
    """Attach ``policy`` (None: true figures) to a connection for the rest of its life.

    The count loaders (:mod:`geo.analysis.data`, the H3 inputs) read it with
    :func:`policy_of` and perturb and floor every count before any analysis sees it, so
    every figure derived from those counts (rates, indices, z-scores, predictions,
    benchmarks, ``meta``) is computed from protected counts. Execution options belong to
    the Connection object, not the pooled database connection: they end with it.
    """
    return conn.execution_options(**{POLICY_OPTION: policy})


def policy_of(conn: Any) -> DisclosurePolicy | None:
    """The policy attached to ``conn`` by :func:`protect` (None: true figures)."""
    getter = getattr(conn, "get_execution_options", None)
    if getter is None:
        return None
    policy = getter().get(POLICY_OPTION)
    return policy if isinstance(policy, DisclosurePolicy) else None


#: A public propensity profile's largest rate may be at most this many times its median rate.
MAX_PUBLIC_RATE_SPREAD = 3.0
#: ... and must give a positive rate to at least this many segments.
MIN_PUBLIC_RATED_SEGMENTS = 3


def check_public_profile(policy: DisclosurePolicy | None, rates: Mapping[Any, float] | pd.Series) -> None:
    """Refuse a public prediction profile that singles out one segment (or a few).

    A profile of rate 1 for one segment and 0 for the rest turns a prediction into that
    segment's households per area. Public profiles must rate at least
    ``MIN_PUBLIC_RATED_SEGMENTS`` segments above zero, none more than
    ``MAX_PUBLIC_RATE_SPREAD`` times the median rate.
    """
    if policy is None or policy.floors is None:
        return
    from geo.errors import PermissionDenied

    values = pd.Series(dict(rates), dtype=float).to_numpy()
    positive = int((values > 0).sum())
    median = float(np.median(values)) if values.size else 0.0
    if positive < MIN_PUBLIC_RATED_SEGMENTS or values.max(initial=0.0) > MAX_PUBLIC_RATE_SPREAD * median:
        raise PermissionDenied(
            "public prediction profiles must rate at least "
            f"{MIN_PUBLIC_RATED_SEGMENTS} segments above zero with no rate over "
            f"{MAX_PUBLIC_RATE_SPREAD:g} times the median (got {positive} positive, largest "
            f"{values.max(initial=0.0):g}, median {median:g}): a profile singling out a segment "
            "would publish its households per area; an officer key may"
        )
