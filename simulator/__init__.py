"""Peilian (陪练): a training simulator for Chinese call-center agents.

The library: phrasebook + grader (pure), personas, caller backends, call sessions, store.
The web app (``webui``) and the CLI (``simulator.cli``) are thin layers on top.
"""

__version__ = "0.1.0"
