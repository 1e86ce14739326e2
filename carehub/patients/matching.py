"""Duplicate detection: which existing records may be the same person as a new one."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from difflib import SequenceMatcher

SIMILAR_NAME_RATIO = 0.82


def fold(text: str) -> str:
    """Lower case, accents and punctuation removed: 'Zoë O'Neil' -> 'zoe oneil'."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    ascii_text = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return " ".join(re.sub(r"[^a-z0-9 ]", "", ascii_text).split())


def phone_key(phone: str) -> str:
    """Last 9 digits: '+44 7700 900123' and '07700900123' compare equal."""
    digits = re.sub(r"\D", "", phone or "")
    return digits[-9:] if len(digits) >= 7 else ""


@dataclass(frozen=True)
class Match:
    score: float
    reasons: tuple[str, ...]


def compare(a, b) -> Match | None:
    """Compare two patient-like objects (given_name, family_name, birth_date, phone, email)."""
    if a.birth_date != b.birth_date:
        return None
    name_a = (fold(a.given_name), fold(a.family_name))
    name_b = (fold(b.given_name), fold(b.family_name))
    same_name = name_a == name_b or name_a == name_b[::-1]
    ratio = SequenceMatcher(None, " ".join(name_a), " ".join(name_b)).ratio()
    same_phone = bool(phone_key(a.phone)) and phone_key(a.phone) == phone_key(b.phone)
    same_email = (
        bool(a.email) and (a.email or "").strip().lower() == (b.email or "").strip().lower()
    )
    reasons = ["same birth date"]
    if same_name:
        reasons.append("same name")
    elif ratio >= SIMILAR_NAME_RATIO:
        reasons.append("similar name")
    else:
        return None
    if same_phone:
        reasons.append("same phone")
    if same_email:
        reasons.append("same email")
    if same_name and (same_phone or same_email):
        score = 1.0
    elif same_name:
        score = 0.8
    elif same_phone or same_email:
        score = 0.75
    else:
        score = round(0.4 + ratio * 0.2, 2)
    return Match(score=score, reasons=tuple(reasons))
