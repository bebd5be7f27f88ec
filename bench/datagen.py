"""Generated chat history for benchmarks: deterministic by seed, fast enough for a million messages.

What it looks like (measured on the default seed, see ``python bench/datagen.py --stats``):
* conversations of 2-60 turns (median ≈10), user and assistant alternating, spread over three years;
* short prompts (median ≈14 words, a few pasted blocks of several hundred), long answers (median ≈170 words,
  up to ≈1,500) with markdown lists and, in about a third of the answers, fenced code blocks;
* several languages per conversation: English (≈70 %), French, German, Spanish, Russian, Japanese, Chinese;
* words drawn from a Zipf law over a real common-word head and a long pseudo-word tail, with a topic per
  conversation (a few hundred rare words that recur inside it), so BM25 sees realistic document frequencies
  and a query made from a message's rare words has a handful of true matches, not thousands.

Vectors (``topic_vectors``) are synthetic: a unit vector per topic plus per-chunk noise, L2-normalised, so
vectors of the same conversation are close (cosine ≈0.5) and the rest near-orthogonal. They cost nothing
to make and stand in for the model's vectors when a vault is too big to embed at ≈10 texts/s.

    from bench.datagen import generate, make_queries
    for conv, messages in generate(10_000, seed=1): ...   # exactly 10,000 messages in total
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import math
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

PROVIDERS = ("chatgpt", "claude", "gemini", "lechat", "perplexity", "deepseek", "copilot")
PROVIDER_P = (0.42, 0.25, 0.14, 0.05, 0.06, 0.05, 0.03)
LANGS = ("en", "fr", "de", "es", "ru", "ja", "zh")
LANG_P = (0.70, 0.08, 0.07, 0.07, 0.03, 0.03, 0.02)
N_TOPICS = 4096
TOPIC_WORDS = 48
START = datetime(2023, 1, 1, tzinfo=UTC).timestamp()
SPAN = 3 * 365 * 86400.0

_EN = """the of and to a in is it you that for on with as this be are can or if your not by an at from
use have but will which more one all when we they so some how what there do about also each like other only
time first then new data file function value code example using way make need step work may set run these
output result user system test error list string number model first case type default name return
server memory search query vector index context message conversation prompt answer token cache request
response database table column row key update version install package library build config option path
project change problem issue reason better simple small large fast slow check support create remove""".split()
_FR = """le la les de des du un une et est en que qui pour dans sur pas plus avec ce cette il elle nous vous
ils sont être avoir fait faire comme mais ou donc car très bien aussi tout tous peut faut alors ainsi entre
après avant depuis fichier données exemple fonction valeur résultat erreur requête modèle réponse""".split()
_DE = """der die das und ist nicht ein eine zu den mit von sie es auf für auch im dem sich des als wird bei
oder aber wie noch nach nur wenn kann werden sind hat zum zur diese dieser mehr schon sehr hier dann
Datei Daten Beispiel Funktion Wert Ergebnis Fehler Anfrage Modell Antwort Speicher Suche""".split()
_ES = """el la los las de del y en que un una es por con para no se lo como más pero sus le ya o este
sí porque esta entre cuando muy sin sobre también me hasta hay donde quien desde todo nos durante
archivo datos ejemplo función valor resultado error consulta modelo respuesta memoria búsqueda""".split()
_RU = """и в не на я что он с как а то все она так его но да ты к у же вы за бы по только ее мне было
вот от меня еще нет о из ему теперь когда даже ну вдруг ли если уже или ни быть был него до вас
файл данные пример функция значение результат ошибка запрос модель ответ память поиск""".split()
_CODE_KW = {
    "python": ["def", "return", "import", "for", "in", "if", "else", "with", "as", "class", "self", "None", "await"],
    "javascript": ["const", "let", "function", "return", "await", "async", "if", "else", "new", "this", "=>"],
    "sql": ["SELECT", "FROM", "WHERE", "JOIN", "GROUP BY", "ORDER BY", "LIMIT", "INSERT INTO", "VALUES"],
    "bash": ["cd", "ls", "grep", "export", "pip install", "git", "curl -s", "sed -n", "echo", "&&"],
}
_SYLL = ("ka ri to na shi mo ve la pro tel zan qua dor ex min ber gal fin ost ult rav pen cor sul dem "
         "bi flo gre hun jex lon mar nep opt pra qui rus sta tri uvo vin wex xal yor zel").split()


@dataclass(frozen=True)
class GenConfig:
    tail_words: int = 60_000  # pseudo-word vocabulary (shared by all languages written in Latin script)
    zipf_s: float = 1.07
    topic_share: float = 0.12  # share of a message's words drawn from its conversation's topic words
    code_share: float = 0.33  # answers with a fenced code block


class _Vocab:
    def __init__(self, cfg: GenConfig) -> None:
        rng = np.random.default_rng(12345)  # the vocabulary is the same for every seed
        syl = np.array(_SYLL)
        n = cfg.tail_words
        lengths = rng.integers(2, 5, size=n)
        parts = rng.integers(0, syl.size, size=(n, 4))
        tail = []
        seen: set[str] = set()
        for i in range(n):
            w = "".join(syl[parts[i, : lengths[i]]])
            if w in seen:
                w = f"{w}{i % 97}"
            seen.add(w)
            tail.append(w)
        self.tail = np.array(tail, dtype=object)
        self.tail_list = tail
        heads = {"en": _EN, "fr": _FR, "de": _DE, "es": _ES, "ru": _RU}
        self.words: dict[str, np.ndarray] = {}
        self.cdf: dict[str, np.ndarray] = {}
        for lang, head in heads.items():
            words = np.concatenate([np.array(head, dtype=object), self.tail])
            self.words[lang] = words
            ranks = np.arange(1, words.size + 1, dtype=np.float64)
            p = ranks ** -cfg.zipf_s
            self.cdf[lang] = np.cumsum(p) / p.sum()
        # CJK: characters from the common block, "words" of 1-3 characters
        cjk = rng.integers(0x4E00, 0x4E00 + 3000, size=(20_000, 3))
        kana = rng.integers(0x3041, 0x3096, size=(8_000, 3))
        self.words["zh"] = np.array(["".join(map(chr, r[: 1 + i % 3])) for i, r in enumerate(cjk)], dtype=object)
        self.words["ja"] = np.concatenate([
            np.array(["".join(map(chr, r[: 2 + i % 2])) for i, r in enumerate(kana)], dtype=object),
            self.words["zh"][:6000]])
        for lang in ("zh", "ja"):
            ranks = np.arange(1, self.words[lang].size + 1, dtype=np.float64)
            p = ranks ** -cfg.zipf_s
            self.cdf[lang] = np.cumsum(p) / p.sum()


_VOCAB: _Vocab | None = None


def _vocab(cfg: GenConfig) -> _Vocab:
    global _VOCAB
    if _VOCAB is None:
        _VOCAB = _Vocab(cfg)
    return _VOCAB


def topic_words(topic: int, cfg: GenConfig = GenConfig()) -> np.ndarray:
    """The rare words of one topic (indices into the tail), stable for a topic id."""
    rng = np.random.default_rng(1_000_003 + topic)
    # from the rarer half of the tail, so a topic's words are distinctive
    lo = cfg.tail_words // 8
    return rng.integers(lo, cfg.tail_words, size=TOPIC_WORDS)


POOL = 1 << 20  # pre-drawn Zipf words per language; messages read random slices of it


class _Writer:
    def __init__(self, r: random.Random, cfg: GenConfig, lang: str, topic: int) -> None:
        self.r = r
        self.cfg = cfg
        self.lang = lang
        self.pool = _pool(cfg, lang)
        self.topic_cycle = _topic_cycle(cfg, topic)
        self.cjk = lang in ("zh", "ja")

    def words_of(self, n: int) -> list[str]:
        rnd = self.r.random
        pos = int(rnd() * (POOL - n)) if n < POOL else 0
        out = self.pool[pos : pos + n]
        if not self.cjk and n:
            # about one word in eight comes from the conversation's topic (a stride is much cheaper than
            # drawing every position)
            step = 8
            first = int(rnd() * step)
            k = len(range(first, n, step))
            o = int(rnd() * (len(self.topic_cycle) - k)) if k < len(self.topic_cycle) else 0
            out[first::step] = self.topic_cycle[o : o + k]
        return out

    def sentence_text(self, words: list[str]) -> str:
        if not words:
            return ""
        if self.cjk:
            return "".join(words) + "。"
        return words[0].capitalize() + (" " if len(words) > 1 else "") + " ".join(words[1:]) + "."

    def prose(self, n_words: int) -> str:
        words = self.words_of(n_words)
        out, i = [], 0
        rnd = self.r.random
        while i < len(words):
            n = 6 + int(rnd() * 16)
            out.append(self.sentence_text(words[i : i + n]))
            i += n
        return "".join(out) if self.cjk else " ".join(out)

    def code(self, n_lines: int) -> str:
        r = self.r
        lang = ("python", "javascript", "sql", "bash")[r.randrange(4)]
        kws = _CODE_KW[lang]
        tail = _vocab(self.cfg).tail_list
        idents = self.words_of(n_lines * 3) if not self.cjk else [tail[r.randrange(5000)] for _ in range(n_lines * 3)]
        lines = []
        for i in range(n_lines):
            a, b, c = idents[3 * i : 3 * i + 3]
            lines.append(f"{'    ' * r.randrange(3)}{kws[r.randrange(len(kws))]} {a}_{b}({c}, {r.randrange(1000)})")
        return f"```{lang}\n" + "\n".join(lines) + "\n```"

    def answer(self, n_words: int) -> str:
        r = self.r
        parts: list[str] = []
        remaining = n_words
        while remaining > 0:
            if r.random() < 0.15 and remaining > 20:
                items = r.randint(3, 6)
                per = max(4, min(remaining // items, 18))
                parts.append("\n".join(f"- {self.prose(per)}" for _ in range(items)))
                remaining -= items * per
            else:
                n = min(remaining, r.randint(30, 89))
                parts.append(self.prose(n))
                remaining -= n
        if r.random() < self.cfg.code_share:
            parts.insert(r.randint(0, len(parts)), self.code(r.randint(4, 29)))
        return "\n\n".join(parts)


_POOLS: dict[str, list[str]] = {}
_CYCLES: dict[int, list[str]] = {}


def _topic_cycle(cfg: GenConfig, topic: int) -> list[str]:
    """The topic's words repeated in a fixed shuffled order; messages read random slices of it."""
    cyc = _CYCLES.get(topic)
    if cyc is None:
        words = _vocab(cfg).tail[topic_words(topic, cfg)]
        rng = np.random.default_rng(topic)
        cyc = _CYCLES[topic] = words[rng.integers(0, words.size, size=words.size * 40)].tolist()
    return cyc


