"""Source of the built-in suite: small functions written for this project (annotated variant).

Each entry is ``(name, module source)``; the target is the module's last top-level ``def``.
The anonymized variant is derived from these by code (:mod:`builtin_suite`), and the stored
examples live in ``builtin_examples.json``.
"""

from __future__ import annotations

SOURCES: tuple[tuple[str, str], ...] = (
    (
        "clamp_int",
        """
def clamp_int(value: int, low: int, high: int) -> int:
    if low > high:
        raise ValueError("low must not exceed high")
    return max(low, min(high, value))
""",
    ),
    (
        "digit_sum",
        """
def digit_sum(n: int) -> int:
    return sum(int(d) for d in str(abs(n)))
""",
    ),
    (
        "collatz_steps",
        """
def collatz_steps(n: int) -> int:
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    steps = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return steps
""",
    ),
    (
        "gcd_of_list",
        """
def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return abs(a)


def gcd_of_list(numbers: list[int]) -> int:
    result = 0
    for n in numbers:
        result = _gcd(result, n)
    return result
""",
    ),
    (
        "is_perfect_square",
        """
def is_perfect_square(n: int) -> bool:
    if n < 0:
        return False
    root = int(n ** 0.5)
    while root * root > n:
        root -= 1
    while (root + 1) * (root + 1) <= n:
        root += 1
    return root * root == n
""",
    ),
    (
        "to_base",
        """
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
""",
    ),
    (
        "integer_divide",
        """
def integer_divide(a: int, b: int) -> tuple[int, int]:
    return divmod(a, b)
""",
    ),
    (
        "count_set_bits",
        """
def count_set_bits(n: int) -> int:
    if n < 0:
        raise ValueError("negative numbers have infinitely many set bits")
    return bin(n).count("1")
""",
    ),
    (
        "mean_of",
        """
def mean_of(values: list[float]) -> float:
    if not values:
        raise ZeroDivisionError("mean of an empty list")
    return sum(values) / len(values)
""",
    ),
    (
        "round_to_step",
        """
def round_to_step(x: float, step: float = 0.5) -> float:
    return round(x / step) * step
""",
    ),
    (
        "hypotenuse",
        """
def hypotenuse(a: float, b: float) -> float:
    return (a * a + b * b) ** 0.5
""",
    ),
    (
        "celsius_to_fahrenheit",
        """
def celsius_to_fahrenheit(celsius: float) -> float:
    return celsius * 9 / 5 + 32
""",
    ),
    (
        "safe_sqrt",
        """
def safe_sqrt(x: float) -> float | None:
    if x < 0:
        return None
    return x ** 0.5
""",
    ),
    (
        "reverse_words",
        """
def reverse_words(sentence: str) -> str:
    return " ".join(reversed(sentence.split()))
""",
    ),
    (
        "run_length_encode",
        """
def run_length_encode(text: str) -> str:
    out = []
    i = 0
    while i < len(text):
        j = i
        while j < len(text) and text[j] == text[i]:
            j += 1
        out.append(f"{j - i}{text[i]}")
        i = j
    return "".join(out)
""",
    ),
    (
        "is_palindrome_phrase",
        """
def is_palindrome_phrase(phrase: str) -> bool:
    letters = [c.lower() for c in phrase if c.isalnum()]
    return letters == letters[::-1]
""",
    ),
    (
        "caesar_shift",
        """
def caesar_shift(text: str, shift: int) -> str:
    out = []
    for c in text:
        if c.isascii() and c.isalpha():
            base = ord("a") if c.islower() else ord("A")
            out.append(chr(base + (ord(c) - base + shift) % 26))
        else:
            out.append(c)
    return "".join(out)
""",
    ),
    (
        "vowel_positions",
        """
def vowel_positions(word: str) -> list[int]:
    return [i for i, c in enumerate(word) if c.lower() in "aeiou"]
""",
    ),
    (
        "first_repeated_char",
        """
def first_repeated_char(text: str) -> str | None:
    seen = set()
    for c in text:
        if c in seen:
            return c
        seen.add(c)
    return None
""",
    ),
    (
        "title_case_words",
        """
def title_case_words(text: str, keep_short: bool = True) -> str:
    words = text.split(" ")
    out = []
    for i, w in enumerate(words):
        if keep_short and i > 0 and len(w) <= 2:
            out.append(w.lower())
        else:
            out.append(w[:1].upper() + w[1:].lower())
    return " ".join(out)
""",
    ),
    (
        "parse_key_values",
        """
def parse_key_values(text: str) -> dict[str, str]:
    result = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        if "=" not in part:
            raise ValueError(f"missing '=' in {part.strip()!r}")
        key, value = part.split("=", 1)
        result[key.strip()] = value.strip()
    return result
""",
    ),
    (
        "running_max",
        """
def running_max(values: list[int]) -> list[int]:
    out = []
    best = None
    for v in values:
        best = v if best is None or v > best else best
        out.append(best)
    return out
""",
    ),
    (
        "chunk_list",
        """
def chunk_list(items: list, size: int) -> list[list]:
    if size <= 0:
        raise ValueError("size must be positive")
    return [items[i:i + size] for i in range(0, len(items), size)]
""",
    ),
    (
        "rotate_left",
        """
def rotate_left(items: list, k: int = 1) -> list:
    if not items:
        return []
    k %= len(items)
    return items[k:] + items[:k]
""",
    ),
    (
        "flatten_once",
        """
def flatten_once(nested: list) -> list:
    out = []
    for item in nested:
        if isinstance(item, list | tuple):
            out.extend(item)
        else:
            out.append(item)
    return out
""",
    ),
    (
        "second_largest",
        """
def second_largest(values: list[int]) -> int:
    distinct = sorted(set(values))
    if len(distinct) < 2:
        raise IndexError("need at least two distinct values")
    return distinct[-2]
""",
    ),
    (
        "pairwise_differences",
        """
def pairwise_differences(values: list[int]) -> list[int]:
    return [b - a for a, b in zip(values, values[1:])]
""",
    ),
    (
        "merge_sorted",
        """
def merge_sorted(left: list[int], right: list[int]) -> list[int]:
    i = j = 0
    out = []
    while i < len(left) and j < len(right):
        if left[i] <= right[j]:
            out.append(left[i])
            i += 1
        else:
            out.append(right[j])
            j += 1
    return out + left[i:] + right[j:]
""",
    ),
    (
        "word_frequencies",
        """
def word_frequencies(text: str) -> dict[str, int]:
    counts = {}
    for word in text.lower().split():
        counts[word] = counts.get(word, 0) + 1
    return dict(sorted(counts.items()))
""",
    ),
    (
        "invert_mapping",
        """
def invert_mapping(mapping: dict) -> dict:
    inverted = {}
    for key, value in mapping.items():
        if value in inverted:
            raise KeyError(f"duplicate value {value!r}")
        inverted[value] = key
    return inverted
""",
    ),
    (
        "merge_counts",
        """
def merge_counts(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    out = dict(a)
    for key, n in b.items():
        out[key] = out.get(key, 0) + n
    return {k: v for k, v in sorted(out.items()) if v != 0}
""",
    ),
    (
        "group_by_length",
        """
def group_by_length(words: list[str]) -> dict[int, list[str]]:
    groups = {}
    for w in words:
        groups.setdefault(len(w), []).append(w)
    return {n: sorted(ws) for n, ws in sorted(groups.items())}
""",
    ),
    (
        "min_max_pair",
        """
def min_max_pair(values: list[int]) -> tuple[int, int] | None:
    if not values:
        return None
    return (min(values), max(values))
""",
    ),
    (
        "swap_pairs",
        """
def swap_pairs(pairs: list[tuple]) -> list[tuple]:
    return [(b, a) for a, b in pairs]
""",
    ),
    (
        "zip_longest_sum",
        """
def zip_longest_sum(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    n = max(len(a), len(b))
    a = a + (0,) * (n - len(a))
    b = b + (0,) * (n - len(b))
    return tuple(x + y for x, y in zip(a, b))
""",
    ),
    (
        "common_elements",
        """
def common_elements(a: list[int], b: list[int]) -> set[int]:
    return set(a) & set(b)
""",
    ),
    (
        "symmetric_difference_size",
        """
def symmetric_difference_size(a: set[int], b: set[int]) -> int:
    return len(a ^ b)
""",
    ),
    (
        "distinct_word_lengths",
        """
def distinct_word_lengths(text: str) -> frozenset[int]:
    # small ints hash to themselves, so the set's order (and its str) is stable across runs
    return frozenset(len(word) for word in text.split())
""",
    ),
    (
        "sum_all",
        """
def sum_all(*numbers: int) -> int:
    total = 0
    for n in numbers:
        total += n
    return total
""",
    ),
    (
        "join_with",
        """
def join_with(separator: str, *parts: str, skip_empty: bool = False) -> str:
    chosen = [p for p in parts if p or not skip_empty]
    return separator.join(chosen)
""",
    ),
    (
        "describe_call",
        """
def describe_call(*args, **kwargs) -> str:
    names = ", ".join(f"{k}={v!r}" for k, v in sorted(kwargs.items()))
    return f"{len(args)} positional; {names or 'no keywords'}"
""",
    ),
    (
        "polynomial_value",
        """
def polynomial_value(x: float, *coefficients: float) -> float:
    result = 0.0
    for c in coefficients:
        result = result * x + c
    return result
""",
    ),
    (
        "lookup_or_default",
        """
def lookup_or_default(table: dict, key: object, default: object = None) -> object:
    return table.get(key, default)
""",
    ),
    (
        "nth_fibonacci",
        """
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
""",
    ),
    (
        "parse_int_or_none",
        """
def parse_int_or_none(text: str) -> int | None:
    try:
        return int(text.strip())
    except ValueError:
        return None
""",
    ),
    (
        "checked_index",
        """
def checked_index(items: list, position: int) -> object:
    if not isinstance(position, int):
        raise TypeError("position must be an int")
    return items[position]
""",
    ),
    (
        "classify_number",
        """
def classify_number(x: float) -> str:
    if x != x:
        return "nan"
    if x in (float("inf"), float("-inf")):
        return "infinite"
    if x == int(x):
        return "integral"
    return "fractional"
""",
    ),
)
