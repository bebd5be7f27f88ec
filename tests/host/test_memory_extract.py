"""Rule-based extraction: what the person states about themselves becomes a memory with a subject key;
questions, hypotheticals, requests and other people's facts do not."""

from __future__ import annotations

from datetime import datetime

import pytest
from satchel.memory.extract import Message, extract, extract_candidates, extract_from_text


def one(text: str) -> tuple[str, str, str]:
    found = extract_from_text(text)
    assert len(found) == 1, (text, found)
    kind, key, mem, _value, _evidence = found[0]
    return kind, key, mem


@pytest.mark.parametrize(
    ("text", "key", "memory"),
    [
        ("My name is Ada Lovelace.", "name", "Name is Ada Lovelace"),
        ("my name's Grace", "name", "Name is Grace"),
        ("I live in Paris, France.", "lives_in", "Lives in Paris"),
        ("i live in paris", "lives_in", "Lives in Paris"),
        ("Btw, I just moved to Berlin last month.", "lives_in", "Lives in Berlin"),
        ("I'm based in San Francisco.", "lives_in", "Lives in San Francisco"),
        ("I work at Google as an engineer.", "works_at", "Works at Google"),
        ("I work for a small startup.", "works_at", "Works for a small startup"),
        ("I'm a software engineer.", "occupation", "Is a software engineer"),
        ("I work as a nurse.", "occupation", "Is a nurse"),
        ("I'm a product manager at Stripe.", "occupation", "Is a product manager"),
        ("I just joined Airbus.", "works_at", "Works at Airbus"),
        ("I am a vegetarian.", "diet", "Is vegetarian"),
        ("I'm 34 years old.", "age", "Is 34 years old"),
        ("I'm allergic to peanuts.", "allergy:peanut", "Is allergic to peanuts"),
        ("My dog's name is Rex.", "dog_name", "Dog's name is Rex"),
        ("My pronouns are she/her.", "pronouns", "Pronouns are she/her"),
        ("I'm from Lagos.", "from", "Is from Lagos"),
    ],
)
def test_facts_about_the_person(text: str, key: str, memory: str) -> None:
    assert one(text) == ("fact", key, memory)


@pytest.mark.parametrize(
    ("text", "key", "memory"),
    [
        ("I prefer tabs over spaces.", "prefer:space|tab", "Prefers tabs over spaces"),
        ("When I'm coding, I prefer dark mode.", "prefer:dark_mode", "Prefers dark mode"),
        ("I love hiking in the Alps.", "likes:hike_alp", "Loves hiking in the Alps"),
        ("I really enjoy Thai food.", "likes:thai_food", "Likes Thai food"),
        ("I don't like Java.", "likes:java", "Dislikes Java"),
        ("I hate meetings before 10am.", "likes:meet_10am", "Dislikes meetings before 10am"),
        (
            "I always use pnpm for JavaScript projects.",
            "uses_for:javascript_project",
            "Uses pnpm for JavaScript projects",
        ),
        ("I never use semicolons.", "uses:semicolon", "Never uses semicolons"),
        ("My favourite editor is Helix.", "favorite_editor", "Favourite editor is Helix"),
    ],
)
def test_preferences(text: str, key: str, memory: str) -> None:
    assert one(text) == ("preference", key, memory)


def test_liking_and_disliking_the_same_thing_share_a_key() -> None:
    assert one("I love Java.")[1] == one("I hate Java.")[1] == one("I don't like Java.")[1]


def test_either_order_of_a_preference_pair_shares_a_key() -> None:
    assert one("I prefer tabs over spaces.")[1] == one("I prefer spaces to tabs.")[1]


@pytest.mark.parametrize(
    ("text", "key", "memory"),
    [
        (
            "I'm working on a Rust CLI called Satchel.",
            "project:rust_cli_call_satchel",
            "Working on a Rust CLI called Satchel",
        ),
        (
            "I'm building a recipe app for my family.",
            "project:recip_app_famili",
            "Working on a recipe app for my family",
        ),
        ("I'm writing a novel about dragons.", "project:novel_dragon", "Writing a novel about dragons"),
        ("I'm learning Japanese.", "learning:japanes", "Learning Japanese"),
        ("I am trying to learn Rust.", "learning:rust", "Learning Rust"),
        ("My side project is called Tinyledger.", "project:tinyledg", "Working on Tinyledger"),
    ],
)
def test_projects(text: str, key: str, memory: str) -> None:
    assert one(text) == ("project", key, memory)


@pytest.mark.parametrize(
    ("text", "key", "memory"),
    [
        ("Call me Ada.", "call_me", "Call me Ada"),
        ("Always answer in French.", "reply_language", "Always answer in French"),
        ("From now on, reply in German.", "reply_language", "Always answer in German"),
        ("Use British spelling.", "spelling", "Use British spelling"),
        ("Never use emojis.", "instruction:use_emoji", "Never use emojis"),
        ("Always use emojis.", "instruction:use_emoji", "Always use emojis"),
        (
            "From now on, keep answers under 200 words.",
            "instruction:keep_answer_200_word",
            "Always keep answers under 200 words",
        ),
        ("I want you to always cite sources.", "instruction:cite_sourc", "Always cite sources"),
        ("Please don't ever apologise.", "instruction:apologis", "Never apologise"),
    ],
)
def test_standing_instructions(text: str, key: str, memory: str) -> None:
    assert one(text) == ("instruction", key, memory)


