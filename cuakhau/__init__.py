"""The ``cuakhau`` command: one console script, subcommands per component."""

__version__ = "0.1.0"
