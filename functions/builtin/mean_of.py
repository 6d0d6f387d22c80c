def mean_of(values: list[float]) -> float:
    if not values:
        raise ZeroDivisionError("mean of an empty list")
    return sum(values) / len(values)
