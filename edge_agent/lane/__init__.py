"""The lane: one state machine per checkpoint, deciding by a policy that is data."""
