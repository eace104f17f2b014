"""The quality report of one batch: what came in, how it matched, what was dropped or refused."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: Rejected rows kept inline in the report; every one is in ingest_rejected_row.
REPORT_REJECTED_SAMPLE = 20


@dataclass
class BatchReport:
    """Counts and lists describing one ingest batch (stored as ``ingest_batch.report``)."""

    kind: str
    filename: str | None
    sha256: str
    batch_id: int | None = None
    status: str = "loading"
    rows_received: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    out_of_area: int = 0
    out_of_scope: int = 0
    duplicates_resolved: int = 0
    match_levels: dict[str, int] = field(default_factory=dict)
    personal_columns_dropped: list[dict[str, str]] = field(default_factory=list)
    columns_ignored: list[str] = field(default_factory=list)
    columns_used: dict[str, str] = field(default_factory=dict)
    hashed_fields: list[str] = field(default_factory=list)
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    rejected_sample: list[dict[str, Any]] = field(default_factory=list)
    same_incident_rule: str | None = None
    notes: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    #: seconds spent per stage (read, prepare, match, store, duplicates, finish)
    timings_s: dict[str, float] = field(default_factory=dict)

    def add_time(self, stage: str, seconds: float) -> None:
        """Accumulate the seconds one stage took."""
        self.timings_s[stage] = round(self.timings_s.get(stage, 0.0) + seconds, 3)

    def add_levels(self, levels: dict[str, int]) -> None:
        """Accumulate match-level counts from one chunk."""
        for level, n in levels.items():
            self.match_levels[level] = self.match_levels.get(level, 0) + int(n)

    def add_rejections(self, rows: list[dict[str, Any]]) -> None:
        """Count rejected rows by reason and keep the first few for the report."""
        self.rows_rejected += len(rows)
        for r in rows:
            key = f"{r['field']}: {r['reason']}"
            self.rejected_by_reason[key] = self.rejected_by_reason.get(key, 0) + 1
        room = REPORT_REJECTED_SAMPLE - len(self.rejected_sample)
        self.rejected_sample.extend(
            {"row": r["row_number"], "field": r["field"], "reason": r["reason"]} for r in rows[: max(0, room)]
        )

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return asdict(self)

    def summary_lines(self) -> list[str]:
        """The report as a few lines of text for the CLI."""
        lines = [
            f"batch {self.batch_id} ({self.kind}, {self.filename}): {self.status}",
            f"  rows received {self.rows_received:,}; loaded {self.rows_loaded:,}; "
            f"rejected {self.rows_rejected:,}; out of area {self.out_of_area:,}; "
            f"out of scope {self.out_of_scope:,}; duplicates resolved {self.duplicates_resolved:,}",
        ]
        if self.match_levels:
            mix = ", ".join(f"{k} {v:,}" for k, v in self.match_levels.items())
            lines.append(f"  match levels: {mix}")
        if self.personal_columns_dropped:
            dropped = ", ".join(f"{d['column']} ({d['reason']})" for d in self.personal_columns_dropped)
            lines.append(f"  personal columns dropped: {dropped}")
        for reason, n in self.rejected_by_reason.items():
            lines.append(f"  rejected {n:,} x {reason}")
        lines.extend(f"  note: {n}" for n in self.notes)
        return lines
