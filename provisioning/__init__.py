"""The technician's tools: enrol a gate box with central and write its config and secrets."""
