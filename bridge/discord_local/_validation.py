"""Request-body rules: the types the OpenAPI schema demands and the limits the docs document.

The official schema is looser than the docs in places (it allows 4000 characters of content,
the Nitro limit); Discord enforces the documented numbers for bots, so we do too. These
checks are local to the server rather than imported from ``protocol.discord.limits``:
the server must reject what a buggy client sends, whatever our own client believes.

Every function returns a list of :class:`FieldError`; an empty list means the body is fine.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._errors import FieldError

Path = tuple[str | int, ...]

CONTENT_MAX = 2000
NONCE_MAX = 25
EMBEDS_MAX = 10
EMBED_TOTAL_MAX = 6000
EMBED_TITLE_MAX = 256
EMBED_DESCRIPTION_MAX = 4096
EMBED_FIELDS_MAX = 25
EMBED_FIELD_NAME_MAX = 256
EMBED_FIELD_VALUE_MAX = 1024
EMBED_FOOTER_MAX = 2048
EMBED_AUTHOR_MAX = 256
ACTION_ROWS_MAX = 5
BUTTONS_PER_ROW_MAX = 5
SELECT_OPTIONS_MAX = 25
CUSTOM_ID_MAX = 100
BUTTON_LABEL_MAX = 80
MODAL_TITLE_MAX = 45
MODAL_COMPONENTS_MAX = 5
THREAD_NAME_MAX = 100
AUTO_ARCHIVE_DURATIONS = (60, 1440, 4320, 10080)
CHOICES_MAX = 25
CHOICE_TEXT_MAX = 100
COMMAND_NAME_MAX = 32
COMMAND_DESCRIPTION_MAX = 100


def _too_long(path: Path, limit: int) -> FieldError:
    return FieldError(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def _bad_type(path: Path, kind: str) -> FieldError:
    return FieldError(path, f"{kind.upper()}_TYPE_CONVERT", f"Value must be a valid {kind}.")


def _string(body: Mapping[str, Any], key: str, path: Path, limit: int | None) -> list[FieldError]:
    value = body.get(key)
    if value is None:
        return []
    if not isinstance(value, str):
        return [_bad_type((*path, key), "string")]
    if limit is not None and len(value) > limit:
        return [_too_long((*path, key), limit)]
    return []


def _list(body: Mapping[str, Any], key: str, path: Path) -> tuple[list[Any], list[FieldError]]:
    value = body.get(key)
    if value is None:
        return [], []
    if not isinstance(value, list):
        return [], [_bad_type((*path, key), "array")]
    return value, []


def check_embeds(embeds: list[Any], path: Path) -> list[FieldError]:
    """Embed limits (message.mdx "Embed Limits"), including the 6000-character total."""
    errors: list[FieldError] = []
    if len(embeds) > EMBEDS_MAX:
        errors.append(_too_long(path, EMBEDS_MAX))
    total = 0
    for i, embed in enumerate(embeds):
        here = (*path, i)
        if not isinstance(embed, dict):
            errors.append(_bad_type(here, "dict"))
            continue
        errors += _string(embed, "title", here, EMBED_TITLE_MAX)
        errors += _string(embed, "description", here, EMBED_DESCRIPTION_MAX)
        fields, errs = _list(embed, "fields", here)
        errors += errs
        if len(fields) > EMBED_FIELDS_MAX:
            errors.append(_too_long((*here, "fields"), EMBED_FIELDS_MAX))
        for j, field in enumerate(fields):
            if not isinstance(field, dict):
                errors.append(_bad_type((*here, "fields", j), "dict"))
                continue
            errors += _string(field, "name", (*here, "fields", j), EMBED_FIELD_NAME_MAX)
            errors += _string(field, "value", (*here, "fields", j), EMBED_FIELD_VALUE_MAX)
            total += len(str(field.get("name") or "")) + len(str(field.get("value") or ""))
        footer = footer if isinstance(footer := embed.get("footer"), dict) else {}
        author = author if isinstance(author := embed.get("author"), dict) else {}
        errors += _string(footer, "text", (*here, "footer"), EMBED_FOOTER_MAX)
        errors += _string(author, "name", (*here, "author"), EMBED_AUTHOR_MAX)
        for text in (
            embed.get("title"),
            embed.get("description"),
            footer.get("text"),
            author.get("name"),
        ):
            total += len(text) if isinstance(text, str) else 0
    if total > EMBED_TOTAL_MAX:
        errors.append(
            FieldError(path, "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")
        )
    return errors


def check_components(rows: list[Any], path: Path) -> list[FieldError]:
    """Legacy message components: 5 action rows of 5 buttons or 1 select; custom_id 1-100."""
    errors: list[FieldError] = []
    if len(rows) > ACTION_ROWS_MAX:
        errors.append(_too_long(path, ACTION_ROWS_MAX))
    for i, row in enumerate(rows):
        here = (*path, i)
        if not isinstance(row, dict) or row.get("type") != 1:
            errors.append(FieldError(here, "COMPONENT_TYPE_INVALID", "Expected an action row."))
            continue
        children, errs = _list(row, "components", here)
        errors += errs
        kinds = [c.get("type") for c in children if isinstance(c, dict)]
        if len(children) > BUTTONS_PER_ROW_MAX or (
            len(children) > 1 and any(k != 2 for k in kinds)
        ):
            errors.append(
                FieldError(
                    (*here, "components"),
                    "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                    "The specified component exceeds the maximum width",
                )
            )
        for j, child in enumerate(children):
            errors += _check_child(child, (*here, "components", j))
    return errors


def _check_child(child: Any, path: Path) -> list[FieldError]:
    if not isinstance(child, dict):
        return [_bad_type(path, "dict")]
    errors = _string(child, "custom_id", path, CUSTOM_ID_MAX)
    kind = child.get("type")
    if kind == 2:
        errors += _string(child, "label", path, BUTTON_LABEL_MAX)
        if child.get("style") != 5 and child.get("style") != 6 and not child.get("custom_id"):
            errors.append(
                FieldError((*path, "custom_id"), "BASE_TYPE_REQUIRED", "This field is required")
            )
    if kind == 3:
        options, errs = _list(child, "options", path)
        errors += errs
        if len(options) > SELECT_OPTIONS_MAX:
            errors.append(_too_long((*path, "options"), SELECT_OPTIONS_MAX))
    return errors


def check_message_body(body: Mapping[str, Any], *, documented: bool) -> list[FieldError]:
    """A message create or edit body (JSON or the ``payload_json`` part of a multipart body)."""
    errors: list[FieldError] = []
    errors += _string(body, "content", (), CONTENT_MAX if documented else 4000)
    nonce = body.get("nonce")
    if nonce is not None:
        if isinstance(nonce, bool) or not isinstance(nonce, str | int):
            errors.append(_bad_type(("nonce",), "string"))
        elif isinstance(nonce, str) and len(nonce) > NONCE_MAX:
            errors.append(_too_long(("nonce",), NONCE_MAX))
    embeds, errs = _list(body, "embeds", ())
    errors += errs
    if documented:
        errors += check_embeds(embeds, ("embeds",))
    elif len(embeds) > EMBEDS_MAX:
        errors.append(_too_long(("embeds",), EMBEDS_MAX))
    rows, errs = _list(body, "components", ())
    errors += errs
    if documented:
        errors += check_components(rows, ("components",))
    if body.get("flags") is not None and not isinstance(body.get("flags"), int):
        errors.append(_bad_type(("flags",), "integer"))
    return errors


def check_thread_body(body: Mapping[str, Any]) -> list[FieldError]:
    """Start-thread bodies: name 1-100 and an allowed auto_archive_duration."""
    errors: list[FieldError] = []
    name = body.get("name")
    if not isinstance(name, str) or not name:
        errors.append(FieldError(("name",), "BASE_TYPE_REQUIRED", "This field is required"))
    elif len(name) > THREAD_NAME_MAX:
        errors.append(_too_long(("name",), THREAD_NAME_MAX))
    duration = body.get("auto_archive_duration")
    if duration is not None and duration not in AUTO_ARCHIVE_DURATIONS:
        errors.append(
            FieldError(
                ("auto_archive_duration",),
                "BASE_TYPE_CHOICES",
                f"Value must be one of {AUTO_ARCHIVE_DURATIONS}.",
            )
        )
    return errors


def check_modal(data: Mapping[str, Any]) -> list[FieldError]:
    """Modal callback data (receiving-and-responding.mdx "Modal")."""
    path: Path = ("data",)
    errors = _string(data, "custom_id", path, CUSTOM_ID_MAX)
    errors += _string(data, "title", path, MODAL_TITLE_MAX)
    if not data.get("custom_id"):
        errors.append(
            FieldError((*path, "custom_id"), "BASE_TYPE_REQUIRED", "This field is required")
        )
    components, errs = _list(data, "components", path)
    errors += errs
    if not 1 <= len(components) <= MODAL_COMPONENTS_MAX:
        errors.append(
            FieldError(
                (*path, "components"),
                "BASE_TYPE_BAD_LENGTH",
                f"Must be between 1 and {MODAL_COMPONENTS_MAX} in length.",
            )
        )
    return errors


def check_choices(data: Mapping[str, Any]) -> list[FieldError]:
    """Autocomplete result: at most 25 choices, each a ``name`` of 1-100 characters and a
    ``value`` (a string of 1-100 characters, or a number) (receiving-and-responding.mdx,
    "Autocomplete"; application-commands.mdx "Application Command Option Choice
    Structure")."""
    choices, errors = _list(data, "choices", ("data",))
    if len(choices) > CHOICES_MAX:
        errors.append(_too_long(("data", "choices"), CHOICES_MAX))
    for i, choice in enumerate(choices[:CHOICES_MAX]):
        path: Path = ("data", "choices", i)
        if not isinstance(choice, dict):
            errors.append(_bad_type(path, "dict"))
            continue
        name, value = choice.get("name"), choice.get("value")
        if not isinstance(name, str) or not 1 <= len(name) <= CHOICE_TEXT_MAX:
            errors.append(
                FieldError(
                    (*path, "name"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
                )
            )
        if isinstance(value, str):
            if not 1 <= len(value) <= CHOICE_TEXT_MAX:
                errors.append(
                    FieldError(
                        (*path, "value"),
                        "BASE_TYPE_BAD_LENGTH",
                        "Must be between 1 and 100 in length.",
                    )
                )
        elif isinstance(value, bool) or not isinstance(value, int | float):
            errors.append(_bad_type((*path, "value"), "string"))
    return errors


def check_command(command: Any, path: Path) -> list[FieldError]:
    """One application command definition (application-commands.mdx limits)."""
    if not isinstance(command, dict):
        return [_bad_type(path, "dict")]
    errors: list[FieldError] = []
    name = command.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= COMMAND_NAME_MAX:
        errors.append(
            FieldError(
                (*path, "name"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length."
            )
        )
    kind = command.get("type", 1)
    if kind == 1:
        errors += _string(command, "description", path, COMMAND_DESCRIPTION_MAX)
    options, errs = _list(command, "options", path)
    errors += errs
    if len(options) > 25:
        errors.append(_too_long((*path, "options"), 25))
    for i, option in enumerate(options):
        if isinstance(option, dict) and option.get("autocomplete") and option.get("choices"):
            errors.append(
                FieldError(
                    (*path, "options", i, "autocomplete"),
                    "AUTOCOMPLETE_AND_CHOICES",
                    "Autocomplete and choices cannot both be set.",
                )
            )
    return errors
