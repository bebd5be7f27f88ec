"""Satchel: a local-first memory vault for LLM chats."""

__version__ = "0.1.0"
