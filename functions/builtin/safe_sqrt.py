def safe_sqrt(x: float) -> float | None:
    if x < 0:
        return None
    return x ** 0.5
