"""FastAPI application of the node: ``create_app(settings)`` in app.py, routes in routes/."""