def _pool(cfg: GenConfig, lang: str) -> list[str]:
    if lang not in _POOLS:
        v = _vocab(cfg)
        rng = np.random.default_rng(LANGS.index(lang) + 99)
        idx = np.minimum(np.searchsorted(v.cdf[lang], rng.random(POOL)), v.words[lang].size - 1)
        _POOLS[lang] = v.words[lang][idx].tolist()
    return _POOLS[lang]


def _lognormal_int(r: random.Random, median: float, sigma: float, lo: int, hi: int) -> int:
    return int(min(max(r.lognormvariate(math.log(median), sigma), lo), hi))


def generate(n_messages: int, seed: int = 1, cfg: GenConfig = GenConfig(), *,
             id_prefix: str = "c") -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Conversations totalling exactly ``n_messages`` messages, in time order. Same seed, same data.

    Each conversation dict carries ``provider``, ``id``, ``title``, ``created_at`` and ``_topic``/``_lang``
    (the benchmark makes vectors from the topic; drop keys starting with ``_`` before sending it anywhere)."""
    r = random.Random(seed)
    made = 0
    index = 0
    n_convs_est = max(1, n_messages // 11)
    providers = list(itertools.accumulate(PROVIDER_P))
    langs = list(itertools.accumulate(LANG_P))
    while made < n_messages:
        turns = min(_lognormal_int(r, 10, 0.7, 2, 60), n_messages - made)
        provider = PROVIDERS[min(bisect.bisect(providers, r.random()), len(PROVIDERS) - 1)]
        lang = LANGS[min(bisect.bisect(langs, r.random()), len(LANGS) - 1)]
        topic = r.randrange(N_TOPICS)
        w = _Writer(r, cfg, lang, topic)
        t = START + SPAN * min(index / n_convs_est, 1.0) + r.uniform(0, 3600)
        title = w.sentence_text(w.words_of(r.randint(2, 6)))[:-1]
        conv = {"provider": provider, "id": f"{id_prefix}{seed}-{index}", "title": title,
                "created_at": _iso(t), "_topic": topic, "_lang": lang}
        messages = []
        for turn in range(turns):
            if turn % 2 == 0:
                role = "user"
                if r.random() < 0.04:  # pasted material: a log, a document, code
                    text = w.prose(_lognormal_int(r, 250, 0.6, 60, 1200))
                    if r.random() < 0.5:
                        text = w.code(r.randint(8, 59)) + "\n\n" + w.prose(r.randint(5, 24))
                else:
                    text = w.prose(_lognormal_int(r, 14, 0.8, 2, 120))
                    if not w.cjk and r.random() < 0.6:
                        text = text[:-1] + "?"
            else:
                role = "assistant"
                text = w.answer(_lognormal_int(r, 170, 0.75, 10, 1500))
            t += r.uniform(5, 240)
            messages.append({"role": role, "text": text, "created_at": _iso(t)})
        made += turns
        index += 1
        yield conv, messages


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_queries(n: int, seed: int, pool: list[tuple[dict[str, Any], list[dict[str, Any]]]],
                 words: tuple[int, int] = (3, 8)) -> list[dict[str, Any]]:
    """Queries written from messages of ``pool``: a few of the message's words in a question frame,
    so most queries have real matches. Returns dicts with ``query``, ``topic`` and the source ``conversation``."""
    rng = np.random.default_rng(seed)
    frames = ["what did we say about {}", "{}", "how do I {} again", "remind me: {}", "{} — any notes?"]
    out = []
    for _ in range(n):
        conv, messages = pool[int(rng.integers(0, len(pool)))]
        msg = messages[int(rng.integers(0, len(messages)))]
        tokens = [t.strip(".,?:;!()`") for t in msg["text"].split() if len(t) > 3 and t.isalpha()]
        if not tokens:
            tokens = msg["text"][:20].split() or ["memory"]
        k = int(rng.integers(words[0], words[1] + 1))
        start = int(rng.integers(0, max(len(tokens) - k, 0) + 1))
        body = " ".join(tokens[start : start + k])
        out.append({"query": frames[int(rng.integers(0, len(frames)))].format(body), "topic": conv["_topic"],
                    "conversation": conv["id"]})
    return out


def topic_vectors(topics: np.ndarray, seed: int, dim: int = 384, noise: float = 1.0) -> np.ndarray:
    """One L2-normalised float32 vector per entry of ``topics``: the topic's unit centre plus Gaussian noise."""
    centres = _topic_centres(dim)
    rng = np.random.default_rng(seed)
    out = np.empty((topics.size, dim), np.float32)
    step = 65_536
    for s in range(0, topics.size, step):
        t = topics[s : s + step]
        v = centres[t] + rng.standard_normal((t.size, dim), dtype=np.float32) * (noise / np.sqrt(dim))
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        out[s : s + step] = v
    return out


