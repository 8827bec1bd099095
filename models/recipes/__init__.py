"""Training recipes for the models in ``models/`` (needs the ``train`` extra: torch, tqdm)."""
