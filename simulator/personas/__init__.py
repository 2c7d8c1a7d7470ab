"""Personas: who calls, why, what they reveal when asked, how their mood moves, when the call ends.

Persona files are YAML (``personas/*.yaml``); see ``schema.Persona`` for the format and
``peilian personas check`` for line-precise validation.
"""

from .loader import (MAX_BYTES, check_files, load_all, load_persona, parse_persona_text, persona_schema,
                     personas_dir)
from .schema import Persona

__all__ = ["Persona", "load_persona", "parse_persona_text", "load_all", "check_files", "persona_schema",
           "personas_dir", "MAX_BYTES", "find_persona"]


def find_persona(persona_id: str, dir=None) -> Persona:
    """The persona with this id; PersonaError lists the available ids when there is none."""
    from ..errors import PersonaError
    personas = load_all(dir)
    for p in personas:
        if p.id == persona_id:
            return p
    raise PersonaError(f"没有这个人设（unknown persona '{persona_id}'; available: {', '.join(p.id for p in personas)}）")
