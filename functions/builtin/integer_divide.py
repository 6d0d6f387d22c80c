def integer_divide(a: int, b: int) -> tuple[int, int]:
    return divmod(a, b)
