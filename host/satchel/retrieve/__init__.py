"""In-memory hybrid retrieval: BM25 + exact vectors + normalised fusion, fed by the vault owner."""

from satchel.retrieve.retriever import Doc, Filters, RetrievalConfig, Retriever, ScoredChunk
from satchel.retrieve.timeparse import parse_time_expression

__all__ = ["Doc", "Filters", "RetrievalConfig", "Retriever", "ScoredChunk", "parse_time_expression"]
