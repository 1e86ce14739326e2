"""Free text to findings: lay phrases, negation ("no fever"), misspellings, temperatures and
durations.

Deliberately simple and explainable: phrases come from the knowledge base (labels, synonyms,
lexicon files), words are stemmed (Snowball) and British/American spellings folded, unknown
words of five letters or more are corrected to the nearest vocabulary word (RapidFuzz), and a
NegEx-style window decides whether a phrase is denied. Nothing here is tuned per case.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

import snowballstemmer
from rapidfuzz import fuzz, process

from carehub.triage.kb import KnowledgeBase

_STEMMER = snowballstemmer.stemmer("english")
_WORD = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?")
_CLAUSE = re.compile(r"[.;!?\n]+|\b(?:but|however|although|though|except|apart from|yet)\b")
STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "my",
        "his",
        "her",
        "their",
        "our",
        "your",
        "its",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "with",
        "and",
        "or",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "has",
        "have",
        "had",
        "do",
        "does",
        "did",
        "it",
        "this",
        "that",
        "very",
        "really",
        "quite",
        "so",
        "some",
        "any",
        "i",
        "me",
        "we",
        "he",
        "she",
        "they",
        "them",
        "him",
        "us",
        "got",
        "get",
        "gets",
        "getting",
        "am",
        "also",
        "just",
        "bit",
        "all",
        "from",
        "as",
        "by",
        "there",
        "when",
    ]
)
NEGATIONS = frozenset(
    [
        "no",
        "not",
        "never",
        "without",
        "nor",
        "neither",
        "none",
        "denies",
        "deny",
        "denied",
        "isnt",
        "wasnt",
        "arent",
        "werent",
        "dont",
        "doesnt",
        "didnt",
        "hasnt",
        "havent",
        "hadnt",
        "cant",
        "cannot",
        "couldnt",
        "wont",
        "wouldnt",
        "nothing",
        "free",
    ]
)
_SAME_AS_CANT = {"unable": "cant", "cannot": "cant", "couldnt": "cant"}
# A symptom someone fears or wants ruled out is not a symptom they have: such mentions are
# dropped (neither yes nor no).
HYPOTHETICAL = frozenset(
    [
        "worried",
        "worry",
        "worries",
        "afraid",
        "concerned",
        "scared",
        "fear",
        "risk",
        "case",
        "whether",
    ]
)
_HYPOTHETICAL_STEMS = frozenset(_STEMMER.stemWord(w) for w in HYPOTHETICAL)
# After a comma, these words start a new statement, so a "no" before the comma stops there.
_NEW_STATEMENT = frozenset(
    [
        "has",
        "have",
        "had",
        "is",
        "was",
        "she",
        "he",
        "i",
        "it",
        "they",
        "we",
        "my",
        "her",
        "his",
        "but",
        "then",
        "now",
        "also",
        "with",
    ]
)
UNCERTAIN = ("not sure", "unsure", "don't know if", "dont know if", "not certain", "might have")
NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "couple": 2, "three": 3, "few": 3, "four": 4,
    "several": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40,
    "some": 3, "many": 6,
}  # fmt: skip
_DURATION = re.compile(
    r"\b(?:for|past|last|over|since|about|almost|nearly|around|ago|the)?\s*"
    r"(\d+(?:\.\d+)?|a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|"
    r"couple|few|several|some|many)\s+(?:of\s+)?(?:more\s+)?"
    r"(hours?|hrs?|days?|nights?|weeks?|wks?|months?|years?|yrs?)\b"
    # "48 years old" is an age and "8 weeks pregnant" a gestation, not how long it has lasted
    r"(?!\s*-?\s*old)(?!\s+of\s+age)(?!\s+(?:pregnant|gone|along))"
)
_TODAY = re.compile(
    r"\b(today|this morning|this afternoon|this evening|tonight|last night|an hour ago|"
    r"just now|a few hours|few hours|in the night|overnight|since lunch|since breakfast)\b"
)
_YEARS = re.compile(r"\b(?:for|over|since) (?:many |several |some )?(?:years|ages|a long time)\b")
_YESTERDAY = re.compile(r"\b(yesterday|the other day|since the weekend|day before yesterday)\b")
_TEMPERATURE = re.compile(
    r"(\d{2,3}(?:\.\d)?)\s*(?:°|º|degrees?|deg)?\s*(c|celsius|centigrade|f|fahrenheit)?\b"
)
_TEMPERATURE_CONTEXT = re.compile(r"temp|fever|thermometer|°|degrees|celsius|fahrenheit")
_NOT_TEMPERATURE = re.compile(
    r"^\s*-?\s*(?:years?|yrs?|yo\b|months?|weeks?|days?|hours?|minutes?|mins?|kg|kilo|lb|pounds?|"
    r"mg|ml|cm|mm|times|tablets?|pills?|%|percent|bpm)"
)


def _fold(word: str) -> str:
    """Fold British spellings into American ones so both match (haem/hem, oesophag/esophag)."""
    word = word.replace("'", "").replace("\u2019", "")
    word = re.sub(r"(?<=[a-z])ae(?=[a-z])", "e", word)
    word = re.sub(r"(?<=[a-z])oe(?=[a-z])", "e", word)
    if word.startswith(("oe", "ae")) and len(word) > 5:
        word = word[1:]
    if len(word) > 5 and word.endswith("our"):
        word = word[:-2] + "r"
    return word


def _stem(word: str) -> str:
    return _STEMMER.stemWord(_fold(word))


def _token(word: str) -> str | None:
    """A word as the matcher sees it: None for a filler word, "~word" for a negation, a stem
    otherwise. Phrases and text go through the same function, so "can't lift my arm" in the
    lexicon matches the same words in a sentence."""
    if word in NEGATIONS or word == "unable":
        # "unable to", "can't", "cannot", "couldn't" are one word to the matcher, so a
        # phrase written either way matches a sentence written the other way.
        return "~" + _SAME_AS_CANT.get(word, word)
    if word in STOP_WORDS:
        return None
    return _stem(word)


@dataclass(frozen=True)
class Match:
    finding: str
    present: bool
    phrase: str


@dataclass(frozen=True)
class _Phrase:
    finding: str
    text: str
    stems: tuple[str, ...]  # content words only, stemmed


class Lexicon:
    """Phrase index built from a knowledge base."""

    def __init__(self, kb: KnowledgeBase):
        self.phrases: list[_Phrase] = []
        for finding, phrases in kb.phrases.items():
            for phrase in phrases:
                words = _WORD.findall(_clean(phrase))
                stems = tuple(t for t in (_token(w) for w in words) if t is not None)
                # "peeing a lot" must not shrink to "pee", nor "for years" to "year" (which
                # would match "9-year-old"): a phrase reduced to one word is too vague to keep.
                if not stems or (len(stems) == 1 and len(words) >= 2):
                    continue
                self.phrases.append(_Phrase(finding, phrase, stems))
        self.by_first: dict[str, list[_Phrase]] = {}
        for p in self.phrases:
            for stem in set(p.stems):
                self.by_first.setdefault(stem, []).append(p)
        self.vocabulary = sorted(self.by_first)
        self.long_words = [w for w in self.vocabulary if len(w) >= 5]

    @cache  # noqa: B019 - one Lexicon per knowledge base, kept for the process
    def correct(self, stem: str) -> str:
        """The vocabulary stem for a (possibly misspelt) word stem."""
        if stem in self.by_first or len(stem) < 5 or stem.isdigit():
            return stem
        best = process.extractOne(stem, self.long_words, scorer=fuzz.ratio, score_cutoff=84)
        return best[0] if best else stem


def _clean(text: str) -> str:
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    text = re.sub(r"n't\b", "nt", text)
    return text.replace("'", "")


def extract(text: str, kb: KnowledgeBase) -> list[Match]:
    """Findings reported (or denied) in `text`, in order of first mention."""
    if not text or not text.strip():
        return []
    lexicon = _lexicon(kb)
    cleaned = _clean(text)
    found: dict[str, Match] = {}
    for match in _numbers(cleaned):  # a measured temperature beats "has a temperature"
        found.setdefault(match.finding, match)
    for clause in _CLAUSE.split(cleaned):
        if not clause or not clause.strip():
            continue
        if any(u in clause for u in UNCERTAIN):
            continue
        for match in _match_clause(clause, lexicon):
            # A denial elsewhere never overrides a clear report, and vice versa the first wins.
            found.setdefault(match.finding, match)
    return list(found.values())


@cache
def _lexicon(kb: KnowledgeBase) -> Lexicon:
    return Lexicon(kb)


def _match_clause(clause: str, lexicon: Lexicon) -> Iterable[Match]:
    tokens: list[str] = []  # stems of content words; "," and fillers kept as markers
    for word in re.findall(r"[a-z0-9]+(?:\.[0-9]+)?|,", clause):
        if word == ",":
            tokens.append(",")
            continue
        token = _token(word)
        if token is None:
            tokens.append("<stop:" + word + ">")
        elif token.startswith("~"):
            tokens.append(token)
        else:
            tokens.append(lexicon.correct(token))
    content = [(i, t) for i, t in enumerate(tokens) if not t.startswith("<") and t != ","]
    stems_at = [t for _, t in content]
    found: list[tuple[int, _Phrase, bool]] = []  # first position, phrase, negated inside
    claimed: dict[int, int] = {}  # position -> length of the longest phrase that read it
    negations_in_phrases: set[int] = set()
    candidates: dict[int, _Phrase] = {}
    for stem in set(stems_at):
        for phrase in lexicon.by_first.get(stem, ()):
            candidates[id(phrase)] = phrase
    # Longer phrases first, so "feel sick" is not also read as "sick" (vomiting); a phrase of
    # the same length may read the same words as another finding ("twisted my ankle" is both
    # an injury and ankle pain).
    for phrase in sorted(candidates.values(), key=lambda p: -len(p.stems)):
        n = len(phrase.stems)
        for start in range(len(stems_at) - n + 1):
            exact = tuple(stems_at[start : start + n]) == phrase.stems
            # One extra word inside a phrase is allowed ("pain in the chest", "very bad
            # cough"), in the phrase's own order.
            window = stems_at[start : start + n + 1]
            loose = (
                not exact
                and 2 <= n <= 3
                and stems_at[start] == phrase.stems[0]
                and _in_order(phrase.stems, window)
                # "fever for two days" is not "fever for days": no numbers in the gap
                and not any(w.isdigit() or w in NUMBER_WORDS for w in window)
            )
            if not (exact or loose):
                continue
            span = range(start, start + (n if exact else _span(phrase.stems, window)))
            positions = [content[k][0] for k in span]
            if all(claimed.get(p, 0) > n for p in positions):
                continue
            for p in positions:
                claimed[p] = max(claimed.get(p, 0), n)
            negations_in_phrases.update(
                content[k][0] for k in span if stems_at[k] in phrase.stems and stems_at[k][0] == "~"
            )
            inner_negation = any(
                stems_at[k].startswith("~") and stems_at[k] not in phrase.stems for k in span
            )
            found.append((positions[0], phrase, inner_negation))
            break
    results: list[tuple[int, Match]] = []
    for position, phrase, inner_negation in found:
        if _hypothetical(tokens, position):
            continue
        # A "can't" that belongs to a phrase ("can't breathe") denies nothing after it.
        negated = inner_negation or _negated(tokens, position, negations_in_phrases)
        results.append((position, Match(phrase.finding, not negated, phrase.text)))
    results.sort(key=lambda item: item[0])
    return [m for _, m in results]


def _span(needle: tuple[str, ...], window: list[str]) -> int:
    """How many words of `window` an in-order match of `needle` covers."""
    k = 0
    for i, word in enumerate(window):
        if word == needle[k]:
            k += 1
            if k == len(needle):
                return i + 1
    return len(window)


def _hypothetical(tokens: list[str], position: int) -> bool:
    """ "worried about dehydration", "in case it is meningitis": a fear, not a symptom."""
    for seen, i in enumerate(range(position - 1, -1, -1)):
        token = tokens[i]
        if token == "," or seen > 5:
            return False
        word = token[6:-1] if token.startswith("<stop:") else token
        if word in HYPOTHETICAL or _STEMMER.stemWord(word) in _HYPOTHETICAL_STEMS:
            return True
    return False


def _in_order(needle: tuple[str, ...], window: list[str]) -> bool:
    it = iter(window)
    return all(any(word == stem for word in it) for stem in needle)


def _negated(
    tokens: list[str], position: int, ignore: set[int] | frozenset[int] = frozenset()
) -> bool:
    """NegEx-style: a negation up to six words before, not cut off by a new statement."""
    seen = 0
    for i in range(position - 1, -1, -1):
        token = tokens[i]
        if token.startswith("~") and i not in ignore:
            return True
        if token == ",":
            following = tokens[i + 1] if i + 1 < len(tokens) else ""
            if following.startswith("<stop:") and following[6:-1] in _NEW_STATEMENT:
                return False
            continue
        seen += 1
        if seen > 6:
            return False
    return False


def _numbers(text: str) -> list[Match]:
    matches: list[Match] = []
    for m in _TEMPERATURE.finditer(text):
        nearby = text[max(0, m.start() - 40) : m.end() + 12]
        if not _TEMPERATURE_CONTEXT.search(nearby) or _NOT_TEMPERATURE.match(text[m.end(1) :]):
            continue
        if m.start() > 0 and text[m.start() - 1].isdigit():
            continue
        value = float(m.group(1))
        unit = (m.group(2) or "").lower()
        celsius = (value - 32) * 5 / 9 if unit.startswith("f") or value >= 95 else value
        if 37.9 <= celsius <= 44:
            matches.append(Match("fever", True, m.group(0)))
            if celsius >= 38.85:  # 39 °C or 102 °F
                matches.append(Match("high_fever", True, m.group(0)))
            break
        if 35 <= celsius < 37.9 and (unit or "." in m.group(1)):
            matches.append(Match("fever", False, m.group(0)))
            break
    bucket = duration_bucket(text)
    if bucket:
        matches.append(Match(bucket, True, "duration"))
    return matches


def duration_bucket(text: str) -> str | None:
    """The duration finding for the first duration mentioned, if any."""
    first: tuple[int, str] | None = None
    for m in _DURATION.finditer(text):
        amount_word, unit = m.group(1), m.group(2)
        amount = float(amount_word) if amount_word[0].isdigit() else NUMBER_WORDS[amount_word]
        days = {"h": amount / 24, "d": amount, "n": amount, "w": amount * 7, "m": amount * 30}.get(
            unit[0], amount * 365
        )
        candidate = (m.start(), _bucket(days))
        if first is None or candidate[0] < first[0]:
            first = candidate
    for pattern, bucket in (
        (_TODAY, "duration_under_24_hours"),
        (_YESTERDAY, "duration_1_to_7_days"),
        (_YEARS, "duration_over_3_months"),
    ):
        found = pattern.search(text)
        if found and (first is None or found.start() < first[0]):
            first = (found.start(), bucket)
    return first[1] if first else None


def _bucket(days: float) -> str:
    if days < 1:
        return "duration_under_24_hours"
    if days <= 7:
        return "duration_1_to_7_days"
    if days <= 21:
        return "duration_1_to_3_weeks"
    if days <= 92:
        return "duration_3_weeks_to_3_months"
    return "duration_over_3_months"
