"""CSV for Excel: UTF-8 with a BOM (so Excel opens Chinese), formula injection neutralised."""

from __future__ import annotations

import csv
import io

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value) -> str:
    """One cell as text; a text cell that Excel would run as a formula gets a leading '."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 78.0 -> 78
    if isinstance(value, (int, float)):
        return str(value)  # numbers stay numbers, even negative ones
    text = str(value)
    if text.startswith(FORMULA_START):
        return "'" + text
    return text


def to_csv(header: list[str], rows) -> bytes:
    """Rows (sequences) to CSV bytes with a BOM; every cell goes through ``cell``."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([cell(h) for h in header])
    for row in rows:
        writer.writerow([cell(v) for v in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")
