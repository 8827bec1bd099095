"""MQTT sync of the gate box with central."""

from edge_agent.sync.outbox_sync import OutboxSync, SyncStats

__all__ = ["OutboxSync", "SyncStats"]
