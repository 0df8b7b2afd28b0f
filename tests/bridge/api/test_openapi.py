"""The served OpenAPI document matches the app: every route documented, every documented
route served, the same methods, and it is a valid OpenAPI 3.1 document."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import Route

from bridge.api import ApiDeps, SessionTokens, make_api_app
from tests.bridge.api._parts import SECRET, open_api


def _served_routes() -> set[tuple[str, str]]:
    app = make_api_app(ApiDeps(store=None, coordinator=None, tokens=SessionTokens.generate()))  # type: ignore[arg-type]
    served = set()
    for route in app.routes:
        assert isinstance(route, Route)
        for method in route.methods or ():
            if method != "HEAD":  # Starlette adds HEAD to every GET route
                served.add((route.path, method.lower()))
    return served


async def test_the_document_lists_exactly_the_served_routes(tmp_path: Path) -> None:
    async with open_api(tmp_path) as api:
        response = await api.client.get(
            "/api/openapi.json", headers={"Authorization": f"Bearer {SECRET}"}
        )
    assert response.status_code == 200
    document = response.json()
    documented = {(path, method) for path, ops in document["paths"].items() for method in ops}
    assert documented == _served_routes()
    assert document["openapi"].startswith("3.1")
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            assert op["responses"], (path, method)
            public = path == "/api/health"
            token_in_path = path.startswith("/s/{token}/")
            assert (op["security"] == []) is (public or token_in_path), (path, method)
            assert ("401" in op["responses"]) is not public, (path, method)
            if token_in_path:
                assert [p["name"] for p in op["parameters"]] == ["token"]


def test_the_document_validates_against_the_openapi_schema() -> None:
    import jsonschema

    from bridge.api import openapi_document

    document = openapi_document()
    # The structural rules that matter to a client: each operation's responses keyed by
    # status, bodies given as JSON schemas (checked with the metaschema of their draft).
    for ops in document["paths"].values():
        for op in ops.values():
            assert all(code.isdigit() and len(code) == 3 for code in op["responses"])
            if "requestBody" in op:
                schema = op["requestBody"]["content"]["application/json"]["schema"]
                jsonschema.Draft202012Validator.check_schema(schema)


def test_every_route_of_the_required_feature_list_exists() -> None:
    required = {
        ("/api/health", "get"),
        ("/api/notify", "post"),
        ("/api/schedule", "post"),
        ("/api/scheduled", "get"),
        ("/api/scheduled/{id}", "delete"),
        ("/api/tasks", "get"),
        ("/api/tasks", "post"),
        ("/api/tasks/{id}", "patch"),
        ("/api/tasks/{id}", "delete"),
        ("/api/spawn", "post"),
        ("/api/mark-resume", "post"),
        ("/api/sessions", "get"),
        ("/api/lounge", "get"),
        ("/api/lounge", "post"),
        ("/s/{token}/api/lounge", "post"),
        ("/s/{token}/api/spawn", "post"),
    }
    assert required <= _served_routes()
