"""Rule-based distillation of memories from what the person wrote (user turns only).

Four kinds, each with a normalised `key` naming the subject, so a later statement about the same subject can
supersede an earlier one (see consolidate.py):

* fact        — "I live in Lyon" → key ``lives_in``; "I work at Acme" → ``works_at``; "my name is Ada" → ``name``;
                "I'm a nurse" → ``occupation``; "my dog's name is Rex" → ``dog_name``; "I'm 34" → ``age``
* preference  — "I prefer tabs over spaces" → ``prefer:space|tab``; "I love hiking" / "I hate hiking" →
                ``likes:hike`` (one key, so the newer opinion replaces the older); "I always use pnpm" → ``uses:pnpm``;
                "my favourite editor is Helix" → ``favorite_editor``
* project     — "I'm working on / building / learning X" → ``project:<X>``
* instruction — "always answer in French" → ``reply_language``; "call me Ada" → ``call_me``;
                "use British spelling" → ``spelling``; "never use emojis" / "always use emojis" →
                ``instruction:use_emoji``

Precision comes first: a memory the person did not state is worse than one missed. So questions, hypotheticals
("if I lived in…", "imagine I'm…"), requests ("I'd like…"), role-play and quoted or translated text, past
states ("I used to live…"), and code are skipped. English first; a few common French, German and Spanish
forms are understood too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

from satchel.memory.text import STOPWORDS, split_sentences, stem, words, wordset

if TYPE_CHECKING:
    from satchel.memory.llm_client import LLMClient

KINDS = ("preference", "fact", "project", "instruction", "note")
MAX_VALUE_WORDS = 7
MAX_VALUE_CHARS = 60
MAX_SENTENCE_CHARS = 300


@dataclass(frozen=True, slots=True)
class Message:
    """What extraction needs of a message row."""

    id: int
    role: str
    text: str
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Candidate:
    kind: str  # preference | fact | project | instruction | note
    key: str  # normalised subject: "lives_in", "likes:hike", "project:satchel", "reply_language"
    text: str  # the memory as shown and injected: "Lives in Lyon"
    value: str  # the part that changes when the fact changes: "Lyon"
    message_ids: tuple[int, ...]
    observed_at: datetime | None = None
    origin: str = "extracted"  # extracted | llm
    evidence: str = field(default="", compare=False)  # the sentence it came from


# ---------------------------------------------------------------------------------------------------
# Sentence filters

_QUESTION_START = re.compile(
    r"^(?:(?:do|does|did|am|is|are|was|were|should|shall|could|would|can|will|have|has)\s+(?:i|you|we|my|it|there)"
    r"|(?:what|why|how|where|which|who|when)\s+(?:do|does|did|am|is|are|was|were|should|can|could|would|will)"
    r"|est-ce|ist|sind|bin|hast|habe|kann)\b|^¿",
    re.I,
)
# Words before the statement that make it not the person's own present claim.
_BLOCKING_CONTEXT = re.compile(
    r"\b(?:if|suppose|supposing|imagine|imagining|pretend|pretending|hypothetical(?:ly)?|let'?s say|assume|"
    r"assuming|as if|wish|story|character|role-?play|scene|example|e\.g|for instance|translate|translation|"
    r"said|says|say|thinks|told|tell|asks?|asked|quote|write|rewrite|draft|sentence|phrase|dialogue|"
    r"someone|somebody|he|she|they|friend|colleague|user|customer|whether|unless)\b|[\"“”«»]",
    re.I,
)
_LEADING_FILLER = re.compile(
    r"^(?:(?:oh|well|so|also|btw|by the way|fyi|actually|honestly|anyway|ok|okay|yes|yeah|no|hi|hello|hey|"
    r"just so you know|for context|for the record|for reference|note that|remember that|remember|"
    r"please note that|keep in mind that|as you know|as i said|as i mentioned)\b[,:;!.]?\s*)+",
    re.I,
)
_CODEY = re.compile(r"[{};=<>]|\b(?:def|class|return|import|function|const|var|let)\b|\w\(|\)\s*$")

# A value ends at a clause boundary.
_VALUE_END = re.compile(
    r"\s*(?:[,;:()\[\]!?.…]\s|[,;:()\[\]!?…]|\.$|\s[-–—]\s|"
    r"\s(?:and|but|because|since|so|although|though|which|who|where|when|while|as|if|until|unless|"
    r"or|for now|right now|these days|at the moment|currently|nowadays|anymore|too|also|as well|last|yesterday|"
    r"today|tonight|this (?:week|month|year|morning|weekend)|recently|lately|again|now)\b)",
    re.I,
)
_DETERMINERS = wordset(
    """
