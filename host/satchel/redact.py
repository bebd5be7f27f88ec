"""Secret redaction, applied to every text before it is stored.

`redact(text)` replaces each secret with a typed placeholder such as ``[REDACTED:openai_key]`` and returns the
new text with the number of replacements. Where a secret is written as ``name = value`` the name is kept and
only the value is replaced, so the text still reads ("password: [REDACTED:password]").

Design:
* one combined, precompiled alternation, scanned once; each alternative is a named group whose match is then
  validated in Python (Luhn for cards, entropy and "looks like code" tests for keyed values). A rejected match
  resumes the scan one character later, so a rejected candidate never hides a real secret behind it.
* a prefilter of plain substring tests: ordinary text with none of the trigger words and no long digit run
  skips the regex entirely.
* stdlib only: the native relay may import it before anything heavy is loaded.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from functools import lru_cache

PLACEHOLDER = "[REDACTED:{}]"

# Substrings (of the lower-cased text) without which no alternative below can match.
_TRIGGERS: tuple[str, ...] = (
    "sk-", "sk_", "rk_", "aiza", "akia", "asia", "abia", "acca", "gh", "glpat-", "xox", "hooks.slack",
    "hf_", "eyj", "private key", "pass", "pwd", "key", "secret", "token", "bearer", "authorization",
    "credential", "://",
)
_DIGIT_RUN = re.compile(r"\d{4}[ \-]?\d{4}")

# Boundaries: a token must not be glued to more token characters on either side.
_L = r"(?<![A-Za-z0-9_\-])"
_R = r"(?![A-Za-z0-9_\-])"

# Value syntax for ``name <sep> value``: double-quoted, single-quoted, or a bare run up to a delimiter.
_VALUE = r"""(?:"(?P<{g}_dq>[^"\n]{{1,300}})"|'(?P<{g}_sq>[^'\n]{{1,300}})'|(?P<{g}_bare>[^\s"'`,;(){{}}\[\]<>]{{1,300}}))"""
_SEP = r"""["']?[ \t]*(?::=|=>|=|:)[ \t]*"""

_PASSWORD_NAME = r"[A-Za-z0-9_.\-]*(?:password|passwd|passphrase|pwd)[0-9]*"
_GENERIC_NAME = (
    r"[A-Za-z0-9_.\-]*(?:(?i:[_\-.](?:key|secret|token)|apikey|credentials?)|Key|Secret|Token)[A-Za-z0-9_\-]*"
    r"|(?i:secret|token|api_?key|auth)"
)

