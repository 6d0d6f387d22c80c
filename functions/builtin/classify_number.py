def classify_number(x: float) -> str:
    if x != x:
        return "nan"
    if x in (float("inf"), float("-inf")):
        return "infinite"
    if x == int(x):
        return "integral"
    return "fractional"
