def first_repeated_char(text: str) -> str | None:
    seen = set()
    for c in text:
        if c in seen:
            return c
        seen.add(c)
    return None
