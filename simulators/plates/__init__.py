"""Synthetic licence plates (Vietnamese and Chinese) and truck scenes, for training and cameras."""
