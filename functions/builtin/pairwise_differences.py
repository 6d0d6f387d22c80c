def pairwise_differences(values: list[int]) -> list[int]:
    return [b - a for a, b in zip(values, values[1:])]