a an the my our your his her their this that these those some
"""
)
_DEICTIC = wordset(
    """
it this that these those them you your yours him her me us what how when where which who whom whose being
doing having here there everything anything something nothing
"""
)
_TRANSIENT_OBJECTS = wordset(
    """
email e-mail message letter reply response function query regex prompt question answer comment post tweet
bug error issue problem test script snippet summary list table translation
"""
)


_TRAILING_FUNCTION_WORDS = re.compile(
    r"(?:\s+(?:for|to|with|of|at|in|on|by|from|about|into|the|a|an|my|your|and|or))+$", re.I
)
# Abstract heads that make "I love the idea" a reaction to the conversation, not a lasting preference.
_ABSTRACT = wordset(
    """
idea way thought fact feeling vibe vibes energy look sound part concept atmosphere point sentiment message theme
effect effects moment story picture photo pic song video one ones color colour texture tech structure freedom
connection plot plots design style
"""
)
_PRONOUNS_IN_VALUE = wordset("it them this that these those him her his its their there")
# The word before "I" when "I" starts a main clause; any other word ("the things I love", "a job I enjoy")
# makes it a relative clause about something else.
_CLAUSE_OPENERS = wordset(
    """
and but so also because since as why that honestly really still now though although plus then yes yeah oh well
actually btw lol haha definitely personally think guess mean know feel say said just always generally usually
tbh anyway however otherwise besides
"""
)


def _clean_value(raw: str) -> str | None:
    m = _VALUE_END.search(raw)
    value = raw[: m.start()] if m else raw
    value = _TRAILING_FUNCTION_WORDS.sub("", value.strip(" \t'\"`*_.,")).strip()
    if not value or len(value) > MAX_VALUE_CHARS or len(value.split()) > MAX_VALUE_WORDS:
        return None
    return value


def _norm_key(value: str, max_stems: int = 4) -> str:
    stems = [stem(w) for w in words(value) if w not in STOPWORDS and w not in _DETERMINERS]
    return "_".join(stems[:max_stems])


def _first_word(value: str) -> str:
    ws = words(value)
    return ws[0] if ws else ""


def _capitalise(s: str) -> str:
    return s[:1].upper() + s[1:] if s else s


def _title_if_lower(value: str, sentence: str) -> str:
    """Places and names typed all in lower case ("i live in paris") are written back capitalised."""
    if sentence == sentence.lower():
        return " ".join(w[:1].upper() + w[1:] for w in value.split())
    return value


# ---------------------------------------------------------------------------------------------------
# Rules

_CAP = r"(?-i:[A-ZÀ-ÖØ-Þ](?:[\w'’\-]|\.(?=\w))*)"
_NAME = rf"(?P<v>{_CAP}(?:[ \-]{_CAP}){{0,2}})"
_PLACE_WORDS = r"(?:[ \-](?:" + _CAP + r"|(?:de|del|da|do|la|le|les|am|an|upon|on|sur|im|in der)\b))"
_PLACE = rf"(?P<v>{_CAP}{_PLACE_WORDS}{{0,3}}|[a-zà-ÿ][\w'’\-]+(?: [a-zà-ÿ][\w'’\-]+)?)"
_I = r"\b(?:i|I)\b"
_IM = r"\b(?:i'm|i’m|im|i am)\b"
_ADV = r"(?:(?:currently|now|still|actually|also|really|just|recently|mostly|mainly|do)\s+)*"

# Words ending an "I'm a …" phrase that name an occupation (with the -ist/-ician/-eer/-ographer suffixes).
_OCCUPATION_WORDS = wordset(
    """
nurse doctor chef cook lawyer judge pilot dentist surgeon nanny clerk monk nun priest rabbi imam poet artist
scientist engineer developer programmer designer architect teacher professor lecturer researcher student
accountant consultant analyst manager director founder ceo cto cfo freelancer contractor journalist writer
editor translator musician photographer farmer carpenter plumber electrician mechanic firefighter officer
soldier paramedic pharmacist therapist psychologist physician vet veterinarian economist entrepreneur intern
barista waiter waitress cashier librarian historian technician administrator coordinator instructor tutor
counselor counsellor supervisor inspector assistant attorney auditor banker broker builder driver trader recruiter
marketer advisor adviser investor producer actor actress dancer singer sculptor illustrator animator tester
maintainer
"""
)
_NOT_OCCUPATIONS = wordset(
    """
