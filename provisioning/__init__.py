"""Technician CLI: enrol a gate box with central, write its config and secrets (later)."""