@pytest.mark.parametrize(
    ("text", "key", "memory"),
    [
        ("Je m'appelle Marie.", "name", "Name is Marie"),
        ("J'habite à Lyon.", "lives_in", "Lives in Lyon"),
        ("Ich wohne in München.", "lives_in", "Lives in München"),
        ("Ich heiße Jonas.", "name", "Name is Jonas"),
        ("Me llamo Carlos.", "name", "Name is Carlos"),
        ("Vivo en Madrid.", "lives_in", "Lives in Madrid"),
        ("Je travaille chez Airbus.", "works_at", "Works at Airbus"),
        ("Réponds toujours en français.", "reply_language", "Always answer in French"),
        ("Antworte mir immer auf Deutsch.", "reply_language", "Always answer in German"),
        ("Responde siempre en inglés.", "reply_language", "Always answer in English"),
    ],
)
def test_a_few_french_german_and_spanish_forms(text: str, key: str, memory: str) -> None:
    assert one(text)[1:] == (key, memory)


@pytest.mark.parametrize(
    "text",
    [
        # questions
        "Do I prefer tabs?",
        "Do I prefer tabs or spaces",
        "Should I move to Paris",
        "Am I a good engineer?",
        "What do I like about Rust?",
        "Can you always answer in French?",
        # hypotheticals, role-play, other people, quoting
        "If I lived in Paris, what would I do?",
        "Imagine I am a pirate.",
        "Suppose I work at Google.",
        "Write a story where I live in Tokyo.",
        "Pretend I'm a teacher.",
        "My friend said I am a genius.",
        "Translate: I live in Berlin.",
        'She wrote "I love Java" on the whiteboard.',
        "Let's say I prefer tabs.",
        # requests and states that are not standing facts
        "I'd like a summary of this article.",
        "I would love a shorter answer.",
        "I'd prefer a table for this one.",
        "I'm writing an email to my boss.",
        "I'm tired.",
        "I'm a bit confused about closures.",
        "I'm a big fan of jazz.",
        "I live in fear of deadlines.",
        "I used to live in Rome.",
        "I love this!",
        "I like it when you explain with examples.",
        "My code is broken.",
        "My question is about pandas.",
        "Answer in French.",
        # relative clauses, reactions, idioms and vague objects (found on long chit-chat transcripts)
        "Connecting with the things I love makes writing even more fun.",
        "I'm grateful to have a job I enjoy every day.",
        "I really like the idea and the acting.",
        "I also like holding them.",
        "I joined a book club last week.",
        "Never give up!",
        "Never say never!",
        "I'm learning a ton.",
        "I'm working on a new project.",
        "I think I am an expert hiker now.",
        # code
        "x = 'I live in Paris'; print(x)",
    ],
)
def test_not_a_memory(text: str) -> None:
    assert extract_from_text(text) == [], text


def test_several_memories_in_one_message_and_questions_skipped_among_them() -> None:
    text = "Hi! I'm Ada. I live in Lyon and I work at Acme. Do I need a visa for Japan? I prefer short answers."
    keys = [key for _, key, _, _, _ in extract_from_text(text)]
    assert keys == ["lives_in", "works_at", "prefer:short_answer"]


def test_code_blocks_in_a_message_are_ignored() -> None:
    text = "Here is my test:\n```python\n# I live in Paris\nassert city == 'Paris'\n```\nIt fails."
    assert extract_from_text(text) == []


def test_only_user_turns_are_read_and_sources_are_kept() -> None:
    when = datetime(2026, 3, 1, 12)
    messages = [
        Message(1, "user", "I live in Lyon.", when),
        Message(2, "assistant", "I live in the cloud. I prefer tabs.", when),
        Message(3, "user", "Never use emojis.", when),
    ]
    candidates = extract_candidates(messages)
    assert [(c.key, c.message_ids, c.observed_at) for c in candidates] == [
        ("lives_in", (1,), when),
        ("instruction:use_emoji", (3,), when),
    ]
    assert candidates[0].origin == "extracted"
    assert candidates[0].evidence == "I live in Lyon."


def test_the_same_statement_in_several_turns_is_one_candidate_citing_all() -> None:
    t1, t2 = datetime(2026, 1, 1), datetime(2026, 2, 1)
    candidates = extract_candidates([(1, "user", "I live in Lyon.", t1), (2, "user", "As I said, I live in Lyon.", t2)])
    assert len(candidates) == 1
    assert candidates[0].message_ids == (1, 2)
    assert candidates[0].observed_at == t2


def test_extract_without_a_model_uses_the_rules() -> None:
    assert [c.key for c in extract([(1, "user", "I live in Lyon.", None)])] == ["lives_in"]


def test_long_pasted_text_costs_little() -> None:
    import time

    text = ("The quarterly report shows revenue grew in every region except the north. " * 300)[:20_000]
    start = time.perf_counter()
    assert extract_from_text(text) == []
    assert time.perf_counter() - start < 1.0
