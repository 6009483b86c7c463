"""ISCC PLUS sustainability declarations, template v4.0 (issue 14): one declaration per delivery that carries a
claim, built from the index (``declarations``), its field mapping in one place (``template``), its JSON schema
(``schema.json``, ``validate``) and a printable HTML document (``document``)."""
