def round_to_step(x: float, step: float = 0.5) -> float:
    return round(x / step) * step
