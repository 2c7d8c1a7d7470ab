"""Small named exceptions; the CLI turns each into one ``Error: …`` line and exit code 2."""


class PeilianError(Exception):
    """Base class: a user-facing problem with input, said in one sentence."""


class TranscriptError(PeilianError):
    """A transcript is malformed: bad JSON, a missing field, a wrong role, too large."""


class PhrasebookError(PeilianError):
    """A phrasebook file is broken (unknown operator, missing field), with file and line."""


class PersonaError(PeilianError):
    """A persona file is broken, with file and line."""


class CallerError(PeilianError):
    """A caller backend failed (model missing, server down, timeout)."""


class ModelError(PeilianError):
    """Installing or loading model weights failed."""


class StoreError(PeilianError):
    """The database could not be read or written (locked, disk full)."""
