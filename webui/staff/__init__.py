"""Helpers for the trainer and supervisor pages: persona form mapping, CSV export, SVG charts."""
