def min_max_pair(values: list[int]) -> tuple[int, int] | None:
    if not values:
        return None
    return (min(values), max(values))
