"""Ingest: read files of any common format, anonymise at the door, match, load as one batch."""

from geo.ingest.batch import (
    get_batch,
    ingest_file,
    ingest_frame,
    list_batches,
    record_failed_batch,
    rejected_rows_csv,
)
from geo.ingest.mapping import KINDS, PRESETS, Mapping, resolve_mapping
from geo.ingest.report import BatchReport

__all__ = [
    "KINDS",
    "PRESETS",
    "BatchReport",
    "Mapping",
    "get_batch",
    "ingest_file",
    "ingest_frame",
    "list_batches",
    "record_failed_batch",
    "rejected_rows_csv",
    "resolve_mapping",
]
