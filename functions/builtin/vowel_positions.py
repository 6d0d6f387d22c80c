def vowel_positions(word: str) -> list[int]:
    return [i for i, c in enumerate(word) if c.lower() in "aeiou"]
