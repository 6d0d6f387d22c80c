def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return abs(a)


def gcd_of_list(numbers: list[int]) -> int:
    result = 0
    for n in numbers:
        result = _gcd(result, n)
    return result
