"""Plate recognition on the box: OpenVINO detector and reader, normaliser, multi-frame vote."""
