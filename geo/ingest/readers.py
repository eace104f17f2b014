"""File readers: CSV (any common encoding and delimiter), XLSX, GeoJSON, GeoPackage, zipped Shapefile.

Every reader yields ``pandas.DataFrame`` chunks of strings (spatial formats yield one
``GeoDataFrame`` in EPSG:27700), so a file larger than Excel's 1,048,576 rows streams
through in bounded memory. Before anything is parsed the file is checked against what
its name says (an ``.xlsx`` must be a zip workbook, a ``.gpkg`` an SQLite database ...),
against a size limit, and, for zips, against decompression bombs.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd

from geo.errors import IngestError, IngestRowError
from geo.ingest.mapping import Mapping

Format = Literal["csv", "xlsx", "geojson", "gpkg", "shapefile"]

#: Rows per chunk: ~100k rows of a 20-column extract is ~100 MB of Python strings at most.
CHUNK_ROWS = 100_000
#: A single field longer than this is refused: no legitimate column needs it, and it
#: stops a file smuggling a document into a free-text column.
MAX_FIELD_CHARS = 2_000
#: Columns in one file: real extracts have tens; a million-column header took minutes (issue 15).
MAX_COLUMNS = 1_000
#: Zip guards: total uncompressed size, and the ratio a legitimate workbook never reaches
#: (XLSX XML compresses ~10-20x; bombs reach 1000x+).
MAX_UNZIPPED_BYTES = 2 * 1024**3
MAX_ZIP_RATIO = 200
MAX_ZIP_ENTRIES = 10_000

_EXTENSIONS: dict[str, Format] = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".xlsx": "xlsx",
    ".geojson": "geojson",
    ".json": "geojson",
    ".gpkg": "gpkg",
    ".zip": "shapefile",
    ".shz": "shapefile",
}
_DESCRIPTIONS: dict[Format, str] = {
    "csv": "delimited text (CSV)",
    "xlsx": "an XLSX workbook (a zip archive holding xl/workbook.xml)",
    "geojson": "GeoJSON text (a JSON object)",
    "gpkg": "a GeoPackage (an SQLite database)",
    "shapefile": "a zip archive holding a Shapefile (.shp, .shx, .dbf)",
}


@dataclass(frozen=True)
class FileInfo:
    """What a file turned out to be: its format, size and SHA-256."""

    path: Path
    filename: str
    format: Format
    size_bytes: int
    sha256: str


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _describe(head: bytes) -> str:
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive"
    if head.startswith(b"SQLite format 3\x00"):
        return "an SQLite database"
    if head.startswith(b"%PDF"):
        return "a PDF document"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "an old binary Excel/Office file (.xls)"
    sample = head[:40].decode("utf-8", "replace")
    return f"content beginning {sample!r}"


def _check_zip(path: Path, filename: str) -> zipfile.ZipFile:
    """Open a zip after refusing bombs: too many entries, too large, too compressed."""
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise IngestRowError(None, None, "a valid zip archive", f"a damaged zip ({exc})") from exc
    infos = zf.infolist()
    total = sum(i.file_size for i in infos)
    compressed = max(1, sum(i.compress_size for i in infos))
    if len(infos) > MAX_ZIP_ENTRIES or total > MAX_UNZIPPED_BYTES or total / compressed > MAX_ZIP_RATIO:
        zf.close()
        raise IngestRowError(
            None,
            None,
            f"a zip that expands to at most {MAX_UNZIPPED_BYTES // 1024**2} MiB and "
            f"{MAX_ZIP_RATIO}x its size",
            f"{filename}: a zip bomb ({len(infos)} entries expanding {compressed:,} bytes "
            f"to {total:,} bytes)",
        )
    return zf


def inspect_file(path: Path, filename: str | None = None, *, max_bytes: int | None = None) -> FileInfo:
    """Check a file is what its name says and within limits; return its format and hash.

    Raises
    ------
    IngestRowError
        If the file is empty, too large, not the format its extension promises, or a zip bomb.
    """
    path = Path(path)
    filename = filename or path.name
    if not path.is_file():
        raise IngestError(f"the file {str(path)!r} does not exist (or is not a file)")
    size = path.stat().st_size
    if size == 0:
        raise IngestRowError(None, None, "a non-empty file", f"{filename}: 0 bytes")
    if max_bytes is not None and size > max_bytes:
        raise IngestRowError(None, None, f"a file of at most {max_bytes:,} bytes", f"{size:,} bytes")
    suffix = Path(filename).suffix.lower()
    fmt = _EXTENSIONS.get(suffix)
    if fmt is None:
        raise IngestRowError(None, None, f"a file named *{', *'.join(sorted(_EXTENSIONS))}", f"{filename!r}")
    with path.open("rb") as fh:
        head = fh.read(4096)
    ok: bool
    if fmt in ("xlsx", "shapefile"):
        ok = head.startswith(b"PK\x03\x04")
        if ok:
            with _check_zip(path, filename) as zf:
                names = [n.lower() for n in zf.namelist()]
            ok = (
                "xl/workbook.xml" in names
                if fmt == "xlsx"
                else any(n.endswith(".shp") for n in names) and any(n.endswith(".dbf") for n in names)
            )
    elif fmt == "gpkg":
        ok = head.startswith(b"SQLite format 3\x00")
    elif fmt == "geojson":
        ok = head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")
    else:
        ok = not head.startswith((b"PK\x03\x04", b"SQLite format 3", b"%PDF", b"\xd0\xcf\x11\xe0")) and (
            b"\x00" not in head or head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
        )
    if not ok:
        raise IngestRowError(
            None, None, f"{_DESCRIPTIONS[fmt]} as its name {filename!r} says", _describe(head)
        )
    return FileInfo(path, filename, fmt, size, file_sha256(path))


# ----------------------------------------------------------------------------- CSV


def _line_of(path: Path, offset: int) -> int:
    """1-based line number holding byte ``offset``."""
    with path.open("rb") as fh:
        return fh.read(offset).count(b"\n") + 1


def detect_encoding(path: Path, declared: str | None) -> str:
    """Return the encoding to read a CSV with, checking the whole file decodes.

    A BOM decides; otherwise UTF-8 is tried, then Windows-1252 (what Excel on Windows
    writes). A declared encoding is checked, not trusted. The file is decoded in 1 MiB
    blocks, so the check costs one streaming pass.
    """
    with path.open("rb") as fh:
        head = fh.read(4)
    if declared is None:
        if head.startswith(codecs.BOM_UTF8):
            candidates = ["utf-8-sig"]
        elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            candidates = ["utf-16"]
        else:
            candidates = ["utf-8", "cp1252"]
    else:
        try:
            codecs.lookup(declared)
        except LookupError:
            raise IngestError(f"encoding was {declared!r}, which Python does not know") from None
        candidates = ["utf-8-sig" if declared.lower().replace("_", "-") == "utf-8" else declared]
    failure: tuple[str, int, bytes] | None = None
    for encoding in candidates:
        decoder = codecs.getincrementaldecoder(encoding)("strict")
        offset = 0
        try:
            with path.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    decoder.decode(block)
                    offset += len(block)
                decoder.decode(b"", final=True)
            return encoding
        except UnicodeDecodeError as exc:
            bad = offset + max(0, exc.start)
            if failure is None:
                with path.open("rb") as fh:
                    fh.seek(max(0, bad - 10))
                    failure = (encoding, bad, fh.read(20))
    assert failure is not None
    encoding, bad, sample = failure
    tried = " or ".join(candidates)
    raise IngestRowError(
        _line_of(path, bad),
        None,
        f"text in {tried} (set `encoding` in the mapping if the file uses another)",
        sample,
    )


def detect_delimiter(path: Path, encoding: str, declared: str | None) -> str:
    """Return the delimiter: the declared one, or the one csv.Sniffer finds among , ; tab |."""
    if declared:
        return "\t" if declared in ("\\t", "tab") else declared
    with path.open("r", encoding=encoding, newline="") as fh:
        sample = fh.read(64 * 1024)
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _check_fields(chunk: pd.DataFrame, first_row: int) -> None:
    """Refuse a chunk holding a field longer than MAX_FIELD_CHARS, naming row and column."""
    for column in chunk.columns:
        lengths = chunk[column].astype("string").str.len()
        if lengths.max(skipna=True) is not pd.NA and (lengths > MAX_FIELD_CHARS).any():
            pos = int((lengths > MAX_FIELD_CHARS).to_numpy(dtype=bool).argmax())
            raise IngestRowError(
                first_row + pos,
                str(column),
                f"at most {MAX_FIELD_CHARS:,} characters",
                f"{int(lengths.iloc[pos]):,} characters",
            )


def _check_columns(count: int) -> None:
    if count > MAX_COLUMNS:
        raise IngestRowError(1, None, f"at most {MAX_COLUMNS:,} columns", f"{count:,} columns")


def _read_csv(path: Path, mapping: Mapping, chunk_rows: int) -> Iterator[pd.DataFrame]:
    encoding = detect_encoding(path, mapping.encoding)
    delimiter = detect_delimiter(path, encoding, mapping.delimiter)
    with path.open("r", encoding=encoding, newline="") as fh:
        # the header's columns, counted before pandas builds a frame of them
        _check_columns(fh.readline(8 * 1024 * 1024).count(delimiter) + 1)
    try:
        with pd.read_csv(
            path,
            sep=delimiter,
            encoding=encoding,
            dtype=str,
            keep_default_na=False,
            chunksize=chunk_rows,
            skipinitialspace=True,
        ) as reader:
            first_row = 2  # spreadsheet numbering: the header is row 1
            for chunk in reader:
                chunk.columns = [str(c).strip() for c in chunk.columns]
                _check_fields(chunk, first_row)
                chunk.index = pd.RangeIndex(first_row, first_row + len(chunk))
                first_row += len(chunk)
                yield chunk
    except pd.errors.ParserError as exc:
        raise IngestRowError(
            None, None, f"CSV with one delimiter {delimiter!r} throughout", str(exc)
        ) from exc
    except pd.errors.EmptyDataError as exc:
        raise IngestRowError(None, None, "a header row and data", "an empty file") from exc


# ----------------------------------------------------------------------------- XLSX


def _read_xlsx(path: Path, mapping: Mapping, chunk_rows: int) -> Iterator[pd.DataFrame]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for broken files
        raise IngestRowError(None, None, "a readable XLSX workbook", f"{type(exc).__name__}: {exc}") from exc
    try:
        if mapping.sheet is None:
            sheet = book.worksheets[0]
        elif isinstance(mapping.sheet, int):
            sheet = book.worksheets[mapping.sheet]
        elif mapping.sheet in book.sheetnames:
            sheet = book[mapping.sheet]
        else:
            raise IngestRowError(None, "sheet", f"one of {book.sheetnames}", mapping.sheet)
        rows = sheet.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            raise IngestRowError(None, None, "a header row and data", "an empty sheet")
        _check_columns(len(header))
        columns = [str(c).strip() if c is not None else f"column_{i + 1}" for i, c in enumerate(header)]
        first_row = 2
        buffer: list[tuple[object, ...]] = []

        def flush() -> pd.DataFrame:
            frame = pd.DataFrame(buffer, columns=columns, dtype=object)
            frame = frame.map(_cell_text)
            frame.index = pd.RangeIndex(first_row, first_row + len(frame))
            _check_fields(frame, first_row)
            return frame

        for row in rows:
            if row is None or all(v is None for v in row):
                continue
            buffer.append(tuple(row[: len(columns)]) + (None,) * (len(columns) - len(row)))
            if len(buffer) >= chunk_rows:
                yield flush()
                first_row += len(buffer)
                buffer = []
        if buffer:
            yield flush()
    finally:
        book.close()


def _cell_text(value: object) -> str:
    """Render an Excel cell as the text a CSV export would hold (dates as ISO)."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, dt.datetime):
        midnight = value.hour == value.minute == value.second == 0
        return value.date().isoformat() if midnight else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# ----------------------------------------------------------------------------- spatial


