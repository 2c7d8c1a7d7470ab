"""Caller backends: voice the caller's next line from the persona and the engine's intent.

``get_backend(name, **options)`` builds one by name; see ``base.CallerBackend``. Model backends
are imported only when asked for, so the scripted caller works without torch installed.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from ..errors import CallerError
from .base import CallerBackend, HistoryLine, Intent
from .scripted import ScriptedBackend

BACKENDS = ("scripted", "transformers", "openai", "llamacpp", "auto")
_MODULES = {"transformers": "hf", "openai": "openai_compat", "llamacpp": "llamacpp"}
GUIDELINES = Path(__file__).with_name("caller_guidelines.md")


def caller_guidelines() -> str:
    """Shared caller behaviour (Chinese), joined to each persona in model prompts."""
    return GUIDELINES.read_text(encoding="utf-8")


def _model_backend(name: str, opts: dict):
    try:
        module = importlib.import_module(f".{_MODULES[name]}", __name__)
    except ImportError as e:
        raise CallerError(f"the {name} caller backend is not available ({e}); "
                          "install the model extra or use --backend scripted") from None
    factory = getattr(module, "create", None)
    if factory is None:  # else the one backend class the module defines (its ``name`` matches)
        factory = next((obj for obj in vars(module).values()
                        if isinstance(obj, type) and getattr(obj, "name", None) == name
                        and callable(getattr(obj, "voice", None))), None)
    if factory is None:
        raise CallerError(f"simulator.callers.{_MODULES[name]} defines no {name} backend")
    return factory(**opts)


def get_backend(name: str = "scripted", **opts) -> CallerBackend:
    """A caller backend by name: scripted, transformers, openai, llamacpp, or auto (best installed, else scripted).

    Options left as None are not passed on, so each backend keeps its own defaults.
    """
    opts = {k: v for k, v in opts.items() if v is not None}
    if name == "scripted":
        return ScriptedBackend(seed=opts.get("seed"))
    if name == "auto":  # the best installed model (models.best_installed), else the scripted caller
        try:
            from ..models import best_installed
            best, best_opts = best_installed()
        except (ImportError, AttributeError, ValueError, TypeError):
            best, best_opts = "scripted", {}
        if best == "scripted":
            return ScriptedBackend(seed=opts.get("seed"))
        return _model_backend(best, {**best_opts, **opts})
    if name in _MODULES:
        return _model_backend(name, opts)
    raise CallerError(f"unknown caller backend '{name}' (choose from {', '.join(BACKENDS)})")


__all__ = ["get_backend", "caller_guidelines", "ScriptedBackend", "Intent", "HistoryLine", "CallerBackend",
           "BACKENDS"]
