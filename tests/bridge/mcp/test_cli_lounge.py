"""``ccbridge lounge post|read`` against a real HTTP server (a stand-in for the bridge's
API in a thread): the URL comes from ``CCDB_API_URL`` or ``--url``, the admin secret only
from ``--secret`` or ``CCBRIDGE_API_SECRET``, and a refusal is one line and exit 1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from bridge.cli import EXIT_API_ERROR, main


class Recorder:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 201
        self.answer: Any = {"ok": True, "author": "thread 5"}


@pytest.fixture
def api() -> Iterator[tuple[str, Recorder]]:
    recorder = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            recorder.requests.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "auth": self.headers.get("Authorization"),
                    "body": json.loads(body) if body else None,
                }
            )
            data = json.dumps(recorder.answer).encode()
            self.send_response(recorder.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _answer

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", recorder
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_post_uses_the_sessions_own_url(
    api: tuple[str, Recorder], monkeypatch: pytest.MonkeyPatch
) -> None:
    base, recorder = api
    monkeypatch.setenv("CCDB_API_URL", f"{base}/s/tok-1")
    monkeypatch.delenv("CCBRIDGE_API_SECRET", raising=False)
    assert main(["lounge", "post", "deploying now", "--label", "ops"]) == 0
    assert recorder.requests == [
        {
            "method": "POST",
            "path": "/s/tok-1/api/lounge",
            "auth": None,
            "body": {"message": "deploying now", "label": "ops"},
        }
    ]


def test_post_as_admin_with_url_and_secret(
    api: tuple[str, Recorder], monkeypatch: pytest.MonkeyPatch
) -> None:
    base, recorder = api
    monkeypatch.delenv("CCDB_API_URL", raising=False)
    assert main(["lounge", "post", "hello", "--url", base, "--secret", "s" * 20]) == 0
    (request,) = recorder.requests
    assert request["path"] == "/api/lounge"
    assert request["auth"] == "Bearer " + "s" * 20


def test_read_prints_one_line_per_message(
    api: tuple[str, Recorder], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    base, recorder = api
    recorder.status = 200
    recorder.answer = {
        "messages": [
            {"author": "thread 5", "message": "first", "created_at": 0, "thread_id": "5"},
            {"author": "admin", "message": "second", "created_at": 60, "thread_id": None},
        ]
    }
    monkeypatch.setenv("CCDB_API_URL", f"{base}/s/tok-1")
    assert main(["lounge", "read", "--limit", "2"]) == 0
    assert recorder.requests[0]["path"] == "/s/tok-1/api/lounge?limit=2"
    assert capsys.readouterr().out.splitlines() == [
        "[1970-01-01 00:00 UTC] thread 5: first",
        "[1970-01-01 00:01 UTC] admin: second",
    ]
    assert main(["lounge", "read", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == recorder.answer


def test_a_refusal_is_one_line_and_exit_1(
    api: tuple[str, Recorder], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    base, recorder = api
    recorder.status = 422
    recorder.answer = {
        "error": "a lounge line is at most 1000 characters",
        "problems": ["message: 1001 characters"],
    }
    monkeypatch.setenv("CCDB_API_URL", base)
    assert main(["lounge", "post", "x" * 1001]) == EXIT_API_ERROR
    err = capsys.readouterr().err
    assert err == (
        "ccbridge lounge: 422: a lounge line is at most 1000 characters "
        "(message: 1001 characters)\n"
    )


def test_no_url_anywhere_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CCDB_API_URL", raising=False)
    assert main(["lounge", "read"]) == EXIT_API_ERROR
    assert "no API URL" in capsys.readouterr().err
    assert main(["lounge", "read", "--url", "ftp://x"]) == EXIT_API_ERROR
    assert "http://" in capsys.readouterr().err


def test_an_unreachable_api_is_one_line_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("CCDB_API_URL", f"http://127.0.0.1:{port}/s/secret-token")
    assert main(["lounge", "post", "hi"]) == EXIT_API_ERROR
    err = capsys.readouterr().err
    assert err.startswith("ccbridge lounge: cannot reach the bridge API")
    assert "secret-token" not in err


def test_mcp_without_a_url_exits_1_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CCDB_API_URL", raising=False)
    assert main(["mcp"]) == EXIT_API_ERROR
    assert capsys.readouterr().err.startswith("ccbridge mcp: no API URL")


def test_mcp_never_picks_up_the_admin_secret_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bridge.mcp import ApiClient
    from bridge.mcp import server as mcp_server

    served: list[ApiClient] = []
    monkeypatch.setattr(mcp_server, "run_stdio", served.append)
    monkeypatch.setenv("CCDB_API_URL", "http://127.0.0.1:9/s/tok-1")
    monkeypatch.setenv("CCBRIDGE_API_SECRET", "a-leaked-admin-secret")
    assert main(["mcp"]) == 0
    assert [(c.base_url, c.secret) for c in served] == [("http://127.0.0.1:9/s/tok-1", None)]