# Order matters where two alternatives can start at the same position: the more specific one comes first.
_PATTERNS: list[tuple[str, str]] = [
    ("private_key",
     r"-----BEGIN[ A-Z0-9]{0,30}PRIVATE KEY(?: BLOCK)?-----"
     r"(?:[\s\S]{0,20000}?-----END[ A-Z0-9]{0,30}PRIVATE KEY(?: BLOCK)?-----"
     r"|(?:[ \t]*\r?\n(?:[A-Za-z\-]+:[^\n]*|[A-Za-z0-9+/=]{8,}))*)"),
    ("url_password",
     r"(?P<url_password_pre>\b[a-zA-Z][a-zA-Z0-9+.\-]{1,20}://[^\s:/@\"'<>]{1,100}:)"
     r"(?P<url_password_val>[^\s/@\"'<>]{1,200})(?=@[A-Za-z0-9\[])"),
    ("authorization",
     r"(?P<authorization_pre>(?i:authorization)[\"']?[ \t]*[:=][ \t]*[\"']?"
     r"(?i:bearer|token|basic|bot|apikey)[ \t]+)(?P<authorization_val>[A-Za-z0-9\-._~+/]{8,}=*)"),
    ("bearer",
     r"(?P<bearer_pre>\b(?i:bearer)[ \t]+)(?P<bearer_val>[A-Za-z0-9\-._~+/]{20,}=*)"),
    ("aws_secret_key",
     r"(?P<aws_secret_key_pre>(?i:aws_?secret_?(?:access_?)?key|secret_?access_?key)[\"']?[ \t]*[:=][ \t]*[\"']?)"
     r"(?P<aws_secret_key_val>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"),
    ("password",
     r"(?P<password_pre>(?<![A-Za-z0-9_])(?i:" + _PASSWORD_NAME + ")" + _SEP + ")" + _VALUE.format(g="password")),
    ("secret",
     r"(?P<secret_pre>(?<![A-Za-z0-9_])(?:" + _GENERIC_NAME + ")" + _SEP + ")" + _VALUE.format(g="secret")),
    ("anthropic_key", _L + r"sk-ant-[A-Za-z0-9_\-]{20,}" + _R),
    ("openai_key", _L + r"sk-(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_\-]{20,}" + _R),
    ("stripe_key", _L + r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}" + _R),
    ("google_api_key", _L + r"AIza[0-9A-Za-z_\-]{35}" + _R),
    ("aws_access_key_id",
     r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{16}(?![A-Z0-9])"),
    ("github_token", _L + r"(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})" + _R),
    ("gitlab_token", _L + r"glpat-[A-Za-z0-9_\-]{20,}" + _R),
    ("slack_token", _L + r"xox[baprse]-[A-Za-z0-9\-]{10,}" + _R),
    ("slack_webhook", r"https://hooks\.slack\.com/services/[A-Za-z0-9_/]{20,}"),
    ("huggingface_token", _L + r"hf_[A-Za-z0-9]{30,}" + _R),
    ("jwt", _L + r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*" + _R),
    ("card_number",
     r"(?<![\w.+\-/:#])(?:\d{4}(?P<card_sep>[ \-]?)\d{4}(?P=card_sep)\d{4}(?P=card_sep)\d{1,7}"
     r"|\d{4}[ \-]?\d{6}[ \-]?\d{4,5})(?![\w\-]|[.,:]\d)"),
]

_COMBINED = re.compile("|".join(f"(?P<{name}>{rx})" for name, rx in _PATTERNS))
_TOKEN_KINDS = [
    (name, re.compile(rx))
    for name, rx in _PATTERNS
    if name in {"anthropic_key", "openai_key", "stripe_key", "google_api_key", "aws_access_key_id",
                "github_token", "gitlab_token", "slack_token", "huggingface_token", "jwt"}
]

# Bare values that are code or configuration syntax, not secrets.
_NOT_SECRET_WORDS = frozenset("""
none null nil true false undefined required optional str string int bool boolean number any object
bytes text char varchar secretstr password passwd pwd secret token key value empty blank hidden masked
redacted changeme example placeholder xxx yourpassword your_password mypassword
""".split())
_PLACEHOLDER_RE = re.compile(r"^(?:\$|%|\{|<|\[|@|&|\*|#|\\)|^(.)\1*$|^\[REDACTED:")
_DOTTED_RE = re.compile(r"^[A-Za-z_$][\w$]*(?:(?:\.|::|->)[A-Za-z_$][\w$]*)+\.?$")
_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PATH_RE = re.compile(r"^(?:~|\.{1,2})?/[\w.\-]+(?:/[\w.\-]*)*$")


def _entropy(s: str) -> float:
    counts = Counter(s)
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _random_enough(s: str) -> bool:
    """True for strings that look machine-generated: mixed letters and digits, and varied."""
    if len(s) < 16 or _DOTTED_RE.match(s) or _PATH_RE.match(s) or "://" in s:
        return False
    has_digit = any(c.isdigit() for c in s)
    has_alpha = any(c.isalpha() for c in s)
    if not (has_digit and has_alpha):
        return False
    return _entropy(s) >= 3.0


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


# Issuer prefixes of the card networks people actually paste (Visa, Mastercard, Amex, Discover, JCB,
# Diners, UnionPay, Maestro); a Luhn-valid 16-digit id starting with 1, 7, 8 or 9 is not a card.
_CARD_PREFIX = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[47]|3[0689]|35|6(?:011|5|4[4-9]|2)|5[06-8]|6[37])")


def _card_ok(match: str) -> bool:
    digits = match.replace(" ", "").replace("-", "")
    return 13 <= len(digits) <= 19 and bool(_CARD_PREFIX.match(digits)) and _luhn_ok(digits)


def _password_value_ok(name: str, value: str, quoted: bool, sep: str) -> bool:
    """Whether `value` assigned to a password-like `name` is a real value rather than code."""
    v = value.strip()
    if not v or _PLACEHOLDER_RE.match(v):
        return False
    if v.lower() in _NOT_SECRET_WORDS or v.lower() == name.lower():
        return False
    if quoted:
        return True
    if _DOTTED_RE.match(v) or v.endswith((".", ":", "=")) or v.startswith(("=", ":")):
        return False
    if not _IDENT_RE.match(v):
        return True
    op = sep.strip()
    if op == ":":
        # `password: str`, `password: Optional[...]`, `password: SecretStr` are type annotations.
        return not (v[:1].isupper() and not any(c.isdigit() for c in v))
    if " " in sep:
        # `password = user_input` assigns a variable; a literal would be quoted.
        return False
    # `login(password=user_pw)` passes a variable; `DB_PASSWORD=hunter2` in an env file is a value.
    return name.isupper() or not ("_" in v and v.islower())


def _generic_value_ok(value: str) -> bool:
    v = value.strip()
    if _PLACEHOLDER_RE.match(v):
        return False
    return _random_enough(v)


def _kind_of_token(value: str, default: str) -> str:
    for name, rx in _TOKEN_KINDS:
        if rx.fullmatch(value):
            return name
    return default


def _keyed(m: re.Match[str], kind: str) -> str | None:
    """Replacement for ``name <sep> value`` matches, or None to reject."""
    pre = m.group(f"{kind}_pre")
    for suffix, quote in (("_dq", '"'), ("_sq", "'"), ("_bare", "")):
        value = m.group(f"{kind}{suffix}")
        if value is not None:
            break
    else:  # pragma: no cover - the regex always sets one of the three
        return None
    name = re.split(r"[\"'\s:=]", pre, maxsplit=1)[0]
    sep = pre[len(name):]
    if kind == "password":
        ok = _password_value_ok(name, value, bool(quote), sep.replace('"', "").replace("'", ""))
    else:
        ok = _generic_value_ok(value) or _kind_of_token(value, "") != ""
    if not ok:
        return None
    label = _kind_of_token(value, kind)
    return f"{pre}{quote}{PLACEHOLDER.format(label)}{quote}"


def _prefixed(m: re.Match[str], kind: str, check: Callable[[str], bool] | None = None) -> str | None:
    value = m.group(f"{kind}_val")
    if check is not None and not check(value):
        return None
    if _PLACEHOLDER_RE.match(value):
        return None
    return m.group(f"{kind}_pre") + PLACEHOLDER.format(_kind_of_token(value, kind))


def _bearer_ok(value: str) -> bool:
    return _random_enough(value) or _kind_of_token(value, "") != ""


def _openai_ok(value: str) -> bool:
    body = value[3:]
    return _random_enough(body.replace("-", "").replace("_", "")) or "T3BlbkFJ" in body


def _replacement(m: re.Match[str]) -> str | None:
    kind = m.lastgroup
    text = m.group(0)
    if kind in ("password", "secret"):
        return _keyed(m, kind)
    if kind == "url_password":
        return _prefixed(m, kind)
    if kind == "authorization":
        return _prefixed(m, kind)
    if kind == "bearer":
        return _prefixed(m, kind, _bearer_ok)
    if kind == "aws_secret_key":
        return _prefixed(m, kind, lambda v: any(c.isdigit() for c in v) or any(c in "/+" for c in v))
    if kind == "card_number" and not _card_ok(text):
        return None
    if kind == "openai_key" and not _openai_ok(text):
        return None
    if kind == "anthropic_key" and not _random_enough(text[7:].replace("-", "").replace("_", "")):
        return None
    return PLACEHOLDER.format(kind)


def _might_contain_secret(text: str) -> bool:
    low = text.lower()
    return any(t in low for t in _TRIGGERS) or _DIGIT_RUN.search(text) is not None


@lru_cache(maxsize=64)
def _compile_extra(patterns: tuple[str, ...]) -> re.Pattern[str]:
    try:
        return re.compile("|".join(f"(?:{p})" for p in patterns))
    except re.error as exc:
        raise ValueError(f"invalid redaction pattern: {exc}") from exc


def redact(text: str, extra_patterns: Iterable[str] | None = None) -> tuple[str, int]:
    """Replace secrets in `text` with typed placeholders; return (new text, number of redactions).

    `extra_patterns` are regular expressions supplied by the person (settings); each match becomes
    ``[REDACTED:custom]``. An invalid pattern raises ValueError.
    """
    count = 0
    if text and _might_contain_secret(text):
        out: list[str] = []
        pos = 0
        emitted = 0
        n = len(text)
        search = _COMBINED.search
        while pos < n:
            m = search(text, pos)
            if m is None:
                break
            rep = _replacement(m)
            if rep is None:
                pos = m.start() + 1
                continue
            out.append(text[emitted:m.start()])
            out.append(rep)
            count += 1
            pos = emitted = m.end()
        if count:
            out.append(text[emitted:])
            text = "".join(out)
    extras = tuple(extra_patterns or ())
    if extras and text:
        rx = _compile_extra(extras)

        def sub(m: re.Match[str]) -> str:
            nonlocal count
            if not m.group(0):
                return m.group(0)
            count += 1
            return PLACEHOLDER.format("custom")

        text = rx.sub(sub, text)
    return text, count


__all__ = ["PLACEHOLDER", "redact"]