def _read_spatial(path: Path, fmt: Format, mapping: Mapping) -> Iterator[pd.DataFrame]:
    import pyogrio

    source = f"/vsizip/{path}" if fmt == "shapefile" else str(path)
    try:
        frame = pyogrio.read_dataframe(source, layer=mapping.layer)
    except Exception as exc:  # noqa: BLE001 - GDAL errors come in many classes
        raise IngestRowError(
            None, None, _DESCRIPTIONS[fmt] + " that GDAL can read", f"{type(exc).__name__}: {exc}"
        ) from exc
    if frame.crs is None:
        raise IngestRowError(None, "geometry", "a declared coordinate reference system", "none")
    frame = frame.to_crs(27700)
    frame.columns = [str(c) for c in frame.columns]
    for column in frame.columns:
        if column != frame.geometry.name:
            frame[column] = frame[column].map(_cell_text).astype(object)
    frame.index = pd.RangeIndex(1, len(frame) + 1)  # feature numbers
    yield frame


def read_chunks(info: FileInfo, mapping: Mapping, *, chunk_rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """Yield the file's rows as string DataFrames indexed by their row number."""
    if info.format == "csv":
        yield from _read_csv(info.path, mapping, chunk_rows)
    elif info.format == "xlsx":
        yield from _read_xlsx(info.path, mapping, chunk_rows)
    else:
        yield from _read_spatial(info.path, info.format, mapping)


def frame_sha256(frame: pd.DataFrame) -> str:
    """A stable SHA-256 of a DataFrame's content (for batches that arrive as frames)."""
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return hashlib.sha256(buffer.getvalue().encode("utf-8")).hexdigest()
