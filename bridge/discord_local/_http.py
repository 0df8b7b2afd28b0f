"""Request plumbing shared by the REST, CDN and control apps: bodies, multipart, exchanges."""

from __future__ import annotations

import json
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

import attrs

from ._errors import DiscordHTTPError, FieldError, invalid_form_body
from ._world import NewFile

JSON = dict[str, Any]


@attrs.frozen(kw_only=True)
class Exchange:
    """One REST request and its response, as observers (e.g. schema checks in tests) see it."""

    method: str
    path: str
    """Path below the API base, e.g. ``/channels/123/messages``."""
    route: str
    """The matched route key, e.g. ``POST /channels/{channel_id}/messages``; "" if none."""
    query: dict[str, str]
    request_content_type: str
    request_json: Any
    """The JSON body, or the parsed ``payload_json`` part of a multipart body; None if absent."""
    request_files: tuple[str, ...]
    """Form field names of uploaded files (``files[0]`` ...)."""
    status: int
    response_headers: dict[str, str]
    response_json: Any
    """The parsed response body, None for empty bodies."""
    user_agent: str = ""
    """The request's ``User-Agent`` (tells which client sent it, e.g. the bridge's)."""


@attrs.frozen(kw_only=True)
class Body:
    """A parsed request body."""

    json: Any
    files: list[NewFile]
    file_fields: tuple[str, ...] = ()
    content_type: str = ""


def parse_body(content_type: str, raw: bytes) -> Body:
    """JSON, or multipart/form-data with ``payload_json`` and ``files[n]`` parts.

    Raises:
        DiscordHTTPError: 400 50109 for JSON that does not parse (Discord's code for it).
    """
    if content_type.startswith("multipart/form-data"):
        return _parse_multipart(content_type, raw)
    if not raw:
        return Body(json=None, files=[], content_type=content_type)
    try:
        return Body(json=json.loads(raw), files=[], content_type=content_type)
    except ValueError:
        raise DiscordHTTPError(400, 50109, "The request body contains invalid JSON.") from None


def _parse_multipart(content_type: str, raw: bytes) -> Body:
    # The stdlib MIME parser handles form-data when given the header it came with.
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + raw
    )
    payload: Any = None
    files: list[NewFile] = []
    fields: list[str] = []
    if not message.is_multipart():
        raise invalid_form_body([FieldError((), "MULTIPART_INVALID", "Malformed multipart body.")])
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        decoded = part.get_payload(decode=True)  # bytes for a leaf part, None for a multipart
        data = decoded if isinstance(decoded, bytes) else b""
        if name == "payload_json":
            try:
                payload = json.loads(data)
            except ValueError:
                raise DiscordHTTPError(
                    400, 50109, "The request body contains invalid JSON."
                ) from None
        elif part.get_filename() is not None:
            fields.append(str(name))
            files.append(
                NewFile(
                    filename=str(part.get_filename()),
                    data=data,
                    content_type=part.get_content_type(),
                )
            )
    if isinstance(payload, dict):
        # payload_json's attachments[] carry descriptions (and ids matching file order).
        for att in payload.get("attachments") or []:
            if isinstance(att, dict) and str(att.get("id", "")).isdigit():
                idx = int(att["id"])
                if idx < len(files) and att.get("description"):
                    f = files[idx]
                    files[idx] = attrs.evolve(f, description=str(att["description"]))
    return Body(json=payload, files=files, file_fields=tuple(fields), content_type=content_type)