_CENTRES: np.ndarray | None = None


def _topic_centres(dim: int) -> np.ndarray:
    global _CENTRES
    if _CENTRES is None or _CENTRES.shape[1] != dim:
        c = np.random.default_rng(777).standard_normal((N_TOPICS, dim), dtype=np.float32)
        _CENTRES = c / np.linalg.norm(c, axis=1, keepdims=True)
    return _CENTRES


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int, nargs="?", default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--stats", action="store_true", help="print the length mix")
    ap.add_argument("--sample", type=int, default=0, help="print this many conversations")
    args = ap.parse_args()
    started = time.perf_counter()
    user_w, asst_w, chars, code, convs, langs = [], [], 0, 0, 0, {}
    for conv, messages in generate(args.n, args.seed):
        convs += 1
        langs[conv["_lang"]] = langs.get(conv["_lang"], 0) + len(messages)
        if convs <= args.sample:
            print(f"## {conv['provider']} · {conv['title']} ({conv['_lang']})")
            for m in messages[:4]:
                print(f"[{m['role']}] {m['text'][:600]}\n")
        for m in messages:
            chars += len(m["text"])
            n = len(m["text"].split())
            (user_w if m["role"] == "user" else asst_w).append(n)
            code += "```" in m["text"]
    took = time.perf_counter() - started
    print(f"{args.n:,} messages in {convs:,} conversations: {took:.1f} s ({args.n / took:,.0f} messages/s), "
          f"{chars / 1e6:.1f} M characters")
    if args.stats:
        for name, arr in (("user", user_w), ("assistant", asst_w)):
            a = np.array(arr)
            print(f"{name} words: median {np.median(a):.0f}, p90 {np.percentile(a, 90):.0f}, max {a.max()}")
        print(f"messages with code: {code / args.n:.1%}; languages: "
              + ", ".join(f"{k} {v / args.n:.0%}" for k, v in sorted(langs.items(), key=lambda x: -x[1])))


if __name__ == "__main__":
    main()
