"""A plot's geolocation file, checked as the EUDR asks (Art. 2(28), Art. 9(1)(d), the TRACES GeoJSON rules).

One plot per file: a GeoJSON ``Feature`` (or a ``FeatureCollection`` of exactly one) whose geometry is a
``Point``, ``Polygon`` or ``MultiPolygon`` in WGS84 (EPSG:4326), and whose properties give the country of
production (``country``, ISO 3166-1 alpha-2) and the declared area in hectares (``area_ha``; required for a
point). Every refusal is a :class:`PlotInvalid` naming its rule:

``geojson.size``          larger than 25 MB (the limit of a statement's geolocation file)
``geojson.parse``         not JSON
``geojson.type``          not a Feature, or a FeatureCollection of one Feature
``geojson.crs``           a ``crs`` member other than WGS84 (EPSG:4326 / OGC CRS84)
``geometry.type``         not a Point, Polygon or MultiPolygon
``coordinates.shape``     a position is not [longitude, latitude] (numbers; an altitude may follow)
``coordinates.range``     longitude outside [-180, 180] or latitude outside [-90, 90]
``coordinates.precision`` a coordinate with fewer than 6 decimal digits
``ring.points``           a ring with fewer than 4 positions
``ring.closed``           a ring whose last position is not its first
``polygon.valid``         a self-intersecting or otherwise invalid polygon (shapely's explanation follows)
``area.declared``         a point without a declared area, or a declared area that is not a positive number
``area.point_over_4ha``   a point for a plot declared above 4 ha (such a plot needs a polygon)
``area.zero``             a polygon of no area
``area.implausible``      a polygon above 100,000 ha (no single plot of land is)
``area.mismatch``         a polygon whose geodesic area differs from the declared area by more than 10 %
``properties.country``    no ISO 3166-1 alpha-2 country code
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from eth_utils import keccak
from pyproj import Geod
from shapely.geometry import shape
from shapely.validation import explain_validity

MAX_BYTES = 25 * 1024 * 1024
MIN_DECIMALS = 6
POINT_MAX_HA = 4.0
MAX_PLOT_HA = 100_000.0
AREA_TOLERANCE = 0.10
_WGS84 = {"EPSG:4326", "urn:ogc:def:crs:EPSG::4326", "urn:ogc:def:crs:OGC:1.3:CRS84", "urn:ogc:def:crs:OGC::CRS84"}
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_GEOD = Geod(ellps="WGS84")


class PlotInvalid(ValueError):
    """A plot file broke ``rule`` (one of the rules listed in this module's docstring)."""

    def __init__(self, rule: str, message: str):
        super().__init__(f"{rule}: {message}")
        self.rule = rule
        self.message = message


@dataclass(frozen=True)
class Plot:
    geolocation_hash: str  # 0x + keccak256 of the file's bytes: what createOrigin records on chain
    kind: str  # "point" or "polygon"
    area_ha: float  # geodesic area of a polygon, the declared area of a point
    declared_area_ha: float | None
    country: str
    feature: dict[str, Any]  # the Feature, parsed (floats)


def geolocation_hash(raw: bytes) -> str:
    """The plot hash as the chain keeps it: keccak-256 of the GeoJSON file exactly as uploaded."""
    return "0x" + keccak(raw).hex()


def _decimals(d: Decimal) -> int:
    exp = d.as_tuple().exponent
    return -exp if isinstance(exp, int) and exp < 0 else 0


def _positions(geometry_type: str, coords: Any) -> list[list[list[Any]]]:
    """The rings (lists of positions) of a Polygon / MultiPolygon, or [[point]] for a Point."""
    try:
        if geometry_type == "Point":
            return [[coords]]
        if geometry_type == "Polygon":
            return [list(r) for r in coords]
        return [list(r) for poly in coords for r in poly]
    except TypeError:
        raise PlotInvalid("coordinates.shape", f"{geometry_type} coordinates are not nested lists") from None


def _check_position(p: Any) -> None:
    if not isinstance(p, list) or len(p) not in (2, 3) or not all(isinstance(x, (int, Decimal)) and not isinstance(x, bool)
                                                                  for x in p):
        raise PlotInvalid("coordinates.shape", f"position {p!r} is not [longitude, latitude]")
    lon, lat = p[0], p[1]
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise PlotInvalid("coordinates.range", f"position [{lon}, {lat}] is outside longitude -180..180 / latitude -90..90")
    for x in (lon, lat):
        if not isinstance(x, Decimal) or _decimals(x) < MIN_DECIMALS:
            raise PlotInvalid("coordinates.precision",
                              f"coordinate {x} has fewer than {MIN_DECIMALS} decimal digits (EUDR geolocation precision)")


def _floats(v: Any) -> Any:
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, list):
        return [_floats(x) for x in v]
    if isinstance(v, dict):
        return {k: _floats(x) for k, x in v.items()}
    return v


