"""An adversarial set: candidates written to fool the oracle, and correct ones it must accept.

Each case is a hidden function (a built-in problem where one fits, else a small hand-built
one), a candidate and the right verdict, confirmed by reading the two programs side by side.
Classes: opaque values (generators, objects, wrapped examples), randomness, inputs beyond the
examples (sizes, magnitudes, non-finite floats, neighbouring types), state kept between calls,
and correct programs that differ only in how a value is represented (false failures).

Used by tests/oracle/test_adversarial.py and by benchmarks/oracle_quality.py (``adversarial``
section, which runs it against older versions of the oracle too, so it uses nothing newer
than ``make_fn`` and ``builtin_suite``).
"""

from __future__ import annotations

from dataclasses import dataclass

from oracle_helpers import make_fn

from codearc_env.functions import builtin_suite
from codearc_env.functions.spec import HiddenFunction


@dataclass(frozen=True)
class Case:
    name: str
    kind: str
    """``opaque``, ``random``, ``inputs``, ``state`` or ``false-fail``."""
    fn: HiddenFunction
    candidate: str
    should_pass: bool


def builtin(name: str) -> HiddenFunction:
    return next(fn for fn in builtin_suite("annotated") if fn.name == name)


EVENS = make_fn(
    "def evens(n: int):\n    for i in range(n):\n        if i % 2 == 0:\n            yield i\n",
    "evens",
    [f"list(evens({n}))" for n in (0, 1, 2, 5, 8, 11)],
)
SPLIT = make_fn(
    "def split_words(text: str, sep=None):\n    return (w for w in text.split(sep) if w)\n",
    "split_words",
    [
        "list(split_words('a-b-c', '-'))",
        "list(split_words('hello world'))",
        "list(split_words('x,,y', ','))",
        "list(split_words('  spaced   out '))",
        "list(split_words('one/two', '/'))",
    ],
)
POINT_CODE = """
def make_point(x: int, y: int):
    class Point:
        def __init__(self, x, y):
            self.x = x
            self.y = y

        def __str__(self):
            return f"Point({self.x}, {self.y})"

    return Point(x, y)
"""
POINT = make_fn(
    POINT_CODE, "make_point", ["make_point(1, 2)", "make_point(0, 0)", "make_point(-3, 7)"]
)
SHUFFLE = make_fn(
    "import random\n\ndef maybe_shuffle(text: str, p: float) -> str:\n"
    "    if p <= 0:\n        return text\n    chars = list(text)\n"
    "    random.shuffle(chars)\n    return ''.join(chars)\n",
    "maybe_shuffle",
    [
        "maybe_shuffle('abc', 0.0)",
        "maybe_shuffle('hello', 0.5)",
        "maybe_shuffle('xy', -1.0)",
        "maybe_shuffle('data', 1.0)",
        "maybe_shuffle('', 0.3)",
    ],
    nondeterministic=True,
)
ISQRT = make_fn(
    "import math\n\ndef isqrt(n: int) -> int:\n    return math.isqrt(n)\n",
    "isqrt",
    [f"isqrt({n})" for n in (0, 1, 2, 15, 16, 17, 99, 100, 1000)],
)
CLAMP = make_fn(
    "def clamp01(x: float) -> float:\n    return min(1.0, max(0.0, x))\n",
    "clamp01",
    [f"clamp01({x})" for x in (0.5, -0.2, 1.7, 0.0, 1.0, 0.25)],
)
MONEY = make_fn(
    "from decimal import ROUND_HALF_UP, Decimal\n\ndef to_cents(x: float) -> str:\n"
    "    return str(Decimal(repr(x)).quantize(Decimal('0.01'), ROUND_HALF_UP))\n",
    "to_cents",
    [f"to_cents({x})" for x in (1.5, 2.0, 0.1, 10.25, 3.14159, 7.0)],
)
LETTERS = make_fn(
    "from collections import Counter\n\ndef letter_counts(text: str):\n    return Counter(text)\n",
    "letter_counts",
    [f"letter_counts({s!r})" for s in ("abca", "zzyx", "", "banana", "ab")],
)
MIDPOINT = make_fn(
    "from collections import namedtuple\n\nPoint = namedtuple('Point', 'x y')\n\n"
    "def midpoint(a: float, b: float, c: float, d: float):\n"
    "    return Point((a + c) / 2, (b + d) / 2)\n",
    "midpoint",
    ["midpoint(0.1, 0.2, 0.7, 0.4)", "midpoint(1, 2, 3, 4)", "midpoint(-1.5, 0, 2.25, 1)"],
)
NP_MEAN = make_fn(
    "import numpy as np\n\ndef np_mean(values: list[float]):\n    return np.mean(np.array(values))\n",
    "np_mean",
    ["np_mean([0.1, 0.2, 0.3])", "np_mean([1.0, 2.0])", "np_mean([5.5])", "np_mean([1e-3, 3.0])"],
)
GROUPS = make_fn(
    "from collections import defaultdict\n\ndef by_first(words: list[str]):\n"
    "    out = defaultdict(list)\n    for w in words:\n        out[w[:1]].append(w)\n    return out\n",
    "by_first",
    ["by_first(['apple', 'avocado', 'bean'])", "by_first([])", "by_first(['x', 'y', 'xx'])"],
)

