def second_largest(values: list[int]) -> int:
    distinct = sorted(set(values))
    if len(distinct) < 2:
        raise IndexError("need at least two distinct values")
    return distinct[-2]
