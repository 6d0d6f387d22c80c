def join_with(separator: str, *parts: str, skip_empty: bool = False) -> str:
    chosen = [p for p in parts if p or not skip_empty]
    return separator.join(chosen)