CASES = [
    # -- opaque values
    Case("any generator for a generator", "opaque", EVENS, "def evens(n):\n    yield 42\n", False),
    Case(
        "generator expression for a generator",
        "opaque",
        EVENS,
        "def evens(n):\n    yield from (i for i in range(n) if i % 2 == 0)\n",
        True,
    ),
    Case(
        "wrapped examples are used: the separator ignored",
        "opaque",
        SPLIT,
        "def split_words(text, sep=None):\n    return (w for w in text.split() if w)\n",
        False,
    ),
    Case(
        "empty class of the same name",
        "opaque",
        POINT,
        "class Point:\n    pass\n\ndef make_point(x, y):\n    return Point()\n",
        False,
    ),
    Case(
        "str() showing wrong data",
        "opaque",
        POINT,
        POINT_CODE.replace('f"Point({self.x}, {self.y})"', 'f"Point({self.y}, {self.x})"'),
        False,
    ),
    # -- randomness
    Case(
        "random target: empty string where p <= 0 returns the input",
        "random",
        SHUFFLE,
        "import random\n\ndef maybe_shuffle(text, p):\n    if p <= 0:\n        return ''\n"
        "    chars = list(text)\n    random.shuffle(chars)\n    return ''.join(chars)\n",
        False,
    ),
    Case(
        "random target: reversed text plus a character instead of a shuffle",
        "random",
        SHUFFLE,
        "def maybe_shuffle(text, p):\n    return text if p <= 0 else text[::-1] + 'x'\n",
        False,
    ),
    Case(
        "random target: the same program",
        "random",
        SHUFFLE,
        SHUFFLE.code,
        True,
    ),
    # -- inputs beyond the examples
    Case(
        "float square root for math.isqrt",
        "inputs",
        ISQRT,
        "def isqrt(n):\n    return int(n ** 0.5)\n",
        False,
    ),
    Case(
        "wrong only for lists longer than 50",
        "inputs",
        builtin("running_max"),
        "def running_max(values):\n    out, best = [], None\n    for v in values[:50]:\n"
        "        best = v if best is None or v > best else best\n        out.append(best)\n"
        "    return out\n",
        False,
    ),
    Case(
        "NaN passed through a clamp",
        "inputs",
        CLAMP,
        "def clamp01(x):\n    return 0.0 if x < 0 else 1.0 if x > 1 else x\n",
        False,
    ),
    Case(
        "float formatting for Decimal rounding",
        "inputs",
        MONEY,
        "def to_cents(x):\n    return f'{x:.2f}'\n",
        False,
    ),
    Case(
        "a tuple the target accepts is refused",
        "inputs",
        builtin("running_max"),
        "def running_max(values):\n    values = values.copy()\n    out, best = [], None\n"
        "    for v in values:\n        best = v if best is None or v > best else best\n"
        "        out.append(best)\n    return out\n",
        False,
    ),
    Case(
        "a bool the target accepts as an int is refused",
        "inputs",
        builtin("digit_sum"),
        "def digit_sum(n):\n    return sum(int(d) for d in str(n).lstrip('-'))\n",
        False,
    ),
    # -- state kept between calls
    Case(
        "mutable default argument",
        "state",
        builtin("running_max"),
        "def running_max(values, _seen=[]):\n    _seen.append(1)\n    out, best = [], None\n"
        "    for v in values:\n        best = v if best is None or v > best else best\n"
        "        out.append(best + (len(_seen) > 20))\n    return out\n",
        False,
    ),
    Case(
        "global call counter",
        "state",
        builtin("digit_sum"),
        "CALLS = 0\n\ndef digit_sum(n):\n    global CALLS\n    CALLS += 1\n"
        "    if CALLS > 12:\n        return 0\n    return sum(int(d) for d in str(abs(n)))\n",
        False,
    ),
    Case(
        "a cache that is correct",
        "state",
        builtin("digit_sum"),
        "from functools import lru_cache\n\n@lru_cache(maxsize=None)\ndef digit_sum(n):\n"
        "    return sum(int(d) for d in str(abs(n)))\n",
        True,
    ),
    # -- correct programs that a representation-bound comparison rejects
    Case(
        "Counter with ties in another order",
        "false-fail",
        LETTERS,
        "from collections import Counter\n\ndef letter_counts(text):\n    c = Counter()\n"
        "    for ch in sorted(text, reverse=True):\n        c[ch] += 1\n    return c\n",
        True,
    ),
    Case(
        "namedtuple with coordinates an ulp off",
        "false-fail",
        MIDPOINT,
        "from collections import namedtuple\n\nPoint = namedtuple('Point', 'x y')\n\n"
        "def midpoint(a, b, c, d):\n    return Point(a / 2 + c / 2, b / 2 + d / 2)\n",
        True,
    ),
    Case(
        "numpy.float64 one ulp off",
        "false-fail",
        NP_MEAN,
        "import numpy as np\n\ndef np_mean(values):\n    if not values:\n"
        "        return np.float64('nan')\n"
        "    return np.float64(sum(values) / len(values)) * (1 + 2.0 ** -52)\n",
        True,
    ),
    Case(
        "defaultdict built another way",
        "false-fail",
        GROUPS,
        "from collections import defaultdict\n\ndef by_first(words):\n    out = defaultdict(list)\n"
        "    for w in words:\n        out[w[:1]] += [w]\n    return out\n",
        True,
    ),
    Case(
        "class at module level instead of inside the function",
        "false-fail",
        POINT,
        "class Point:\n    def __init__(self, x, y):\n        self.x, self.y = x, y\n\n"
        "    def __str__(self):\n        return f'Point({self.x}, {self.y})'\n\n"
        "def make_point(x, y):\n    return Point(x, y)\n",
        True,
    ),
]
