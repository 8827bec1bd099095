"""Simulated Modbus RTU barrier."""
