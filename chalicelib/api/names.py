"""The rules of a job name, as text and as patterns: what the native and Dapr faces check and
what their OpenAPI documents say. No pydantic here: the Dapr face checks a name from its URL
without loading any model (cold start, issue 19)."""

from __future__ import annotations

#: What ``str.isspace`` calls whitespace: a name may not start or end with any of it.
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
NAME_MAX = 200
#: ``name_rule`` as a pattern, for the OpenAPI documents: no control character nor ``/ \ # ?``
#: anywhere, and neither end whitespace. The classes are spelled out (not ``\s``, which means
#: different things to ECMA, Python and Rust regexes).
_INNER = r"[^\x00-\x1f\x7f/\\#?]"
_EDGE = r"[^\x00-\x20\x7f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000/\\#?]"
NAME_PATTERN = rf"^{_EDGE}(?:{_INNER}*{_EDGE})?$"
#: ``padding_rule`` as a pattern: any character, but neither end whitespace (``[\s\S]`` is any
#: character whatever ``\s`` means).
_UNPADDED = r"[^\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
UNPADDED_PATTERN = rf"^{_UNPADDED}(?:[\s\S]*{_UNPADDED})?$"


def padding_rule(name: str) -> str | None:
    """What is wrong with a name's whitespace, or None: every face refuses a blank name, and one
    with whitespace at either end (refused, not trimmed: ``" a"`` and ``"a"`` would be two jobs
    that look alike, and a name is a job's key in the Dapr face's URLs)."""
    if not name.strip():
        return "must not be blank (empty or only whitespace)"
    if name != name.strip():
        return "must not start or end with whitespace"
    return None


def name_rule(name: str) -> str | None:
    """What is wrong with a job name of the native and Dapr faces, or None (``NAME_PATTERN`` says
    the same to OpenAPI clients)."""
    if rule := padding_rule(name):
        return rule
    if len(name) > NAME_MAX:
        return f"must be at most {NAME_MAX} characters"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "must not contain control characters"
    if any(c in name for c in "/\\#?"):
        return "must not contain / \\ # ?"
    return None
