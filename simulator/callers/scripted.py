"""The scripted caller: says the session's chosen line as is. Needs no model; the test default.

It still streams (a few characters at a time) so every consumer is exercised the same way as
with a model backend.
"""

from __future__ import annotations

import random
from typing import Iterator, Sequence

from .base import HistoryLine, Intent


class ScriptedBackend:
    """Voices ``intent.line`` verbatim, split into 1-3 character pieces (deterministic per seed)."""
    name = "scripted"

    def __init__(self, seed: int | None = None):
        self.seed = 0 if seed is None else seed

    def voice(self, persona, intent: Intent, history: Sequence[HistoryLine] = ()) -> Iterator[str]:
        rng = random.Random(f"{self.seed}|{intent.line}")
        text, i = intent.line, 0
        while i < len(text):
            n = rng.randint(1, 3)
            yield text[i:i + n]
            i += n
