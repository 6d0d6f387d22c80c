def swap_pairs(pairs: list[tuple]) -> list[tuple]:
    return [(b, a) for a, b in pairs]
