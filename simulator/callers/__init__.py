"""Caller backends: voice the caller's next line from the persona and the engine's intent.

``get_backend(name, **options)`` builds one by name; see ``base.CallerBackend``.
"""
