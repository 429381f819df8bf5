"""Regular expressions for ``regex_match``, compiled with RE2.

RE2 (like the RE2J library AFD uses) runs in time linear in the input, so a hostile pattern
such as ``(a+)+$`` cannot stall the detector. Patterns are rule literals, compiled once when
the rule is parsed and cached here, because rules are parsed rarely and evaluated constantly.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import re2

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a bad pattern is reported to the rule author, not to stderr
_OPTIONS.never_capture = True  # we only need yes/no, which lets RE2 use its fastest engines

# google-re2's public ``fullmatch`` builds a Match object through a generator (~4 us); the
# underlying RE2 object answers the same question in well under 1 us. We use it when this
# re2 build exposes it (the version is pinned) and fall back to the public API otherwise.
_ANCHOR_BOTH: Any = getattr(getattr(re2, "_Anchor", None), "ANCHOR_BOTH", None)
_NO_MATCH = (-1, -1)

Matcher = Callable[[str], bool]


class PatternError(ValueError):
    """The pattern is not a valid RE2 regular expression."""


def _utf8(text: str) -> bytes:
    """UTF-8 bytes; lone surrogates (invalid Unicode in event data) become U+FFFD, not errors."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace").encode("utf-8")


@functools.lru_cache(maxsize=4096)
def compile_pattern(pattern: str) -> Matcher:
    """A function telling whether a text matches ALL of ``pattern`` (Java's ``matches``)."""
    try:
        compiled = re2.compile(pattern, options=_OPTIONS)
    except UnicodeError:
        raise PatternError("the pattern contains text that is not valid Unicode") from None
    except re2.error as exc:
        detail = exc.args[0] if exc.args else "invalid pattern"
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        raise PatternError(f"invalid regular expression: {detail}") from None

    raw = getattr(compiled, "_regexp", None)
    if raw is not None and _ANCHOR_BOTH is not None and hasattr(raw, "Match"):
        match = raw.Match

        def fast(text: str) -> bool:
            data = _utf8(text)
            return bool(match(_ANCHOR_BOTH, data, 0, len(data))[0] != _NO_MATCH)

        return fast

    def portable(text: str) -> bool:
        return compiled.fullmatch(_utf8(text).decode("utf-8")) is not None

    return portable
