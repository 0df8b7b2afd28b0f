"""The child environment (X4): no variable holding the bot token or the API secret, even
inside a longer value (a header, a URL), reaches a ``claude`` child; everything else does."""

from __future__ import annotations

from urllib.parse import quote

from hypothesis import given
from hypothesis import strategies as st

from protocol.claude.argv import SECRET_VARIABLES, child_env, secret_forms

# Lone surrogates included: os.environ holds undecodable bytes as those.
_TEXT = st.text(st.characters(exclude_categories=("Cc",)) | st.sampled_from("\n\t"), max_size=20)
_SECRET = st.text(min_size=1, max_size=24)
_NAME = st.from_regex(r"[A-Z][A-Z0-9_]{0,15}", fullmatch=True)


@st.composite
def environments(draw: st.DrawFn) -> tuple[dict[str, str], list[str]]:
    """An environment some of whose values embed a secret (as is or percent-encoded)."""
    secrets = draw(st.lists(_SECRET, min_size=1, max_size=2))
    env: dict[str, str] = {}
    for name in draw(st.lists(_NAME | st.sampled_from(sorted(SECRET_VARIABLES)), max_size=8)):
        embed = draw(st.sampled_from(["none", "plain", "encoded"]))
        secret = draw(st.sampled_from(secrets))
        inner = {
            "none": "",
            "plain": secret,
            "encoded": quote(secret, safe="", errors="surrogatepass"),
        }
        env[name] = draw(_TEXT) + inner[embed] + draw(_TEXT)
    return env, secrets


@given(environments(), st.integers(min_value=1, max_value=2**64 - 1))
def test_no_variable_holding_a_secret_reaches_the_child(
    case: tuple[dict[str, str], list[str]], thread_id: int
) -> None:
    base, secrets = case
    env = child_env(base, thread_id=thread_id, api_url="http://127.0.0.1:1/api", secrets=secrets)
    forms = secret_forms(secrets)
    for key, value in env.items():
        for form in forms:
            assert form not in value
            assert form not in key
    for key, value in base.items():
        clean = key not in SECRET_VARIABLES and not any(f in value or f in key for f in forms)
        # Nothing else is lost: a variable holding no secret reaches the child unchanged.
        assert (env.get(key) == value) if clean else (key not in env)
    if not any(form in f"DISCORD_THREAD_ID={thread_id}" for form in forms):
        assert env["DISCORD_THREAD_ID"] == str(thread_id)


@given(_SECRET, _TEXT, _TEXT)
def test_extra_variables_are_filtered_too(secret: str, before: str, after: str) -> None:
    env = child_env({}, secrets=[secret], extra={"SESSION_URL": before + secret + after})
    assert "SESSION_URL" not in env


def test_a_secret_inside_a_header_or_a_url_is_removed() -> None:
    token = "MTIz.abc.def"
    secret = "s3cret+/with=chars"
    base = {
        "PATH": "/usr/bin",
        "AUTH_HEADER": f"Authorization: Bot {token}",
        "HOOK_URL": f"https://example.com/hook?key={quote(secret, safe='')}",
        "PLAIN_COPY": secret,
        "ANTHROPIC_API_KEY": "sk-ant-keep-me",
    }
    env = child_env(base, secrets=[token, secret])
    assert set(env) == {"PATH", "ANTHROPIC_API_KEY", "CLAUDE_CODE_ENABLE_TODO_TOOLS"}
