"""A small Python client for a Wardwise server: typed methods for the main analyses.

Standard library only (``urllib``), so a notebook or a council's scheduled job needs
nothing but this file and Python 3.11::

    from geo.client import Client

    ww = Client("http://127.0.0.1:8000", api_key=None)      # public: small counts as "<5"
    table = ww.propensity("library_membership", date_from="2025-01-01")
    hot = [f for f in ww.hotspots("library_membership")["features"] if f["properties"]["class"] == "hot"]
    for ward in ww.items("wards", crs="http://www.opengis.net/def/crs/EPSG/0/27700"):
        ...

Every method names the OpenAPI operation it calls (:data:`OPERATIONS`);
``tests/api/test_client.py`` checks those against the live ``/openapi.json`` (path, method
and every query parameter the method can send) and calls each one on a live server.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from typing import Any, Literal, TypedDict

#: Operation id -> (HTTP method, path template, query parameters the client may send).
OPERATIONS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "list_services": ("GET", "/api/v1/services", ()),
    "list_areas": ("GET", "/api/v1/areas", ("level", "district", "simplify_m")),
    "get_area": ("GET", "/api/v1/areas/{code}", ()),
    "get_service_propensity": (
        "GET",
        "/api/v1/services/{service}/propensity",
        ("classification", "date_from", "date_to", "channel", "area", "unit", "area_set"),
    ),
    "get_matrix": (
        "GET",
        "/api/v1/matrix",
        ("level", "classification", "service", "date_from", "date_to", "channel", "area", "unit"),
    ),
    "get_service_hotspots": (
        "GET",
        "/api/v1/services/{service}/hotspots",
        ("level", "method", "classification", "date_from", "date_to", "fdr", "within", "unit"),
    ),
    "get_service_demand": (
        "GET",
        "/api/v1/services/{service}/demand",
        ("level", "percentile", "classification", "date_from", "date_to", "within", "unit"),
    ),
    "get_area_profile": ("GET", "/api/v1/areas/{code}/profile", ("classification",)),
    "list_sites": ("GET", "/api/v1/sites", ("existing",)),
    "ogc_list_collections": ("GET", "/ogc/collections", ()),
    "ogc_get_items": (
        "GET",
        "/ogc/collections/{collectionId}/items",
        ("limit", "bbox", "bbox-crs", "crs", "datetime"),
    ),
    "export_collection": ("GET", "/api/v1/exports/{collectionId}", ("format", "datetime")),
}

Unit = Literal["events", "households"]


class Feature(TypedDict):
    """A GeoJSON Feature (WGS84 unless a CRS was asked for)."""

    type: str
    id: str | int
    geometry: dict[str, Any] | None
    properties: dict[str, Any]


class FeatureCollection(TypedDict, total=False):
    """A GeoJSON FeatureCollection, with ``meta`` on analysis answers."""

    type: str
    features: list[Feature]
    meta: dict[str, Any]


class Service(TypedDict):
    """A service whose use is recorded."""

    code: str
    name: str
    category: str | None
    description: str | None
    owner: str | None
    unit: str
    channels: list[str] | None
    unit_costs: dict[str, Any] | None
    events: int


class PropensityTable(TypedDict, total=False):
    """Each segment's share of use against its share of households (``rows``), with totals."""

    service: str
    classification: str
    unit: str
    rows: list[dict[str, Any]]


class Matrix(TypedDict, total=False):
    """An area x segment matrix: ``cells`` in long form, totals as ``"Total"`` rows."""

    level: str
    classification: str
    service: str | None
    unit: str | None
    segments: list[dict[str, Any]]
    areas: list[dict[str, Any]]
    cells: list[dict[str, Any]]


class WardwiseAPIError(Exception):
    """The server answered with an error (``status`` and its ``detail``)."""

    def __init__(self, status: int, detail: Any, url: str) -> None:
        self.status = status
        self.detail = detail
        self.url = url
        super().__init__(f"{status} from {url}: {detail}")


