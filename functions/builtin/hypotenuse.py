def hypotenuse(a: float, b: float) -> float:
    return (a * a + b * b) ** 0.5
