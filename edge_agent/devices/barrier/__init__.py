"""Barrier drivers: Modbus RTU relay boards, and dry-contact GPIO, behind one interface."""
