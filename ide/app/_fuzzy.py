"""Fuzzy matching for the command palette: the query's letters in order, word starts and runs preferred."""

from __future__ import annotations


def fuzzy_score(query: str, text: str) -> float | None:
    """A score (higher is better) when every character of `query` appears in `text` in order, else None."""
    query = "".join(query.lower().split())
    if not query:
        return 0.0
    lowered = text.lower()
    score, position, previous = 0.0, 0, -2
    for char in query:
        found = lowered.find(char, position)
        if found < 0:
            return None
        at_word_start = found == 0 or not lowered[found - 1].isalnum()
        score += 1.0 + (2.0 if at_word_start else 0.0) + (1.5 if found == previous + 1 else 0.0)
        score -= 0.01 * (found - position)  # a gap costs a little
        previous, position = found, found + 1
    if lowered.startswith(query):
        score += 3.0
    return score - 0.001 * len(text)


def fuzzy_filter(query: str, texts: list[str]) -> list[int]:
    """Indexes of the texts that match `query`, best first (ties keep their order)."""
    scored = [(score, index) for index, text in enumerate(texts) if (score := fuzzy_score(query, text)) is not None]
    scored.sort(key=lambda pair: (-pair[0], pair[1]))
    return [index for _score, index in scored]
