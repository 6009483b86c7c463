"""EUDR (Regulation (EU) 2023/1115): plots of land, due-diligence statements, the TRACES client.

``geo`` checks a plot's GeoJSON (shapely, pyproj); ``plots`` keeps the files and says who may read one;
``lineage`` walks a product's inputs on chain (EUDR status, plots, upstream statement references);
``dds`` builds and checks a due-diligence statement with the Annex II fields; ``traces`` speaks SOAP
with WS-Security to the EU information system (or the stand-in of ``testkit/traces_standin.py``);
``service`` puts them together for the node's ``/eudr`` routes (``node_api/api/routes/eudr.py``).
"""
