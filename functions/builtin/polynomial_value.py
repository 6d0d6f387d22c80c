def polynomial_value(x: float, *coefficients: float) -> float:
    result = 0.0
    for c in coefficients:
        result = result * x + c
    return result
