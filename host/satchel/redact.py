"""Secret redaction, applied to every text before it is stored.

`redact(text)` replaces each secret with a typed placeholder such as ``[REDACTED:openai_key]`` and returns the
new text with the number of replacements. Where a secret is written as ``name = value`` the name is kept and
only the value is replaced, so the text still reads ("password: [REDACTED:password]").

Why it is shaped like this:
* Python's `re` is fast only when a pattern starts with a literal (it then skips ahead like `str.find`); a big
  alternation or a leading look-behind makes it try every alternative at every position (≈100× slower). So
  each detector is its own precompiled pattern that starts with a literal anchor (``sk-``, ``ghp_``,
  ``password``…), keyword detectors run on the lower-cased text, and boundary checks sit *after* the anchor.
* Every quantifier is bounded and possessive, so hostile input (``"_key" * 25000``) stays linear.
* Candidates are validated in Python (Luhn for cards, entropy and "is this code?" tests for keyed values) and
  then merged: where two overlap, the earlier and longer wins.
* stdlib only: the native relay may import it before anything heavy is loaded.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

PLACEHOLDER = "[REDACTED:{}]"

_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")


@dataclass(frozen=True, slots=True)
class _Hit:
    start: int
    end: int
    kind: str
    # Where two detectors find the same span, the lower rank names it (aws_secret_key over secret).
    rank: int = 0


# ---------------------------------------------------------------------------------------------------
# Validators


def _entropy(s: str) -> float:
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values())


_DOTTED_RE = re.compile(r"[A-Za-z_$][\w$]*+(?:(?:\.|::|->)[A-Za-z_$][\w$]*+)++\.?")
_PATH_RE = re.compile(r"(?:~|\.{1,2})?/[\w.\-]++(?:/[\w.\-]*+)*+")
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*+")
# Values that are references or masks, not secrets: $VAR, ${VAR}, %VAR%, {{ var }}, <your-key>, ****, xxxx.
_REFERENCE_RE = re.compile(r"[$%{<\[@&*#!\\]|(.)\1*+$|\[REDACTED:")


def _random_enough(s: str) -> bool:
    """True for strings that look machine-generated: letters and digits mixed, and varied."""
    if len(s) < 16 or "://" in s or _DOTTED_RE.fullmatch(s) or _PATH_RE.fullmatch(s):
        return False
    if not (any(c.isdigit() for c in s) and any(c.isalpha() for c in s)):
        return False
    return _entropy(s) >= 3.0


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


# Issuer prefixes of the networks people paste (Visa, Mastercard, Amex, Diners, JCB, Discover, UnionPay,
# Maestro). A Luhn-valid number starting with 1, 7, 8 or 9 is an id or a timestamp, not a card.
_CARD_PREFIX = re.compile(r"4|5[0-8]|2[2-7]|3[0-9]|6[0-9]")


def _card_ok(match: str) -> bool:
    digits = match.replace(" ", "").replace("-", "")
    return 13 <= len(digits) <= 19 and bool(_CARD_PREFIX.match(digits)) and _luhn_ok(digits)


# Bare words that follow `password:` / `token =` in code and configuration without being secrets.
_NOT_SECRET_WORDS = frozenset(
    """