class Client:
    """A Wardwise server at ``base_url``; ``api_key`` (``ww_...``) for officer answers."""

    def __init__(self, base_url: str, api_key: str | None = None, timeout_s: float = 120.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout_s = timeout_s

    # ------------------------------------------------------------------ transport

    def url(self, operation: str, path: Mapping[str, str] | None = None, **query: Any) -> str:
        """The URL of ``operation`` with its path parameters and the query (None values left out)."""
        method, template, allowed = OPERATIONS[operation]
        unknown = set(query) - {a.replace("-", "_") for a in allowed}
        if unknown:
            raise TypeError(
                f"{operation} takes no query parameter {sorted(unknown)}; it takes {list(allowed)}"
            )
        names = {a.replace("-", "_"): a for a in allowed}
        encoded = {names[k]: _text(v) for k, v in query.items() if v is not None}
        route = template.format(**{k: urllib.parse.quote(str(v), safe="") for k, v in (path or {}).items()})
        return f"{self.base_url}{route}" + (f"?{urllib.parse.urlencode(encoded)}" if encoded else "")

    def get_bytes(self, url: str, accept: str = "application/json") -> bytes:
        """GET ``url`` (absolute) and return the body; raise WardwiseAPIError on an error status."""
        headers = {"Accept": accept}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(url, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310 - http(s) URL
                body: bytes = response.read()
                return body
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                detail = json.loads(raw).get("detail", raw.decode("utf-8", "replace"))
            except (ValueError, AttributeError):
                detail = raw.decode("utf-8", "replace")
            raise WardwiseAPIError(exc.code, detail, url) from None

    def get_json(self, url: str) -> Any:
        """GET ``url`` and decode its JSON."""
        return json.loads(self.get_bytes(url))

    def _call(self, operation: str, path: Mapping[str, str] | None = None, **query: Any) -> Any:
        return self.get_json(self.url(operation, path, **query))

    # ------------------------------------------------------------------ the analyses

    def services(self) -> list[Service]:
        """Every service with its unit, channels and event count."""
        result: list[Service] = self._call("list_services")
        return result

    def areas(self, level: str = "ward", *, district: str | None = None) -> FeatureCollection:
        """Areas of a level (oa, lsoa, ward, district) or custom set, as GeoJSON."""
        result: FeatureCollection = self._call("list_areas", level=level, district=district)
        return result

    def area(self, code: str) -> Feature:
        """One area with its parent and households."""
        result: Feature = self._call("get_area", {"code": code})
        return result

    def propensity(
        self,
        service: str,
        *,
        classification: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        channel: str | None = None,
        area: str | None = None,
        unit: Unit | None = None,
    ) -> PropensityTable:
        """The propensity table of a service: which segments use it more or less than their share."""
        result: PropensityTable = self._call(
            "get_service_propensity",
            {"service": service},
            classification=classification,
            date_from=date_from,
            date_to=date_to,
            channel=channel,
            area=area,
            unit=unit,
        )
        return result

    def matrix(
        self,
        level: str = "ward",
        *,
        classification: str | None = None,
        service: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
    ) -> Matrix:
        """The area x segment matrix (households, and use of ``service`` when given)."""
        result: Matrix = self._call(
            "get_matrix",
            level=level,
            classification=classification,
            service=service,
            date_from=date_from,
            date_to=date_to,
        )
        return result

    def hotspots(
        self,
        service: str,
        *,
        level: str = "oa",
        method: Literal["ratio", "gistar", "moran"] = "ratio",
        date_from: str | None = None,
        date_to: str | None = None,
        fdr: float | None = None,
    ) -> FeatureCollection:
        """Hot and not spots of a service: observed against expected per area, with classes."""
        result: FeatureCollection = self._call(
            "get_service_hotspots",
            {"service": service},
            level=level,
            method=method,
            date_from=date_from,
            date_to=date_to,
            fdr=fdr,
        )
        return result

    def demand(
        self, service: str, *, level: str = "oa", percentile: float | None = None
    ) -> FeatureCollection:
        """Potential and unmet demand per area if every segment reached the best areas' take-up."""
        result: FeatureCollection = self._call(
            "get_service_demand", {"service": service}, level=level, percentile=percentile
        )
        return result

    def profile(self, code: str, *, classification: str | None = None) -> dict[str, Any]:
        """The community profile of an area (needs an officer key)."""
        result: dict[str, Any] = self._call("get_area_profile", {"code": code}, classification=classification)
        return result

    def sites(self, *, existing: bool | None = None) -> FeatureCollection:
        """Existing offices and candidate venues."""
        result: FeatureCollection = self._call("list_sites", existing=existing)
        return result

    # ------------------------------------------------------------------ OGC API and exports

    def collections(self) -> list[dict[str, Any]]:
        """The OGC API collections (areas, sites, hot spots per service, ward x segment)."""
        result: list[dict[str, Any]] = self._call("ogc_list_collections")["collections"]
        return result

    def items(
        self,
        collection: str,
        *,
        bbox: tuple[float, float, float, float] | None = None,
        bbox_crs: str | None = None,
        crs: str | None = None,
        datetime: str | None = None,
        page_size: int = 1000,
    ) -> Iterator[Feature]:
        """Every feature of an OGC collection, following ``next`` links page by page."""
        url: str | None = self.url(
            "ogc_get_items",
            {"collectionId": collection},
            limit=page_size,
            bbox=",".join(map(str, bbox)) if bbox else None,
            bbox_crs=bbox_crs,
            crs=crs,
            datetime=datetime,
        )
        while url is not None:
            page = self.get_json(url)
            yield from page["features"]
            url = next((link["href"] for link in page.get("links", []) if link["rel"] == "next"), None)

    def export(
        self,
        collection: str,
        format: Literal["gpkg", "parquet", "xlsx", "zip"] = "gpkg",
        *,
        datetime: str | None = None,
    ) -> bytes:
        """A collection as a file (GeoPackage, GeoParquet, XLSX, CSV + data package) with its metadata."""
        return self.get_bytes(
            self.url("export_collection", {"collectionId": collection}, format=format, datetime=datetime),
            accept="*/*",
        )


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