fan lover believer user member beginner newbie customer follower reader listener viewer player owner bit
little lot big huge fan person guy girl man woman kind sort type fool mess wreck
"""
)
_DIETS = frozenset(["vegetarian", "vegan", "pescatarian", "pescetarian", "carnivore"])
_LANGUAGES = wordset(
    """
english french german spanish italian portuguese dutch swedish norwegian danish finnish polish czech russian
ukrainian greek turkish arabic hebrew hindi bengali urdu chinese mandarin cantonese japanese korean
vietnamese thai indonesian malay tagalog swahili catalan romanian hungarian
"""
)
# "my X is Y" only for attributes that are stable facts about the person.
_MY_ATTRIBUTES = {
    "name": ("fact", "name"),
    "first name": ("fact", "name"),
    "full name": ("fact", "name"),
    "birthday": ("fact", "birthday"),
    "age": ("fact", "age"),
    "job": ("fact", "occupation"),
    "profession": ("fact", "occupation"),
    "occupation": ("fact", "occupation"),
    "role": ("fact", "occupation"),
    "job title": ("fact", "occupation"),
    "title": ("fact", "occupation"),
    "hometown": ("fact", "hometown"),
    "home town": ("fact", "hometown"),
    "nationality": ("fact", "nationality"),
    "native language": ("fact", "native_language"),
    "first language": ("fact", "native_language"),
    "mother tongue": ("fact", "native_language"),
    "timezone": ("fact", "timezone"),
    "time zone": ("fact", "timezone"),
    "pronouns": ("fact", "pronouns"),
    "major": ("fact", "major"),
    "employer": ("fact", "works_at"),
    "company": ("fact", "works_at"),
    "email": ("fact", "email"),
    "wife": ("fact", "wife"),
    "husband": ("fact", "husband"),
    "partner": ("fact", "partner"),
    "girlfriend": ("fact", "partner"),
    "boyfriend": ("fact", "partner"),
    "editor": ("preference", "editor"),
    "os": ("preference", "os"),
    "operating system": ("preference", "os"),
    "shell": ("preference", "shell"),
    "stack": ("preference", "stack"),
    "main language": ("preference", "main_language"),
    "primary language": ("preference", "main_language"),
}
_RELATIVES = "|".join(
    sorted(
        wordset(
            "wife husband partner girlfriend boyfriend son daughter dog cat kid child baby brother sister mom mother "
            "dad father"
        )
    )
)


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str]
    build: Callable[[re.Match[str], str], tuple[str, str, str, str] | None]  # -> (kind, key, text, value)
    # Instructions are imperatives: they must start the sentence, and nothing before them can block them.
    anchored: bool = False


def _rule(rx: str, anchored: bool = False) -> Callable[[Callable], _Rule]:
    def wrap(fn: Callable[[re.Match[str], str], tuple[str, str, str, str] | None]) -> _Rule:
        return _Rule(re.compile(rx, re.I), fn, anchored)

    return wrap


@_rule(
    rf"(?:\bmy name is|\bmy name's|\bmy name’s|{_IM} called|\bje m'appelle|\bich heiße|\bich heisse|\bme llamo|\bmi nombre es|"
    rf"\bmein name ist)\s+{_NAME}"
)
def _name(m: re.Match[str], s: str) -> tuple[str, str, str, str] | None:
    v = m.group("v")
    if v.lower() in _DEICTIC or v.lower() in STOPWORDS:
        return None
    return "fact", "name", f"Name is {v}", v


@_rule(
    rf"(?:{_I} {_ADV}(?:live|reside) in|{_IM} {_ADV}(?:living|based|located|settled) in|"
    rf"{_I} {_ADV}(?:moved|relocated) to|\bj'habite (?:à|a|en|au)|\bje vis (?:à|a|en|au)|"
    rf"\bich wohne in|\bich lebe in|\bvivo en)\s+{_PLACE}"
)
def _lives_in(m: re.Match[str], s: str) -> tuple[str, str, str, str] | None:
    v = _clean_value(m.group("v"))
    if v is None or _first_word(v) in _DETERMINERS or _first_word(v) in _DEICTIC:
        return None
    if v[:1].islower() and s != s.lower():
        return None  # "I live in fear": a lower-case word in a cased sentence is not a place
    v = _title_if_lower(v, s)
    return "fact", "lives_in", f"Lives in {v}", v


@_rule(rf"{_IM} {_ADV}from\s+{_PLACE}")
def _from(m: re.Match[str], s: str) -> tuple[str, str, str, str] | None:
    v = _clean_value(m.group("v"))
    if v is None or (v[:1].islower() and s != s.lower()) or _first_word(v) in _DEICTIC:
        return None
    v = _title_if_lower(v, s)
    return "fact", "from", f"Is from {v}", v


@_rule(
    rf"(?:{_I} {_ADV}work (?:at|for)|{_IM} {_ADV}(?:working|employed) (?:at|for|by)|"
    rf"{_I} {_ADV}(?P<joined>joined|started (?:working )?at)|\bje travaille (?:chez|pour)|"
    rf"\bich arbeite (?:bei|für)|\btrabajo (?:en|para))\s+(?P<v>.+)"
)
def _works_at(m: re.Match[str], s: str) -> tuple[str, str, str, str] | None:
    v = _clean_value(m.group("v"))
    if m.group("joined") and (v is None or not v[:1].isupper()):
        return None  # "I joined Acme" is a job; "I joined a book club" is not
    if v is None or _first_word(v) in _DEICTIC or _first_word(v) in ("home", "night", "weekends", "the moment"):
        return None
    if v[:1].islower() and _first_word(v) not in ("a", "an") and s != s.lower():
        return None
    return "fact", "works_at", f"Works at {v}" if v[:1].isupper() else f"Works for {v}", v


def _occupation_ok(phrase: str) -> bool:
    ws = words(phrase)
    if not ws or len(ws) > 4:
        return False
    head = ws[-1]
    if head in _NOT_OCCUPATIONS or any(w in _NOT_OCCUPATIONS for w in ws):
        return False
    # -er/-or words are too often hobbies or traits ("hiker", "dreamer"): only listed ones count.
    return head in _OCCUPATION_WORDS or (
        len(head) > 4 and head.endswith(("ist", "ician", "eer", "ographer", "ologist"))
    )


@_rule(
    rf"(?:{_IM} {_ADV}(?:a|an)|{_I} {_ADV}work as (?:a|an)?|\bje suis (?:un|une)?|\bich bin (?:ein|eine)?|"
    rf"\bsoy (?:un|una)?)\s+(?P<v>[\w'’\- ]+)"
)
def _occupation(m: re.Match[str], s: str) -> tuple[str, str, str, str] | None:
    v = _clean_value(re.split(r"\s+(?:at|for|in|with|from|on)\s+", m.group("v"), maxsplit=1)[0])
    if v is None:
        return None
    ws = words(v)
    if ws and ws[-1] in _DIETS:
        return "fact", "diet", f"Is {ws[-1]}", ws[-1]
    if not _occupation_ok(v):
        return None
    return "fact", "occupation", f"Is {_article(v)} {v}", v


def _article(phrase: str) -> str:
    first = phrase.split()[0]
    if first.isupper() and len(first) > 1:  # an acronym is read letter by letter: "an MRI", "a UX"
        return "an" if first[0] in "AEFHILMNORSX" else "a"
    return "an" if first[:1].lower() in "aeiou" else "a"


@_rule(rf"{_IM} {_ADV}(?P<v>vegetarian|vegan|pescatarian|pescetarian)\b")
def _diet(m: re.Match[str], s: str) -> tuple[str, str, str, str] | None:
    v = m.group("v").lower()
    return "fact", "diet", f"Is {v}", v


@_rule(rf"{_IM} {_ADV}allergic to\s+(?P<v>.+)")
def _allergy(m: re.Match[str], s: str) -> tuple[str, str, str, str] | None:
    v = _clean_value(m.group("v"))
    if v is None or _first_word(v) in _DEICTIC:
        return None
    return "fact", f"allergy:{_norm_key(v)}", f"Is allergic to {v}", v


@_rule(rf"(?:{_IM}|{_I} {_ADV}turned)\s+(?P<v>\d{{1,2}})(?:\s+years?(?: old)?)?(?:\s*[.!,;]|$)")
def _age(m: re.Match[str], s: str) -> tuple[str, str, str, str] | None:
    v = m.group("v")
    return ("fact", "age", f"Is {v} years old", v) if 5 <= int(v) <= 110 else None


@_rule(
    rf"(?:\bmy (?P<rel>{_RELATIVES})(?:'s|’s) name is|\bmy (?P<rel2>{_RELATIVES}) is called)"
    rf"\s+{_NAME}"
)
def _relative_name(m: re.Match[str], s: str) -> tuple[str, str, str, str] | None:
    rel = (m.group("rel") or m.group("rel2")).lower()
    v = m.group("v")
    return "fact", f"{rel}_name", f"{_capitalise(rel)}'s name is {v}", v


@_rule(r"\bmy (?P<fav>favou?rite )?(?P<attr>[a-z]+(?: [a-z]+)?) (?P<verb>is|are)\s+(?P<v>.+)")
def _my_attribute(m: re.Match[str], s: str) -> tuple[str, str, str, str] | None:
    attr = m.group("attr").lower()
    v = _clean_value(m.group("v"))
    if v is None or _first_word(v) in _DEICTIC or _first_word(v) in ("not", "so", "too", "very", "still", "also"):
        return None
    if m.group("fav"):
        key = "favorite_" + "_".join(attr.split())
        return "preference", key, f"Favourite {attr} {m.group('verb').lower()} {v}", v
    if attr not in _MY_ATTRIBUTES:
        return None
    kind, key = _MY_ATTRIBUTES[attr]
    return kind, key, f"{_capitalise(attr)} {m.group('verb').lower()} {v}", v


def _object_ok(v: str) -> bool:
    ws = words(v)
    if not ws or ws[0] in _DEICTIC or ws[0] in _VERB_AFTER_OBJECT:
        return False
    if any(w in _PRONOUNS_IN_VALUE for w in ws):
        return False  # "holding them", "escaping to that world": about something said before, not a lasting taste
    content = [w for w in ws if w not in _DETERMINERS and w != "all"]
    return bool(content) and not (ws[0] in _DETERMINERS and content[0] in _ABSTRACT)


# "the things I love makes …": the object slot holds a verb, so "I love" was a relative clause.
_VERB_AFTER_OBJECT = wordset("is are was were makes made has have had will would can could does did gets got")


@_rule(
    rf"{_I} {_ADV}(?P<neg>don't|dont|do not|don’t)?\s*(?:really |absolutely |totally )?(?P<verb>like|love|enjoy|adore)"
    rf"\s+(?P<v>.+)"
)
def _likes(m: re.Match[str], s: str) -> tuple[str, str, str, str] | None:
    pre = s[: m.start()].lower()
    if re.search(r"\b(?:i'd|i would|would you|i’d|id)\s*$", pre):
        return None
    v = _clean_value(m.group("v"))
    if v is None or not _object_ok(v):
        return None
    key = f"likes:{_norm_key(v)}"
    if m.group("neg"):
        return "preference", key, f"Dislikes {v}", v
    return "preference", key, f"Likes {v}" if m.group("verb").lower() != "love" else f"Loves {v}", v


@_rule(
    rf"{_I} {_ADV}(?:really |absolutely |totally )?(?:hate|dislike|detest|can't stand|cannot stand|can’t stand)"
    rf"\s+(?P<v>.+)"
)
def _dislikes(m: re.Match[str], s: str) -> tuple[str, str, str, str] | None:
    v = _clean_value(m.group("v"))
    if v is None or not _object_ok(v):
        return None
    return "preference", f"likes:{_norm_key(v)}", f"Dislikes {v}", v


@_rule(
    rf"(?:{_I} {_ADV}(?:much |strongly |generally |usually |always )?prefer|\bje préfère|\bich bevorzuge|"
    rf"\bprefiero)\s+(?P<v>.+?)(?:\s+(?:over|to|rather than|instead of|à|a|statt|en vez de)\s+(?P<w>.+))?$"
)
def _prefers(m: re.Match[str], s: str) -> tuple[str, str, str, str] | None:
    pre = s[: m.start()].lower()
    if re.search(r"\b(?:i'd|i would|i’d|id)\s*$", pre):
        return None
    v = _clean_value(m.group("v"))
    if v is None or not _object_ok(v):
        return None
    w = _clean_value(m.group("w")) if m.group("w") else None
    if w:
        pair = sorted([_norm_key(v), _norm_key(w)])
        return "preference", f"prefer:{'|'.join(pair)}", f"Prefers {v} over {w}", v
    return "preference", f"prefer:{_norm_key(v)}", f"Prefers {v}", v


@_rule(
    rf"{_I} {_ADV}(?P<freq>always|usually|generally|mostly|typically|never|only) use\s+(?P<v>.+?)"
    rf"(?:\s+(?:for|in|with|when)\s+(?P<w>.+))?$"
)
def _uses(m: re.Match[str], s: str) -> tuple[str, str, str, str] | None:
    v = _clean_value(m.group("v"))
    if v is None or not _object_ok(v):
        return None
    w = _clean_value(m.group("w")) if m.group("w") else None
    never = m.group("freq").lower() == "never"
    verb = "Never uses" if never else "Uses"
    if w and not never:
        return "preference", f"uses_for:{_norm_key(w)}", f"{verb} {v} for {w}", v
    return "preference", f"uses:{_norm_key(v)}", f"{verb} {v}" + (f" for {w}" if w else ""), v


# "I'm learning a ton", "I'm working on a new project": too vague to remember.
_VAGUE_OBJECTS = frozenset(
    phrase.replace("_", " ")
    for phrase in wordset(
        "ton lot lots so_much much more things new_things stuff project new_project side_project thing something how "
        "from hard fast quickly"
    )
)
_PROJECT_NOUNS = wordset(
    """
