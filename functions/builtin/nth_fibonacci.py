def _fib_pair(n: int) -> tuple[int, int]:
    if n == 0:
        return (0, 1)
    a, b = _fib_pair(n // 2)
    c = a * (2 * b - a)
    d = a * a + b * b
    return (d, c + d) if n % 2 else (c, d)


def nth_fibonacci(n: int) -> int:
    if n < 0:
        raise ValueError("n must be non-negative")
    return _fib_pair(n)[0]
