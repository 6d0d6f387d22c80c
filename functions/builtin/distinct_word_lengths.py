def distinct_word_lengths(text: str) -> frozenset[int]:
    # small ints hash to themselves, so the set's order (and its str) is stable across runs
    return frozenset(len(word) for word in text.split())
