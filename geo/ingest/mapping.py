"""Declarative column mappings and the presets for public file formats.

A mapping says which source column feeds which Wardwise field, which fields are fixed
for the whole file, and how to read the file. It is plain data, so a user can write it
as JSON or TOML::

    {"columns": {"event_date": "Date reported", "address": "Address", "postcode": "Postcode",
                 "source_ref": "Case number"},
     "constants": {"service_code": "asb_reports", "source_system": "council"},
     "date_format": "%d/%m/%Y", "drop": ["Caller name"]}

Source column names are matched case- and space-insensitively. A preset is a named
mapping for a public format (``police-uk``, ``ons-boundaries``, ``oac``, ``onspd``,
``codepoint-open``); where a format's columns vary between releases, a preset lists
candidate names and the first one present is used.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

from geo.errors import IngestError, IngestRowError

Kind = Literal[
    "events",
    "households",
    "survey",
    "areas",
    "area-classification",
    "area-statistics",
    "area-counts",
    "postcodes",
    "gazetteer",
    "area-lookup",
    "postcode-areas",
]
KINDS: tuple[str, ...] = (
    "events",
    "households",
    "survey",
    "areas",
    "area-classification",
    "area-statistics",
    "area-counts",
    "postcodes",
    "gazetteer",
    "area-lookup",
    "postcode-areas",
)

#: Bases per area a file may carry (whole numbers): households, usual residents, adults 65+.
BASE_FIELDS = ("households", "population")

#: Location fields any address-bearing kind may map (the matching ladder reads these).
LOCATION_FIELDS = (
    "uprn",
    "address",
    "saon",
    "paon",
    "street",
    "locality",
    "town",
    "postcode",
    "x",
    "y",
    "longitude",
    "latitude",
)

#: Target fields per kind; ``required`` must be mapped (or constant) or the file is refused.
FIELDS: dict[str, dict[str, tuple[str, ...]]] = {
    "events": {
        "required": ("service_code", "event_date", "source_system"),
        "optional": ("channel", "source_ref", "person_id", "household_id", *LOCATION_FIELDS),
    },
    "households": {
        "required": ("classification", "segment_code"),
        "optional": ("household_id", *LOCATION_FIELDS),
    },
    "survey": {
        "required": ("survey_code", "question", "answer"),
        "optional": ("response_date", "person_id", "household_id", *LOCATION_FIELDS),
    },
    "areas": {
        # level may be left out when the code column names it (OA11CD, LSOA21CD, WD13CD, LAD23CD)
        "required": ("code", "set_code"),
        "optional": ("level", "name", "parent_code", "district_code", "households", "population"),
    },
    "area-classification": {
        # segment_code is the finest tier; tier1_/tier2_ are the coarser ones named by the
        # mapping's `tiers` (OAC: supergroup, group, subgroup); bases ride along.
        "required": ("area_code", "classification", "segment_code"),
        "optional": (
            "segment_name",
            "parent_segment",
            "parent_segment_name",
            "tier1_code",
            "tier1_name",
            "tier2_code",
            "tier2_name",
            *BASE_FIELDS,
        ),
    },
    "area-statistics": {
        # at least one base must be mapped (checked when the file is planned)
        "required": ("area_code",),
        "optional": BASE_FIELDS,
    },
    "area-counts": {
        "required": ("area_code", "service_code", "period", "count"),
        "optional": (),
    },
    "postcodes": {
        "required": ("postcode",),
        "optional": ("oa_code", "district_code", "x", "y", "longitude", "latitude"),
    },
    "area-lookup": {
        # the ONS OA11 -> OA21 lookup: CHNGIND U unchanged, S split, M merged, X irregular
        "required": ("oa11_code", "oa21_code", "change"),
        "optional": ("district_code",),
    },
    "postcode-areas": {
        # custom areas from a list of postcodes: each named area is the OAs of its postcodes
        "required": ("postcode", "area_name", "set_code"),
        "optional": ("area_code",),
    },
    "gazetteer": {
        "required": ("uprn",),
        "optional": (
            "address",
            "saon",
            "paon",
            "street",
            "locality",
            "town",
            "postcode",
            "alias",
            "is_residential",
            "oa_code",
            "x",
            "y",
            "longitude",
            "latitude",
        ),
    },
}

#: Fields whose values identify a person or case: stored only as salted hashes.
HASHED_FIELDS = ("source_ref", "person_id", "household_id")


@dataclass(frozen=True)
class Mapping:
    """How to read one file and which source column feeds which Wardwise field."""

    #: target field -> source column name, or a list of candidate names (first present wins)
    columns: dict[str, str | list[str]] = field(default_factory=dict)
    #: target field -> a value fixed for the whole file (``service_code``, ``source_system``)
    constants: dict[str, Any] = field(default_factory=dict)
    #: target field -> {source value: stored value}; rows whose value is not listed are
    #: skipped as out of scope (police.uk crime types other than anti-social behaviour)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    #: source columns to drop as personal even if detection would miss them
    drop: list[str] = field(default_factory=list)
    #: source columns to keep even if personal-data detection would drop them (a place or
    #: organisation name the detector mistook for a person's); the report says so
    keep: list[str] = field(default_factory=list)
    #: services this file implies, created when missing: {code: {name, unit, category ...}}
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: area-classification: the tiers coarse to fine, e.g. ["supergroup", "group", "subgroup"];
    #: tier1_code/tier2_code feed the first ones, segment_code the last
    tiers: list[str] = field(default_factory=list)
    #: area-counts: a suppressed count (`*`, `c`, `<5`, `..`, blank) is between 1 and this minus 1
    suppression_threshold: int = 5
    #: strptime format for dates; None parses ISO 8601 (and YYYY-MM as the 1st of the month)
    date_format: str | None = None
    dayfirst: bool = True
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | int | None = None
    layer: str | None = None
    #: EPSG code of x/y (27700 default) or longitude/latitude (4326 always)
    crs: int = 27700
    #: keep only records in these districts; others are removed and counted as out of area
    districts: list[str] = field(default_factory=list)
    #: source systems in priority order for resolving the same incident across systems
    source_priority: list[str] = field(default_factory=lambda: ["police", "fire", "council"])
    #: two records are the same incident within this many days (see geo.matching.duplicates)
    same_incident_days: int = 1
    #: strip these leading words from free-text addresses ("On or near ")
    address_prefix: str | None = None
    #: area-classification: the classification's name and description when it is created
    classification_name: str | None = None
    #: areas: the name of the area set when it is created; the district's code and name
    set_name: str | None = None
    district_name: str | None = None
    #: area-classification / area-statistics: ``oa21`` when the file is keyed by OA 2021
    #: codes, placed on the loaded 2011 OAs through the area-lookup (docs/ingest.md, Vintages)
    vintage: str | None = None
    #: area-statistics: census (or other) variables per area, as a list of source columns
    #: (each stored under its name in snake case) or {variable name: source column}
    variables: list[str] | dict[str, str] = field(default_factory=list)

    def variable_columns(self) -> dict[str, str]:
        """The ``variables`` as {variable name: source column}; names are checked."""
        if isinstance(self.variables, dict):
            named = {str(k): str(v) for k, v in self.variables.items()}
        else:
            named = {re.sub(r"[^a-z0-9]+", "_", str(c).lower()).strip("_"): str(c) for c in self.variables}
        bad = [n for n in named if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", n)]
        if bad:
            raise IngestError(
                f"`variables` names {bad}, but a variable name is expected to be snake case "
                "(a letter, then letters, digits or _; at most 64)"
            )
        return named

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Mapping:
        """Build a mapping from plain data, naming any key that is not a mapping field."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise IngestError(f"mapping has unknown keys {unknown}; expected some of {sorted(known)}")
        return cls(**raw)

    def merged(self, other: Mapping | None) -> Mapping:
        """Return this mapping (a preset) overridden by ``other`` (the user's mapping)."""
        if other is None:
            return self
        changes: dict[str, Any] = {}
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            default = getattr(Mapping(), f.name)
            if isinstance(mine, dict):
                changes[f.name] = {**mine, **theirs}
            elif isinstance(mine, list) and f.name in ("drop", "keep"):
                changes[f.name] = [*mine, *theirs]
            elif theirs != default:
                changes[f.name] = theirs
        return replace(self, **changes)


