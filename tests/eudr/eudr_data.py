"""Plot files and statement requests shared by the EUDR tests (and the worked example in the README).

Coordinates are written as text, so each keeps exactly the decimals given (a float would drop trailing zeros)."""

from __future__ import annotations

import json


def polygon_text(ring: list[tuple[str, str]], *, country: str = "CI", area_ha: str | None = None,
                 name: str = "Plot") -> bytes:
    props = {"country": country, "name": name}
    body = json.dumps(props)[:-1]
    if area_ha is not None:
        body += f', "area_ha": {area_ha}'
    coords = ", ".join(f"[{x}, {y}]" for x, y in ring)
    return (f'{{"type": "Feature", "properties": {body}}}, '
            f'"geometry": {{"type": "Polygon", "coordinates": [[{coords}]]}}}}').encode()


def point_text(lon: str, lat: str, *, area_ha: str | None = "2.5", country: str = "CI") -> bytes:
    area = "" if area_ha is None else f', "area_ha": {area_ha}'
    return (f'{{"type": "Feature", "properties": {{"country": "{country}"{area}}}, '
            f'"geometry": {{"type": "Point", "coordinates": [{lon}, {lat}]}}}}').encode()


#: a cocoa plot near Soubré, Côte d'Ivoire: about 0.0045 x 0.0045 degrees (about 24.7 ha)
SOUBRE = [("-6.592100", "5.785400"), ("-6.587600", "5.785400"), ("-6.587600", "5.789900"), ("-6.592100", "5.789900"),
          ("-6.592100", "5.785400")]
SOUBRE_HA = "24.7"
#: a second plot, smaller, near Daloa
DALOA = [("-6.451000", "6.877000"), ("-6.449000", "6.877000"), ("-6.449000", "6.879000"), ("-6.451000", "6.879000"),
         ("-6.451000", "6.877000")]


def dds_request(**over) -> dict:
    req = {
        "operator": {"name": "Chocolaterie Rotterdam B.V.", "address": "Maasboulevard 1, 3011 TX Rotterdam, NL",
                     "eori": "NL123456789"},
        "activity": "import",
        "hsCode": "1801",
        "description": "Cocoa beans, whole, raw, fermented and dried",
        "tradeName": "Soubré single-origin cocoa",
        "netMassKg": 7.0,
    }
    req.update(over)
    return req


def loads(raw: bytes) -> dict:
    return json.loads(raw)
