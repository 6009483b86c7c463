"""Response models of the API's routes (what ``/openapi.json`` shows each answer contains)."""
