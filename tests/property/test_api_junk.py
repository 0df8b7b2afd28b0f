"""Generated junk against every route of the local API: never a 5xx, always a JSON error
with a documented status, and the API keeps serving afterwards (issue 10 point 4).

Each example sends a batch of requests built from junk paths (ids that are non-ASCII,
huge or empty), methods, credentials (none, wrong, admin, session, undecodable bytes),
queries and bodies (random bytes, JSON of any shape, deep nesting, oversize, objects with
the route's real field names holding wrong values) to the real app over real store and
coordinator actors, then checks that health and a good request still work.
"""

from __future__ import annotations

import json
import re
import tempfile
import urllib.parse
from pathlib import Path
from typing import Any

import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.api import MAX_BODY_BYTES, ROUTES, SESSION_PATHS, openapi_document
from tests.bridge.api._parts import SECRET, open_api

_DOCUMENT = openapi_document(SESSION_PATHS)
_TEMPLATES = sorted({path for path, _, _, _ in ROUTES})
_FIELDS = sorted(
    {
        name
        for ops in _DOCUMENT["paths"].values()
        for op in ops.values()
        if "requestBody" in op
        for name in op["requestBody"]["content"]["application/json"]["schema"]["properties"]
    }
)

segments = st.one_of(
    st.text(min_size=0, max_size=30),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.just("9" * 5000),
    st.sampled_from(["1", "0", "-1", "١٢٣", "²", "1e9", "0x10", " 1", "%00", "..", "🙂"]),
)


@st.composite
def paths(draw: st.DrawFn) -> str:
    # Percent-encoded, as junk arrives on the wire; the app sees the decoded text.
    if draw(st.booleans()):
        path = "/" + "/".join(_quoted(s) for s in draw(st.lists(segments, max_size=4)))
        return "/junk" + path if path.startswith("//") else path  # "//x" would be a host
    template = draw(st.sampled_from(_TEMPLATES))
    return re.sub(r"\{[a-z]+\}", lambda _: _quoted(draw(segments)) or "x", template)


def _quoted(segment: str) -> str:
    return urllib.parse.quote(segment.replace("/", ""), safe="", errors="surrogatepass")


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=50)
    | st.just("\ud800")
    | st.just("x" * 20_000),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=12,
)


@st.composite
def bodies(draw: st.DrawFn) -> bytes | None:
    kind = draw(st.sampled_from(["none", "bytes", "json", "object", "deep", "huge", "number"]))
    if kind == "none":
        return None
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "deep":
        depth = draw(st.integers(min_value=500, max_value=60_000))
        return (b'{"message":' + b"[" * depth + b"]" * depth + b"}")[:MAX_BODY_BYTES]
    if kind == "huge":
        return b'{"message": "' + b"x" * (MAX_BODY_BYTES + draw(st.integers(1, 10_000))) + b'"}'
    if kind == "number":
        return b"1" + b"0" * draw(st.integers(min_value=1, max_value=10_000))
    if kind == "json":
        value = draw(json_values)
    else:
        value = draw(st.dictionaries(st.sampled_from(_FIELDS), json_values, max_size=6))
    return json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass")


credentials = st.sampled_from(["none", "wrong", "admin", "session", "bytes", "basic"])
queries = st.dictionaries(
    st.sampled_from(["limit", "state", "x"]),
    st.one_of(st.text(max_size=20), st.integers().map(str), st.just("9" * 5000)),
    max_size=2,
)
requests = st.tuples(
    st.sampled_from(["GET", "POST", "PATCH", "DELETE", "PUT", "HEAD", "OPTIONS"]),
    paths(),
    credentials,
    queries,
    bodies(),
)


def _documented(path: str, method: str) -> set[int] | None:
    """The statuses documented for the route ``path`` matches, else ``None``."""
    for template, ops in _DOCUMENT["paths"].items():
        pattern = (
            "^"
            + re.sub(
                r"\{[a-z]+\}", "[^/]+", re.escape(template).replace(r"\{", "{").replace(r"\}", "}")
            )
            + "$"
        )
        if re.match(pattern, path) and method.lower() in ops:
            return {int(code) for code in ops[method.lower()]["responses"]}
    return None


def _headers(api: Any, credential: str) -> dict[str, Any]:
    value: Any = {
        "none": None,
        "wrong": "Bearer wrong-credential",
        "admin": f"Bearer {SECRET}",
        "session": f"Bearer {api.tokens.token_for(42)}",
        "bytes": b"Bearer \xff\xfe\x80 \xe2\x82",
        "basic": f"Basic {SECRET}",
    }[credential]
    return {} if value is None else {"Authorization": value}


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(batch=st.lists(requests, min_size=1, max_size=6))
def test_junk_never_gets_a_5xx_and_the_api_keeps_serving(
    batch: list[tuple[str, str, str, dict[str, str], bytes | None]],
) -> None:
    async def main() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            async with open_api(Path(tmp)) as api:
                await api.add_session(42)
                for method, path, credential, query, body in batch:
                    response = await api.client.request(
                        method, path, params=query, content=body, headers=_headers(api, credential)
                    )
                    status = response.status_code
                    assert status < 500, (method, path[:80], status, response.text[:300])
                    if method != "HEAD" and status >= 400:
                        assert "error" in response.json(), (method, path[:80], response.text[:300])
                    documented = _documented(response.request.url.path, method)
                    if documented is not None:
                        assert status in documented, (method, path[:80], status, sorted(documented))
                    elif method != "HEAD":
                        assert status in (404, 405, 413), (method, path[:80], status)
                health = await api.client.get("/api/health")
                assert health.json() == {"status": "ok"}
                good = await api.client.post(
                    "/api/lounge", headers=_headers(api, "admin"), json={"message": "still up"}
                )
                assert good.status_code == 201

    trio.run(main)
