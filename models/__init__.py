"""OpenVINO IR models for plate detection and reading, with their training recipe (later issue)."""
