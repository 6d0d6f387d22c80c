def rotate_left(items: list, k: int = 1) -> list:
    if not items:
        return []
    k %= len(items)
    return items[k:] + items[:k]
