"""Simulated cameras, scales and barriers on real ptys and streams (later issues)."""
