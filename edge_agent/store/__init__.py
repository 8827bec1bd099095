"""The gate box's SQLite store: outbox of events and declarations cache."""

from edge_agent.store.declarations import ApplyResult, DeclarationCache
from edge_agent.store.outbox import EdgeStore, Transaction

__all__ = ["ApplyResult", "DeclarationCache", "EdgeStore", "Transaction"]
