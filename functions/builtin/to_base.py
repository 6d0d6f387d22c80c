def to_base(n: int, base: int = 2) -> str:
    if not 2 <= base <= 16:
        raise ValueError("base must be between 2 and 16")
    if n == 0:
        return "0"
    digits = "0123456789abcdef"
    sign = "-" if n < 0 else ""
    n = abs(n)
    out = []
    while n:
        n, r = divmod(n, base)
        out.append(digits[r])
    return sign + "".join(reversed(out))