def load_mapping(spec: str | Path | dict[str, Any] | Mapping | None) -> Mapping | None:
    """Read a mapping from a dict, inline JSON, or a ``.json``/``.toml`` file path."""
    if spec is None or isinstance(spec, Mapping):
        return spec
    if isinstance(spec, dict):
        return Mapping.from_dict(spec)
    text_spec = str(spec).strip()
    if text_spec.startswith("{"):
        try:
            return Mapping.from_dict(json.loads(text_spec))
        except json.JSONDecodeError as exc:
            raise IngestError(f"the mapping is not valid JSON: {exc}") from exc
    path = Path(text_spec)
    if not path.is_file():
        raise IngestError(f"mapping file {str(path)!r} does not exist")
    try:
        if path.suffix.lower() == ".toml":
            return Mapping.from_dict(tomllib.loads(path.read_text(encoding="utf-8")))
        return Mapping.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise IngestError(f"mapping file {path.name!r} cannot be parsed: {exc}") from exc


PRESETS: dict[str, Mapping] = {
    # data.police.uk street-level CSV (12 columns, same header since ~2016). Crime IDs are
    # empty for anti-social behaviour; Month is YYYY-MM; coordinates are WGS84 snap points.
    "police-uk": Mapping(
        columns={
            "source_ref": "Crime ID",
            "event_date": "Month",
            "longitude": "Longitude",
            "latitude": "Latitude",
            "address": "Location",
            "service_code": "Crime type",
        },
        constants={"source_system": "police"},
        values={"service_code": {"Anti-social behaviour": "asb_reports"}},
        date_format="%Y-%m",
        address_prefix="On or near",
        # the force's name and the LSOA's name are organisations and places, never people
        keep=["Reported by", "Falls within", "LSOA name"],
        services={
            "asb_reports": {
                "name": "Anti-social behaviour reports",
                "unit": "events",
                "category": "community safety",
                "owner": "police",
                "description": "Anti-social behaviour incidents reported to the police (data.police.uk)",
            }
        },
    ),
    # ONS/OS boundary files: <LEVEL><YY>CD and <LEVEL><YY>NM properties (OA11CD, WD13CD ...).
    # The level is read from the code column's prefix; set_code must be given.
    "ons-boundaries": Mapping(
        columns={
            "code": [
                "OA21CD",
                "OA11CD",
                "LSOA21CD",
                "LSOA11CD",
                "MSOA21CD",
                "MSOA11CD",
                "WD23CD",
                "WD22CD",
                "WD21CD",
                "WD19CD",
                "WD13CD",
                "LAD23CD",
                "LAD22CD",
                "LAD21CD",
                "LAD11CD",
            ],
            "name": [
                "OA21NM",
                "LSOA21NM",
                "LSOA11NM",
                "MSOA21NM",
                "MSOA11NM",
                "WD23NM",
                "WD22NM",
                "WD21NM",
                "WD19NM",
                "WD13NM",
                "LAD23NM",
                "LAD22NM",
                "LAD21NM",
                "LAD11NM",
            ],
        },
    ),
    # 2021 Output Area Classification: national file (oa21cd, supergroup, group, subgroup)
    # or a per-district profile (oa11cd, oac21_subgroup, ..._name, usual_residents,
    # households). Every tier present is loaded (oac2021 = subgroups, oac2021_group,
    # oac2021_supergroup), and the bases per OA when the file has them. Codes lower case.
    "oac": Mapping(
        columns={
            "area_code": ["oa11cd", "oa21cd", "OA21CD", "OA11CD", "OA"],
            "segment_code": ["oac21_subgroup", "subgroup", "SUBGROUP", "subgroup_code"],
            "segment_name": ["oac21_subgroup_name", "subgroup_name"],
            "parent_segment": ["oac21_group", "group", "GROUP", "group_code"],
            "parent_segment_name": ["oac21_group_name", "group_name"],
            "tier1_code": ["oac21_supergroup", "supergroup", "SUPERGROUP", "supergroup_code"],
            "tier1_name": ["oac21_supergroup_name", "supergroup_name"],
            "tier2_code": ["oac21_group", "group", "GROUP", "group_code"],
            "tier2_name": ["oac21_group_name", "group_name"],
            "households": ["households", "ts0410001"],
            "population": ["usual_residents", "population", "ts0010001"],
        },
        constants={"classification": "oac2021"},
        classification_name="2021 Output Area Classification",
        tiers=["supergroup", "group", "subgroup"],
    ),
    # ONS Postcode Directory / NSPL: pcds, oseast1m/osnrth1m, oa21cd (or oa11cd), lad code.
    "onspd": Mapping(
        columns={
            "postcode": ["pcds", "pcd", "pcd7", "pcd8"],
            "x": ["oseast1m"],
            "y": ["osnrth1m"],
            "oa_code": ["oa21cd", "oa21", "oa11cd", "oa11"],
            "district_code": ["lad23cd", "lad22cd", "lad21cd", "laua", "oslaua"],
        },
    ),
    # ONS Output Area (2011) to Output Area (2021) lookup: OA11CD, OA21CD, CHNGIND (U, S, M,
    # X) and the local authority codes.
    "ons-oa-lookup": Mapping(
        columns={
            "oa11_code": ["OA11CD", "oa11cd"],
            "oa21_code": ["OA21CD", "oa21cd"],
            "change": ["CHNGIND", "CHGIND", "chngind"],
            "district_code": ["LAD22CD", "LAD21CD", "LAD23CD", "LAD11CD"],
        },
    ),
    # OS Code-Point Open (with the header the open-postcode mirror adds): eastings/northings
    # in EPSG:27700, no OA column (the OA is found by point in polygon).
    "codepoint-open": Mapping(
        columns={
            "postcode": ["postcode", "Postcode"],
            "x": ["eastings", "Eastings"],
            "y": ["northings", "Northings"],
            "district_code": ["admin_district_code", "Admin_district_code"],
        },
    ),
}


