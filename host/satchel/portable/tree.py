"""Shared handling of message trees (ChatGPT `mapping`, Open WebUI `history`): branches and the visible thread."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Node:
    id: str
    parent: str | None
    children: list[str]
    payload: Any  # the provider's message, or None for a structural node


def visible_thread(nodes: dict[str, Node], current: str | None) -> set[str]:
    """Ids from `current` up through its parents: the branch the provider shows.

    Without a usable `current`, the thread ends at the most recent leaf reached by always taking the
    last child, which is what the providers do when nothing was chosen.
    """
    if current not in nodes:
        roots = [n.id for n in nodes.values() if n.parent not in nodes]
        current = roots[-1] if roots else None
        seen: set[str] = set()
        while current is not None and current not in seen:
            seen.add(current)
            kids = [c for c in nodes[current].children if c in nodes]
            if not kids:
                break
            current = kids[-1]
    thread: set[str] = set()
    while current is not None and current in nodes and current not in thread:
        thread.add(current)
        current = nodes[current].parent
    return thread


def walk(nodes: dict[str, Node], keep: Callable[[Node], bool]) -> Iterable[tuple[Node, str | None]]:
    """Depth-first, parents before children, children in the provider's order; yields (node, kept parent id).

    Nodes that are not kept (structural roots, hidden system prompts) are walked through: their kept
    descendants hang from the nearest kept ancestor. Iterative, so a 10,000-turn chat cannot overflow
    the stack; a cycle in a damaged file is cut rather than looped.
    """
    roots = [n.id for n in nodes.values() if n.parent is None or n.parent not in nodes]
    if not roots and nodes:  # every node has a parent: a cycle; start anywhere rather than drop it all
        roots = [next(iter(nodes))]
    visited: set[str] = set()
    stack: list[tuple[str, str | None]] = [(r, None) for r in reversed(roots)]
    while stack:
        node_id, kept_parent = stack.pop()
        if node_id in visited or node_id not in nodes:
            continue
        visited.add(node_id)
        node = nodes[node_id]
        parent_for_children = kept_parent
        if keep(node):
            yield node, kept_parent
            parent_for_children = node.id
        for child in reversed(node.children):
            if child not in visited:
                stack.append((child, parent_for_children))
    # Nodes a damaged file left unreachable (a child list that lost them) are still kept, as roots.
    for node_id, node in nodes.items():
        if node_id not in visited:
            visited.add(node_id)
            if keep(node):
                yield node, None