none null nil true false undefined required optional str string int bool boolean number any object bytes
text char varchar secretstr password passwd pwd passphrase secret token key value empty blank hidden masked
redacted changeme example placeholder
""".split()
)


def _password_value_ok(name: str, value: str, quoted: bool, sep: str) -> bool:
    """Whether `value` assigned to a password-like `name` is a real value rather than code."""
    v = value.strip()
    if not v or _REFERENCE_RE.match(v):
        return False
    if v.lower() in _NOT_SECRET_WORDS or v.lower() == name.lower():
        return False
    if quoted:
        return True
    if _DOTTED_RE.fullmatch(v) or _PATH_RE.fullmatch(v) or v.endswith((".", ":", "=")) or v.startswith(("=", ":")):
        return False
    if not _IDENT_RE.fullmatch(v):
        return True
    if sep.strip() == ":":
        # `password: str`, `password: Optional[...]`, `password: SecretStr` are type annotations.
        return not (v[:1].isupper() and not any(c.isdigit() for c in v))
    if " " in sep:
        # `password = user_input` assigns a variable; a literal would be quoted.
        return False
    # `login(password=user_pw)` passes a variable; `DB_PASSWORD=hunter2` in an env file is a value.
    return name.isupper() or not ("_" in v and v.islower())


def _generic_value_ok(value: str) -> bool:
    v = value.strip()
    return not _REFERENCE_RE.match(v) and (_random_enough(v) or _token_kind(v) is not None)


def _openai_ok(token: str) -> bool:
    body = token[3:]
    return "T3BlbkFJ" in body or _random_enough(body.replace("-", "").replace("_", ""))


# ---------------------------------------------------------------------------------------------------
# Detectors of self-identifying tokens (run on the original text).


@dataclass(frozen=True)
class _Token:
    kind: str
    pattern: re.Pattern[str]
    check: Callable[[str], bool] | None = None
    # The anchor must not be glued to token characters on its left.
    left_boundary: bool = True


def _t(kind: str, rx: str, check: Callable[[str], bool] | None = None, left_boundary: bool = True) -> _Token:
    return _Token(kind, re.compile(rx + r"(?![A-Za-z0-9_\-])"), check, left_boundary)


_TOKENS: tuple[_Token, ...] = (
    _t(
        "anthropic_key",
        r"sk-ant-[A-Za-z0-9_\-]{20,300}+",
        lambda s: _random_enough(s[7:].replace("-", "").replace("_", "")),
    ),
    _t("openai_key", r"sk-(?!ant-)(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_\-]{20,300}+", _openai_ok),
    _t("stripe_key", r"sk_(?:live|test)_[A-Za-z0-9]{16,255}+"),
    _t("stripe_key", r"rk_(?:live|test)_[A-Za-z0-9]{16,255}+"),
    _t("google_api_key", r"AIza[0-9A-Za-z_\-]{35}"),
    _t("aws_access_key_id", r"A(?:KIA|SIA|BIA|CCA|GPA|IDA|ROA|IPA|NPA|NVA|PKA)[A-Z0-9]{16}"),
    _t("github_token", r"g(?:h[pousr]_[A-Za-z0-9]{36,255}+|ithub_pat_[A-Za-z0-9_]{22,255}+)"),
    _t("gitlab_token", r"glpat-[A-Za-z0-9_\-]{20,255}+"),
    _t("slack_token", r"xox[baprse]-[A-Za-z0-9\-]{10,255}+"),
    _t("slack_webhook", r"https://hooks\.slack\.com/services/[A-Za-z0-9_/]{20,200}+", left_boundary=False),
    _t("huggingface_token", r"hf_[A-Za-z0-9]{30,255}+"),
    # The look-behind after the anchor keeps a run like "eyJeyJeyJ…" linear.
    _t(
        "jwt",
        r"eyJ(?<![A-Za-z0-9_\-]eyJ)[A-Za-z0-9_\-]{8,8192}+"
        r"\.eyJ[A-Za-z0-9_\-]{8,16384}+\.[A-Za-z0-9_\-]{0,8192}+",
    ),
)


def _token_kind(value: str) -> str | None:
    for tok in _TOKENS:
        if tok.pattern.fullmatch(value) and (tok.check is None or tok.check(value)):
            return tok.kind
    return None


_PEM_BEGIN = re.compile(r"-----BEGIN[ A-Z0-9]{0,30}PRIVATE KEY(?: BLOCK)?-----")
_PEM_END = re.compile(r"-----END[ A-Z0-9]{0,30}PRIVATE KEY(?: BLOCK)?-----")
# The rest of a truncated block: header lines and base64 lines, but not the prose after them.
_PEM_TAIL = re.compile(r"(?:[ \t]*+\r?\n(?:[A-Za-z\-]{1,40}+:[^\n]{0,200}+|[A-Za-z0-9+/=]{8,}+))*+")
_PEM_MAX = 20_000


def _pem_hits(text: str, hits: list[_Hit]) -> None:
    """Whole private-key blocks; searched with find() so that many BEGIN lines stay linear."""
    pos = 0
    while (m := _PEM_BEGIN.search(text, pos)) is not None:
        limit = min(len(text), m.end() + _PEM_MAX)
        nxt = text.find("-----BEGIN", m.end(), limit)
        end = _PEM_END.search(text, m.end(), nxt if nxt != -1 else limit)
        stop = end.end() if end is not None else _PEM_TAIL.match(text, m.end()).end()
        hits.append(_Hit(m.start(), stop, "private_key"))
        pos = stop


_URL_CREDENTIALS = re.compile(r"://[^\s:/@\"'<>]{1,100}+:(?P<val>[^\s/@\"'<>]{1,200}+)@(?=[A-Za-z0-9\[])")
# Cards are searched in a one-byte-per-character copy of the text where every digit is "0": the pattern then
# starts with the literal "0000", which `re` scans for ≈20× faster than for `\d{4}` in digit-heavy code.
_CARD = re.compile(
    rb"0000(?:(?P<sep>[ \-]?)0000(?P=sep)0000(?P=sep)0{1,7}+|[ \-]?000000[ \-]?0{4,5}+)(?![\w\-]|[.,:/]0)"
)
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_CARD_LEFT_STOP = frozenset("0123456789.+-/:#_") | frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
# ---------------------------------------------------------------------------------------------------
# Keyword detectors (run on the lower-cased text; positions map 1:1 onto the original).

_SEP = r"""["']?[ \t]{0,8}+(?::=|=>|=|:)[ \t]{0,8}+"""
_VALUE = r"""(?:"(?P<dq>[^"\n]{1,300}+)"|'(?P<sq>[^'\n]{1,300}+)'|(?P<bare>[^\s"'`,;(){}\[\]<>]{1,300}+))"""
_PASSWORD = re.compile(r"p(?:assword|asswd|assphrase|wd)[0-9]{0,4}+(?P<sep>" + _SEP + ")" + _VALUE)
# A keyword must be a whole component of the name: `api_key`, `secretKey`, `ACCESS_TOKEN`, not `monkey`.
_GENERIC = tuple(
    re.compile(re.escape(word) + r"(?P<suffix>[a-z0-9_\-]{0,40}+)(?P<sep>" + _SEP + ")" + _VALUE)
    for word in ("key", "secret", "token", "apikey", "credential", "auth")
)
# Anchored on "secret" (a literal start is 10× faster to scan for); the name before it is checked in Python.
_AWS_SECRET = re.compile(
    r"secret_?(?P<access>access_?)?key[\"']?[ \t]{0,8}+[:=][ \t]{0,8}+[\"']?"
    r"(?P<val>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"
)
_AUTHORIZATION = re.compile(
    r"authorization[\"']?[ \t]{0,8}+[:=][ \t]{0,8}+[\"']?(?:bearer|token|basic|bot|apikey|digest)[ \t]{1,8}+"
    r"(?P<val>[a-z0-9\-._~+/]{8,4096}+=*+)"
)
_BEARER = re.compile(r"bearer[ \t]{1,8}+(?P<val>[a-z0-9\-._~+/]{20,4096}+=*+)")


def _name_before(text: str, end: int) -> tuple[int, str]:
    """The identifier-like name that ends at `end` (at most 100 characters back)."""
    start = end
    floor = max(0, end - 100)
    while start > floor and text[start - 1] in _NAME_CHARS:
        start -= 1
    return start, text[start:end]


# Components that may follow the keyword in a secret's name (`SECRET_KEY_BASE`, `TOKEN_SECRET`); anything else
# (`token_count`, `key_path`, `secret_name`) names a property of the secret, not the secret itself.
_SECRET_SUFFIXES = frozenset({"base", "value", "secret", "key", "token", "b64", "hex", "raw", "str", "string"})
_COMPONENT_SPLIT = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")


def _is_component(name: str, at: int, word: str) -> bool:
    """Whether name[at:at+len(word)] is a whole component of `name` (snake, kebab, dotted or camelCase),
    and the last one or followed only by a secret-ish suffix."""
    before = name[at - 1] if at > 0 else ""
    end = at + len(word)
    if word in ("key", "secret", "token", "credential") and end < len(name) and name[end] in "sS":
        end += 1
    after = name[end] if end < len(name) else ""
    first = name[at]
    left_ok = before == "" or not before.isalnum() or (first.isupper() and before.islower()) or before.isdigit()
    right_ok = after == "" or not after.isalnum() or (after.isupper() and not name[end - 1].isupper())
    if not (left_ok and right_ok):
        return False
    rest = [c.lower() for c in _COMPONENT_SPLIT.split(name[end:]) if c]
    return all(c in _SECRET_SUFFIXES or c.isdigit() or (c[0] == "v" and c[1:].isdigit()) for c in rest)


def _keyed_value(m: re.Match[str]) -> tuple[int, int, str, str]:
    for group, quoted in (("dq", True), ("sq", True), ("bare", False)):
        if m.group(group) is not None:
            return m.start(group), m.end(group), group, "q" if quoted else ""
    raise AssertionError("unreachable")


def _password_hits(text: str, low: str, hits: list[_Hit]) -> None:
    for m in _PASSWORD.finditer(low):
        name_start, name = _name_before(text, m.start("sep"))
        if name_start > 0 and text[name_start - 1].isalnum():
            continue
        vs, ve, _, quoted = _keyed_value(m)
        sep = text[m.start("sep") : m.end("sep")].replace('"', "").replace("'", "")
        if _password_value_ok(name, text[vs:ve], bool(quoted), sep):
            hits.append(_Hit(vs, ve, _token_kind(text[vs:ve]) or "password", rank=1))


def _generic_hits(text: str, low: str, hits: list[_Hit]) -> None:
    for rx in _GENERIC:
        for m in rx.finditer(low):
            name_start, name = _name_before(text, m.start("sep"))
            if name_start > 0 and text[name_start - 1].isalnum():
                continue
            at = m.start() - name_start
            word = low[m.start() : m.start("suffix")]
            if not _is_component(name, at, word):
                continue
            # A bare `key` names dict entries, cache keys, object paths; `api_key`, `SECRET_KEY` name secrets.
            if word == "key" and at == 0 and len(name) <= len("keys"):
                continue
            vs, ve, _, _ = _keyed_value(m)
            value = text[vs:ve]
            if _generic_value_ok(value):
                hits.append(_Hit(vs, ve, _token_kind(value) or "secret", rank=2))


def _prefixed_hits(
    rx: re.Pattern[str],
    kind: str,
    text: str,
    low: str,
    hits: list[_Hit],
    check: Callable[[str], bool] | None = None,
) -> None:
    for m in rx.finditer(low):
        vs, ve = m.start("val"), m.end("val")
        value = text[vs:ve]
        if _REFERENCE_RE.match(value) or (check is not None and not check(value)):
            continue
        hits.append(_Hit(vs, ve, _token_kind(value) or kind))


def _bearer_ok(value: str) -> bool:
    return _random_enough(value) or _token_kind(value) is not None


def _aws_secret_ok(value: str) -> bool:
    return any(c.isdigit() or c in "/+" for c in value)


def _lower_same_length(text: str) -> str:
    low = text.lower()
    if len(low) == len(text):
        return low
    # A few characters (İ) lower-case to two; keep them as they are so positions line up.
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


def _find(text: str) -> list[_Hit]:
    hits: list[_Hit] = []
    for tok in _TOKENS:
        for m in tok.pattern.finditer(text):
            s = m.start()
            if tok.left_boundary and s > 0 and text[s - 1] in _TOKEN_CHARS:
                continue
            if tok.check is None or tok.check(m.group()):
                hits.append(_Hit(s, m.end(), tok.kind))
    if "PRIVATE KEY" in text:
        _pem_hits(text, hits)
    if "://" in text:
        for m in _URL_CREDENTIALS.finditer(text):
            if not _REFERENCE_RE.match(m.group("val")):
                hits.append(_Hit(m.start("val"), m.end("val"), "url_password"))
    zeros = text.encode("latin-1", "replace").translate(_DIGITS_TO_ZERO)
    for m in _CARD.finditer(zeros):
        s, e = m.span()
        if (s == 0 or text[s - 1] not in _CARD_LEFT_STOP) and _card_ok(text[s:e]):
            hits.append(_Hit(s, e, "card_number"))

    low = _lower_same_length(text)
    _password_hits(text, low, hits)
    _generic_hits(text, low, hits)
    for m in _AWS_SECRET.finditer(low):
        _, name = _name_before(low, m.start())
        value = text[m.start("val") : m.end("val")]
        if ("aws" in name or m.group("access")) and _aws_secret_ok(value):
            hits.append(_Hit(m.start("val"), m.end("val"), "aws_secret_key"))
    _prefixed_hits(_AUTHORIZATION, "authorization", text, low, hits)
    _prefixed_hits(_BEARER, "bearer", text, low, hits, _bearer_ok)
    return hits


def _merge(hits: list[_Hit]) -> list[_Hit]:
    """Drop hits that overlap an earlier (or, at the same start, a longer) one."""
    hits.sort(key=lambda h: (h.start, -h.end, h.rank))
    kept: list[_Hit] = []
    last_end = -1
    for h in hits:
        if h.start >= last_end:
            kept.append(h)
            last_end = h.end
    return kept


@lru_cache(maxsize=64)
def _compile_extra(patterns: tuple[str, ...]) -> re.Pattern[str]:
    try:
        return re.compile("|".join(f"(?:{p})" for p in patterns))
    except re.error as exc:
        raise ValueError(f"invalid redaction pattern: {exc}") from exc


def redact(text: str, extra_patterns: Iterable[str] | None = None) -> tuple[str, int]:
    """Replace secrets in `text` with typed placeholders; return (new text, number of redactions).

    `extra_patterns` are regular expressions the person adds in settings; each match becomes
    ``[REDACTED:custom]``. An invalid pattern raises ValueError.
    """
    if not text:
        return text, 0
    hits = _find(text)
    extras = tuple(extra_patterns or ())
    if extras:
        hits.extend(_Hit(m.start(), m.end(), "custom") for m in _compile_extra(extras).finditer(text) if m.group())
    if not hits:
        return text, 0
    kept = _merge(hits)
    out: list[str] = []
    pos = 0
    for h in kept:
        out.append(text[pos : h.start])
        out.append(PLACEHOLDER.format(h.kind))
        pos = h.end
    out.append(text[pos:])
    return "".join(out), len(kept)


__all__ = ["PLACEHOLDER", "redact"]
