"""Response models: what each route answers, so /openapi.json documents it.

The routes build plain dicts (the services' answers); FastAPI validates them against these models and
serializes only what was set (``response_model_exclude_unset``), so an optional key absent from an
answer stays absent. Field order follows the answers'. Request models are the action models in
node_api.actions.
"""
