def group_by_length(words: list[str]) -> dict[int, list[str]]:
    groups = {}
    for w in words:
        groups.setdefault(len(w), []).append(w)
    return {n: sorted(ws) for n, ws in sorted(groups.items())}
