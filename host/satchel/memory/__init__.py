"""Structured memory: the hierarchy above turns, and the memories distilled from them.

Pure modules the vault owner calls (no database access here; see docs/MEMORY.md):

* `sessions`    — `split_sessions(turns)`: runs of turns close in time (gap > 30 min or a new day).
* `summarize`   — `summarize_session(...)`, `summarize_conversation(...)`: extractive (TF-IDF centrality + MMR),
                  or from a local model when one is configured.
* `extract`     — `extract(messages, llm=None)`: preferences, facts, projects and standing instructions stated
                  by the person, each with a subject `key` and its source message ids.
* `consolidate` — `consolidate(memories, candidates, embed)`: a `Plan` that links, merges, supersedes or adds.
* `llm_client`  — `LLMClient(LLMConfig(base_url, model))`: an OpenAI-compatible endpoint on this machine.

Importing this package imports nothing; numpy is loaded by the modules that need it.
"""
