def parse_int_or_none(text: str) -> int | None:
    try:
        return int(text.strip())
    except ValueError:
        return None
