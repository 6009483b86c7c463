"""QR codes (SVG) of GS1 Digital Link URIs and product page URLs, with segno (pinned in requirements.lock)."""

from __future__ import annotations

import io

import segno


def svg(data: str, *, scale: int = 4, title: str | None = None) -> bytes:
    """A standalone SVG QR code of ``data`` (error correction M, quiet zone of 4 modules)."""
    code = segno.make_qr(data, error="m")
    out = io.BytesIO()
    code.save(out, kind="svg", scale=scale, border=4, xmldecl=True, svgns=True, title=title or data,
              svgclass="qr", lineclass="qr-line")
    return out.getvalue()
