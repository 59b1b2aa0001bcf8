"""Window names shared by the parser and the light statusline (no imports: the statusline must not
load parse.py, which brings logging, hashlib and regular expressions to a command run every turn)."""
from __future__ import annotations


def scoped_name(label: str) -> str:
    """The model or product in a scoped window's label: "Current week (Fable)" -> "Fable" (also
    "Weekly · Fable", as earlier versions named it); any other label as it is."""
    if label.startswith("Current week (") and label.endswith(")") and len(label) > len("Current week ()"):
        return label[len("Current week ("):-1]
    if label.startswith("Weekly · ") and len(label) > len("Weekly · "):
        return label[len("Weekly · "):]
    return label
