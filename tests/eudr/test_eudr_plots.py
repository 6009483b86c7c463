"""Plot files (node_api/eudr/geo.py): each EUDR geolocation rule refused with its name, valid plots accepted,
and the access rule of node_api/eudr/plots.py (who may read a plot). No chain."""

from __future__ import annotations

import pytest

from eudr_data import DALOA, SOUBRE, SOUBRE_HA, point_text, polygon_text
from node_api.errors import ApiError
from node_api.eudr.geo import PlotInvalid, check_plot, geolocation_hash
from node_api.eudr.plots import Caller, may_read


def rule_of(raw: bytes) -> str:
    with pytest.raises(PlotInvalid) as exc:
        check_plot(raw)
    return exc.value.rule


def test_eudr_polygon_plot_accepted_with_geodesic_area():
    raw = polygon_text(SOUBRE, area_ha=SOUBRE_HA)
    plot = check_plot(raw)
    assert plot.kind == "polygon" and plot.country == "CI"
    assert 23.5 < plot.area_ha < 26.0  # pyproj on the WGS84 ellipsoid
    assert plot.geolocation_hash == geolocation_hash(raw) and len(plot.geolocation_hash) == 66


def test_eudr_point_plot_accepted_up_to_4ha():
    plot = check_plot(point_text("-6.590000", "5.787000", area_ha="4"))
    assert plot.kind == "point" and plot.area_ha == 4.0


def test_eudr_feature_collection_of_one_accepted():
    raw = b'{"type": "FeatureCollection", "features": [' + polygon_text(DALOA) + b"]}"
    assert check_plot(raw).kind == "polygon"


@pytest.mark.parametrize("raw,rule", [
    (b"{not json", "geojson.parse"),
    (b'{"type": "FeatureCollection", "features": []}', "geojson.type"),
    (b'{"type": "Polygon", "coordinates": []}', "geojson.type"),
    (b'{"type": "Feature", "properties": {"country": "CI"}, "geometry": {"type": "LineString", "coordinates": '
     b'[[1.000000, 2.000000], [1.000001, 2.000001]]}}', "geometry.type"),
    (point_text("-6.59", "5.787000"), "coordinates.precision"),
    (point_text("-6", "5.787000"), "coordinates.precision"),
    (point_text("-186.590000", "5.787000"), "coordinates.range"),
    (point_text("-6.590000", "95.787000"), "coordinates.range"),
    (point_text("-6.590000", "5.787000", area_ha=None), "area.declared"),
    (point_text("-6.590000", "5.787000", area_ha="-1"), "area.declared"),
    (point_text("-6.590000", "5.787000", area_ha="4.5"), "area.point_over_4ha"),
    (point_text("-6.590000", "5.787000", country="Ivory Coast"), "properties.country"),
    (polygon_text(SOUBRE[:4]), "ring.closed"),
    (polygon_text([SOUBRE[0], SOUBRE[1], SOUBRE[0]]), "ring.points"),
    # a bow tie: the ring crosses itself
    (polygon_text([("-6.592100", "5.785400"), ("-6.587600", "5.789900"), ("-6.587600", "5.785400"),
                   ("-6.592100", "5.789900"), ("-6.592100", "5.785400")]), "polygon.valid"),
    (polygon_text(SOUBRE, area_ha="2.0"), "area.mismatch"),
    (polygon_text([("-6.000000", "5.000000"), ("-4.000000", "5.000000"), ("-4.000000", "7.000000"),
                   ("-6.000000", "7.000000"), ("-6.000000", "5.000000")]), "area.implausible"),
    (b'{"type": "Feature", "crs": {"type": "name", "properties": {"name": "EPSG:3857"}}, "properties": '
     b'{"country": "CI", "area_ha": 1}, "geometry": {"type": "Point", "coordinates": [-6.590000, 5.787000]}}',
     "geojson.crs"),
    (b'{"type": "Feature", "properties": {"country": "CI", "area_ha": 1}, "geometry": {"type": "Point", '
     b'"coordinates": ["-6.590000", 5.787000]}}', "coordinates.shape"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_eudr_invalid_plot_refused_naming_rule(raw, rule):
    assert rule_of(raw) == rule


def test_eudr_zero_area_polygon_refused():
    # all corners on one line: a valid-looking ring that encloses nothing (shapely calls it invalid)
    line = [("-6.000000", "5.000000"), ("-5.999000", "5.000000"), ("-5.998000", "5.000000"), ("-6.000000", "5.000000")]
    assert rule_of(polygon_text(line)) in ("polygon.valid", "area.zero")


def test_eudr_oversized_file_refused():
    assert rule_of(b" " * (25 * 1024 * 1024 + 1)) == "geojson.size"


# ---------------------------------------------------------------------------------------------- who may read
META = {"registeredBy": 3}


def test_eudr_plot_readable_by_admin_and_registrant():
    may_read(Caller(True, None), META, batch_id=None, lineage_has_plot=False, holds_batch=False)
    may_read(Caller(False, "0xA", 3, 4), META, batch_id=None, lineage_has_plot=False, holds_batch=False)


def test_eudr_plot_readable_by_holder_or_auditor_of_a_batch_on_it():
    may_read(Caller(False, "0xB", 5, 4), META, batch_id=7, lineage_has_plot=True, holds_batch=True)
    may_read(Caller(False, "0xC", 9, 16), META, batch_id=7, lineage_has_plot=True, holds_batch=False)


@pytest.mark.parametrize("caller,batch,in_lineage,holds,why", [
    (Caller(False, "0xB", 5, 4), None, False, False, "registered this plot"),  # no batch named
    (Caller(False, "0xB", 5, 4), 7, False, True, "does not include"),  # the batch is not on the plot
    (Caller(False, "0xB", 5, 4), 7, True, False, "neither holds"),  # neither holder nor auditor
    (Caller(False, "0xD", 0, 0), 7, True, True, "neither holds"),  # an unregistered wallet
], ids=["no-batch", "batch-not-on-plot", "not-holder", "unregistered"])
def test_eudr_plot_refused_to_others(caller, batch, in_lineage, holds, why):
    with pytest.raises(ApiError) as exc:
        may_read(caller, META, batch_id=batch, lineage_has_plot=in_lineage, holds_batch=holds)
    assert exc.value.status == 403 and exc.value.error == "PlotAccessDenied" and why in exc.value.message
