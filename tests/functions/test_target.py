"""The target rule: last top-level def not named main, decided by ast."""

from __future__ import annotations

import pytest

from codearc_env.errors import DataError
from codearc_env.functions.target import find_target

CASES = [
    ("def f(x):\n    return x\n", "f"),
    ("def helper(x):\n    return x\n\ndef g(x):\n    return helper(x)\n", "g"),
    ("def g(x):\n    return x\n\ndef main():\n    print(g(1))\n", "g"),
    # a def nested in another def or a class is not top-level
    ("def outer():\n    def inner():\n        pass\n    return inner\n", "outer"),
    ("def f():\n    pass\n\nclass C:\n    def method(self):\n        pass\n", "f"),
    # text that looks like a def inside a string is not a def
    ('def real():\n    pass\n\nDOC = """\ndef fake():\n    pass\n"""\n', "real"),
    ("async def a():\n    pass\n", "a"),
    ("def main():\n    pass\n\ndef main2():\n    pass\n", "main2"),
    ("def f():\n    pass\n\nif __name__ == '__main__':\n    def g():\n        pass\n", "f"),
]


@pytest.mark.parametrize(("code", "expected"), CASES)
def test_target_is_last_top_level_def_not_named_main(code: str, expected: str) -> None:
    assert find_target(code) == expected


@pytest.mark.parametrize(
    "code", ["", "x = 1\n", "def main():\n    pass\n", "class C:\n    def f(self): ...\n"]
)
def test_no_target_is_a_clear_error(code: str) -> None:
    with pytest.raises(DataError) as info:
        find_target(code, "dataset/annotated/5.py")
    assert str(info.value) == (
        "dataset/annotated/5.py: no target function (no top-level def other than 'main')"
    )


def test_module_that_does_not_parse_names_the_module() -> None:
    with pytest.raises(DataError) as info:
        find_target("def f(:\n    pass\n", "problems.jsonl line 7")
    assert str(info.value).startswith("problems.jsonl line 7: module does not parse: ")
    assert "(line 1)" in str(info.value)