app website site book novel thesis dissertation paper game library tool startup company course blog podcast
album film movie
"""
)


@_rule(
    rf"(?:{_IM} {_ADV}(?P<verb>working on|building|developing|making|creating|designing|coding|writing|"
    rf"learning|studying)|{_I} {_ADV}(?:am )?(?:trying|planning|going) to (?P<verb2>build|launch|start|learn|write|"
    rf"make|create|develop))\s+(?P<v>.+)"
)
def _project(m: re.Match[str], s: str) -> tuple[str, str, str, str] | None:
    verb = (m.group("verb") or m.group("verb2")).lower()
    v = _clean_value(m.group("v"))
    if v is None or not _object_ok(v):
        return None
    ws = [w for w in words(v) if w not in _DETERMINERS]
    if not ws or any(w in _TRANSIENT_OBJECTS for w in ws[:3]) or " ".join(ws) in _VAGUE_OBJECTS:
        return None
    if verb in ("writing", "write", "making", "make", "creating", "create", "designing", "coding") and not (
        set(ws) & _PROJECT_NOUNS or v[:1].isupper()
    ):
        return None
    label = {
        "learning": "Learning",
        "learn": "Learning",
        "studying": "Studying",
        "writing": "Writing",
        "write": "Writing",
    }.get(verb, "Working on")
    key_prefix = "learning" if label in ("Learning", "Studying") else "project"
    return "project", f"{key_prefix}:{_norm_key(v)}", f"{label} {v}", v


@_rule(r"\bmy (?:side |current |new |pet |main |own )?project (?:is (?:called |named )?|called |named )(?P<v>.+)")
def _my_project(m: re.Match[str], s: str) -> tuple[str, str, str, str] | None:
    v = _clean_value(m.group("v"))
    if v is None or not _object_ok(v):
        return None
    return "project", f"project:{_norm_key(v)}", f"Working on {v}", v


# --- standing instructions ----------------------------------------------------------------------

_STANDING = (
    r"(?:please\s+)?(?:(?:always|from now on|going forward|by default|in future|in the future|"
    r"in all future (?:answers|replies|responses)|every time|whenever you (?:answer|reply|respond))[,:]?\s+)"
)


@_rule(r"^(?:please\s+)?(?:call|address) me\s+(?:as\s+)?" + _NAME, anchored=True)
def _call_me(m: re.Match[str], s: str) -> tuple[str, str, str, str] | None:
    v = m.group("v")
    return "instruction", "call_me", f"Call me {v}", v


@_rule(r"^(?:appelle-moi|appelez-moi|nenn mich|llámame|llamame)\s+" + _NAME, anchored=True)
def _call_me_intl(m: re.Match[str], s: str) -> tuple[str, str, str, str] | None:
    v = m.group("v")
    return "instruction", "call_me", f"Call me {v}", v


@_rule(
    r"^" + _STANDING + r"(?P<verb>answer|respond|reply|write|talk|speak)(?: to me)?(?: only)? in\s+(?P<v>[a-z]+)\b"
    r"|^(?:please\s+)?(?:answer|respond|reply|write|talk|speak)(?: to me)?(?: only)? in\s+(?P<v2>[a-z]+)\s+"
    r"(?:from now on|going forward|by default|always|in future)",
    anchored=True,
)
def _reply_language(m: re.Match[str], s: str) -> tuple[str, str, str, str] | None:
    lang = (m.group("v") or m.group("v2")).lower()
    if lang not in _LANGUAGES:
        return None
    return "instruction", "reply_language", f"Always answer in {lang.capitalize()}", lang.capitalize()


# Language names as French, German and Spanish speakers write them, mapped to the English name.
_LANGUAGE_NAMES = {
    "français": "french",
    "francais": "french",
    "anglais": "english",
    "allemand": "german",
    "espagnol": "spanish",
    "italien": "italian",
    "deutsch": "german",
    "englisch": "english",
    "französisch": "french",
    "spanisch": "spanish",
    "italienisch": "italian",
    "español": "spanish",
    "espanol": "spanish",
    "inglés": "english",
    "ingles": "english",
    "francés": "french",
    "frances": "french",
    "alemán": "german",
    "aleman": "german",
    "italiano": "italian",
}


@_rule(
    r"^(?:s'il te plaît,?\s+|bitte\s+|por favor,?\s+)?(?:réponds|répondez|reponds|repondez|écris|ecris|antworte|"
    r"antworten sie|schreib|responde|respóndeme|respondeme|escribe)(?:-moi|\s+mir|\s+me)?\s+"
    r"(?:toujours|immer|siempre)\s+(?:en|auf|in)\s+(?P<v>\w+)",
    anchored=True,
)
def _reply_language_intl(m: re.Match[str], s: str) -> tuple[str, str, str, str] | None:
    lang = _LANGUAGE_NAMES.get(m.group("v").lower(), m.group("v").lower())
    if lang not in _LANGUAGES:
        return None
    return "instruction", "reply_language", f"Always answer in {lang.capitalize()}", lang.capitalize()


@_rule(
    r"^(?:please\s+)?(?:always\s+)?(?:use|write in|stick to|prefer)\s+(?P<v>british|american|uk|us|canadian|australian)"
    r"\s+(?:english\s+)?(?:spelling|english|spellings)\b",
    anchored=True,
)
def _spelling(m: re.Match[str], s: str) -> tuple[str, str, str, str] | None:
    v = {"uk": "British", "us": "American"}.get(m.group("v").lower(), m.group("v").capitalize())
    return "instruction", "spelling", f"Use {v} spelling", v


_PARTICLES = wordset("up down out in off back away over around through")
_INSTRUCTION_VERB = (
    r"(?:use|answer|respond|reply|write|give|keep|include|add|mention|explain|show|format|"
    r"start|end|begin|assume|ask|apologi[sz]e|say|cite|provide|put|be|make|avoid|list|"
    r"suggest|recommend|translate|summari[sz]e|call|refer|talk|speak|sign|double-check|check)"
)


@_rule(
    r"^(?:please\s+)?(?P<mode>always|never|don't ever|do not ever|don’t ever|from now on,?|going forward,?|"
    r"by default,?|in future,?|in the future,?|from now on,? (?:please\s+)?(?:always|never|don't|do not))\s+"
    r"(?:please\s+)?(?P<v>" + _INSTRUCTION_VERB + r"\b.+)",
    anchored=True,
)
def _standing(m: re.Match[str], s: str) -> tuple[str, str, str, str] | None:
    mode = m.group("mode").lower()
    body = m.group("v").strip().rstrip(".!")
    if len(words(body)) >= 2 and (words(body)[1] in _PARTICLES or words(body)[1] == mode.split()[0]):
        return None  # "never give up", "always look back": idioms, not instructions to the assistant
    if len(body) > 150 or len(body.split()) > 20:
        return None
    never = bool(re.search(r"never|don't|do not|don’t", mode))
    key_words = [w for w in words(body) if w not in STOPWORDS][:4]
    key = "instruction:" + "_".join(stem(w) for w in key_words)
    text = ("Never " if never else "Always ") + body
    return "instruction", key, text, ("never " if never else "always ") + body


@_rule(
    r"^(?:i want you to|i'd like you to|i would like you to|you should|you must|please remember to|"
    r"remember to|make sure (?:to|you)|please make sure (?:to|you))\s+(?P<mode>always|never)\s+"
    r"(?P<v>" + _INSTRUCTION_VERB + r"\b.+)",
    anchored=True,
)
def _standing_wish(m: re.Match[str], s: str) -> tuple[str, str, str, str] | None:
    return _standing.build(m, s)


RULES: tuple[_Rule, ...] = (
    _call_me,
    _call_me_intl,
    _reply_language,
    _reply_language_intl,
    _spelling,
    _standing,
    _standing_wish,
    _name,
    _relative_name,
    _lives_in,
    _from,
    _works_at,
    _diet,
    _occupation,
    _allergy,
    _age,
    _my_project,
    _my_attribute,
    _prefers,
    _uses,
    _dislikes,
    _likes,
    _project,
)


def _statement(sentence: str) -> str | None:
    """The sentence with leading filler removed, or None when it cannot carry a memory."""
    s = _LEADING_FILLER.sub("", sentence.strip()).strip()
    if not s or len(s) > MAX_SENTENCE_CHARS or s.endswith("?") or s.startswith(("¿", ">", "#", "|")):
        return None
    if _QUESTION_START.match(s):
        return None
    if len(_CODEY.findall(s)) >= 2:
        return None
    return s


def _relative(s: str, start: int) -> bool:
    """Whether the match at `start` sits in a relative clause ("the things I love", "a job I enjoy")."""
    before = words(s[:start])
    return bool(before) and before[-1] not in _CLAUSE_OPENERS and not re.search(r"[,;:!.…\-–—(]\s*$", s[:start])


def extract_from_text(text: str) -> list[tuple[str, str, str, str, str]]:
    """(kind, key, text, value, evidence) for each memory stated in `text`."""
    found: list[tuple[str, str, str, str, str]] = []
    for sentence in split_sentences(text):
        s = _statement(sentence)
        if s is None:
            continue
        taken: list[tuple[int, int]] = []
        for rule in RULES:
            for m in rule.pattern.finditer(s):
                if any(m.start() < e and m.end() > b for b, e in taken):
                    continue
                if not rule.anchored and (_BLOCKING_CONTEXT.search(s[: m.start()]) or _relative(s, m.start())):
                    continue
                built = rule.build(m, s)
                if built is None:
                    continue
                kind, key, mem_text, value = built
                if not key or key.endswith(":"):
                    continue
                taken.append((m.start(), m.end()))
                found.append((kind, key, mem_text, value, s))
    return found


def extract_candidates(messages: Iterable[Message | tuple[int, str, str, datetime | None]]) -> list[Candidate]:
    """Rule-based candidates from the user turns of `messages`, in message order; the same memory stated in
    several turns becomes one candidate citing all of them (observed at the latest)."""
    by_identity: dict[tuple[str, str], Candidate] = {}
    order: list[tuple[str, str]] = []
    for raw in messages:
        msg = raw if isinstance(raw, Message) else Message(*raw)
        if msg.role != "user" or not msg.text:
            continue
        for kind, key, text, value, evidence in extract_from_text(msg.text):
            ident = (key, text.lower())
            prev = by_identity.get(ident)
            if prev is None:
                by_identity[ident] = Candidate(kind, key, text, value, (msg.id,), msg.created_at, "extracted", evidence)
                order.append(ident)
            elif msg.id not in prev.message_ids:
                later = msg.created_at or prev.observed_at
                by_identity[ident] = replace(prev, message_ids=(*prev.message_ids, msg.id), observed_at=later)
    return [by_identity[i] for i in order]


def extract(
    messages: Sequence[Message | tuple[int, str, str, datetime | None]], *, llm: LLMClient | None = None
) -> list[Candidate]:
    """Candidates from the local model when one is configured and answers, else from the rules."""
    msgs = [m if isinstance(m, Message) else Message(*m) for m in messages]
    if llm is not None:
        from satchel.memory.llm_client import LLMError

        try:
            return llm.extract_memories(msgs)
        except LLMError:
            pass
    return extract_candidates(msgs)


def normalise_key(kind: str, key: str | None, text: str) -> str:
    """A key in the rules' vocabulary for a memory from elsewhere (the person, the local model)."""
    if key:
        k = re.sub(r"[^a-z0-9_:|]+", "_", key.strip().lower())
        k = re.sub(r"_*([:|])_*", r"\1", k).strip("_")
        if k:
            return k[:80]
    return f"{kind}:{_norm_key(text, 6)}" if text else kind


__all__ = [
    "KINDS",
    "RULES",
    "Candidate",
    "Message",
    "extract",
    "extract_candidates",
    "extract_from_text",
    "normalise_key",
]