def preset(name: str | None) -> Mapping | None:
    """Return the named preset, or raise naming the presets there are."""
    if name is None:
        return None
    try:
        return PRESETS[name]
    except KeyError:
        raise IngestError(f"preset was {name!r} but is expected to be one of {sorted(PRESETS)}") from None


def resolve_mapping(user: str | Path | dict[str, Any] | Mapping | None, preset_name: str | None) -> Mapping:
    """Combine a preset with the user's mapping (the user's keys win)."""
    base = preset(preset_name) or Mapping()
    return base.merged(load_mapping(user))


def column_key(name: str) -> str:
    """Compare column names ignoring case, spaces, underscores and punctuation."""
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def resolve_columns(mapping: Mapping, available: list[str]) -> dict[str, str]:
    """Return target field -> actual source column, choosing the first candidate present.

    A mapped column that is absent is an error unless it was one of several candidates.
    """
    by_key = {column_key(c): c for c in available}
    out: dict[str, str] = {}
    for target, source in mapping.columns.items():
        candidates = [source] if isinstance(source, str) else list(source)
        found = next((by_key[column_key(c)] for c in candidates if column_key(c) in by_key), None)
        if found is not None:
            out[target] = found
        elif isinstance(source, str):
            raise IngestRowError(
                1,
                target,
                f"the column {source!r} the mapping names",
                f"absent; the file's columns are {available}",
            )
    return out