def parse_plot(raw: bytes) -> Plot:
    """The plot in ``raw`` (a GeoJSON file), checked; raises PlotInvalid naming the first rule broken."""
    if len(raw) > MAX_BYTES:
        raise PlotInvalid("geojson.size", f"{len(raw)} bytes; a geolocation file is limited to 25 MB")
    try:
        doc = json.loads(raw, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PlotInvalid("geojson.parse", f"not JSON: {exc}") from None
    if isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
        feats = doc.get("features")
        if not isinstance(feats, list) or len(feats) != 1:
            raise PlotInvalid("geojson.type", "a FeatureCollection must hold exactly one Feature (one plot per file)")
        crs = doc.get("crs")
        doc = feats[0]
    else:
        crs = doc.get("crs") if isinstance(doc, dict) else None
    if not isinstance(doc, dict) or doc.get("type") != "Feature" or not isinstance(doc.get("geometry"), dict):
        raise PlotInvalid("geojson.type", "expected a GeoJSON Feature with a geometry")
    crs = doc.get("crs", crs)
    if crs is not None:
        name = (crs.get("properties") or {}).get("name") if isinstance(crs, dict) else None
        if name not in _WGS84:
            raise PlotInvalid("geojson.crs", f"coordinate reference system {name!r}: only WGS84 (EPSG:4326) is accepted")
    geometry = doc["geometry"]
    gtype = geometry.get("type")
    if gtype not in ("Point", "Polygon", "MultiPolygon"):
        raise PlotInvalid("geometry.type", f"{gtype!r}: a plot is a Point, Polygon or MultiPolygon")
    props = doc.get("properties") or {}
    country = props.get("country")
    if not isinstance(country, str) or not _COUNTRY.match(country):
        raise PlotInvalid("properties.country", "properties.country must be the ISO 3166-1 alpha-2 code of the country "
                          "of production (e.g. \"CI\")")
    declared_raw = props.get("area_ha")
    declared: float | None = None
    if declared_raw is not None:
        if isinstance(declared_raw, bool) or not isinstance(declared_raw, (int, Decimal)) or declared_raw <= 0:
            raise PlotInvalid("area.declared", "properties.area_ha must be a positive number of hectares")
        declared = float(declared_raw)
    rings = _positions(gtype, geometry.get("coordinates"))
    for ring in rings:
        for p in ring:
            _check_position(p)
        if gtype != "Point":
            if len(ring) < 4:
                raise PlotInvalid("ring.points", f"a ring has {len(ring)} positions; at least 4 (closed) are needed")
            if ring[0] != ring[-1]:
                raise PlotInvalid("ring.closed", f"a ring starts at {_floats(ring[0])} and ends at {_floats(ring[-1])}: "
                                  "its last position must repeat its first")
    feature = _floats({"type": "Feature", "geometry": geometry, "properties": props})
    if gtype == "Point":
        if declared is None:
            raise PlotInvalid("area.declared", "a plot given as a point needs its declared area (properties.area_ha)")
        if declared > POINT_MAX_HA:
            raise PlotInvalid("area.point_over_4ha", f"declared area {declared} ha: a plot above 4 ha must be a polygon")
        return Plot("", "point", declared, declared, country, feature)
    geom = shape(feature["geometry"])
    if not geom.is_valid:
        raise PlotInvalid("polygon.valid", f"invalid polygon: {explain_validity(geom)}")
    area_m2, _ = _GEOD.geometry_area_perimeter(geom)
    area_ha = abs(area_m2) / 10_000
    if area_ha <= 0:
        raise PlotInvalid("area.zero", "the polygon encloses no area")
    if area_ha > MAX_PLOT_HA:
        raise PlotInvalid("area.implausible", f"{area_ha:,.1f} ha is not a plausible plot of land (at most {MAX_PLOT_HA:,.0f} ha)")
    if declared is not None and abs(area_ha - declared) > AREA_TOLERANCE * declared:
        raise PlotInvalid("area.mismatch", f"geodesic area {area_ha:.4f} ha differs from the declared {declared} ha by "
                          f"more than {AREA_TOLERANCE:.0%}")
    return Plot("", "polygon", round(area_ha, 6), declared, country, feature)


def check_plot(raw: bytes) -> Plot:
    """parse_plot with the file's hash filled in."""
    plot = parse_plot(raw)
    return Plot(geolocation_hash(raw), plot.kind, plot.area_ha, plot.declared_area_ha, plot.country, plot.feature)
