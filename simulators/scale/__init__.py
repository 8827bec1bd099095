"""Simulated weighing indicators."""