def check_targets(kind: str, mapping: Mapping) -> None:
    """Refuse target fields the kind does not have, naming the field and the known ones.

    A misspelt or foreign field (``count`` for events, ``oa_code`` for events) would
    otherwise be accepted and silently do nothing.
    """
    spec = FIELDS[kind]
    known = [*spec["required"], *spec["optional"]]
    for section in ("columns", "constants", "values"):
        unknown = sorted(set(getattr(mapping, section)) - set(known))
        if unknown:
            raise IngestError(
                f"the mapping's `{section}` names {unknown}, which {kind} files do not have; "
                f"expected fields of {kind}: {known}"
            )
    clash = sorted({column_key(c) for c in mapping.keep} & {column_key(c) for c in mapping.drop})
    if clash:
        raise IngestError(f"the mapping both keeps and drops the columns {clash}; name each in one list")
    if mapping.vintage is not None and (
        mapping.vintage != "oa21" or kind not in ("area-classification", "area-statistics")
    ):
        raise IngestError(
            f"`vintage` was {mapping.vintage!r} for {kind} but is expected to be 'oa21' "
            "(a file keyed by OA 2021 codes), and only for area-classification or area-statistics"
        )
    if mapping.variables and mapping.vintage is not None:
        raise IngestError("`variables` are read on the areas' own codes; a `vintage` file cannot carry them")
    if mapping.variables and kind != "area-statistics":
        raise IngestError(f"`variables` are read from area-statistics files, not {kind} files")
    mapping.variable_columns()
    if mapping.tiers and len(mapping.tiers) > 3:
        raise IngestError(f"`tiers` was {mapping.tiers!r} but at most 3 tiers are supported")


def auto_columns(kind: str, available: list[str], taken: dict[str, str]) -> dict[str, str]:
    """Map columns whose names already are Wardwise field names (``postcode``, ``uprn`` ...)."""
    spec = FIELDS[kind]
    wanted = [*spec["required"], *spec["optional"]]
    used = set(taken.values())
    by_key = {column_key(c): c for c in available if c not in used}
    synonyms = {
        "event_date": ("date", "eventdate"),
        "longitude": ("lon", "lng", "long"),
        "latitude": ("lat",),
        "x": ("easting", "eastings"),
        "y": ("northing", "northings"),
        "address": ("fulladdress", "addresstext", "address"),
        "service_code": ("service",),
        "source_system": ("source", "system"),
        "segment_code": ("segment",),
    }
    out: dict[str, str] = {}
    for target in wanted:
        if target in taken:
            continue
        for key in (column_key(target), *synonyms.get(target, ())):
            if key in by_key:
                out[target] = by_key.pop(key)
                break
    return out
