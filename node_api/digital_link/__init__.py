"""GS1 Digital Link for product tokens (issue 14): GTIN rules (``gs1``), the on-chain bindings of a GTIN
with a lot or serial to a token (``bindings``: contract ProductIdentifiers), the RFC 9264 linkset a resolver
answers (``linkset``), and QR codes (``qr``)."""
