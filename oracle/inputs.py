"""Deterministic input generation for one hidden function.

Inputs come, in this order, from: the known inputs (the literal initial examples of the
target, then any extra calls such as agent queries), edge values beyond the examples
(:mod:`edges`) and the reference's own literals (:mod:`literals`), seeded mutations of the
known inputs, draws from Hypothesis strategies inferred from the examples' argument shapes
(:mod:`shapes`), and, when the target carries type hints, draws from strategies built from
the hints (:mod:`hints`). Duplicates (by canonical encoding) are dropped.

Determinism: each drawn value comes from a fresh Hypothesis ``ConjectureData`` fed by one
``random.Random`` seeded from the seed and a label, with Hypothesis's habit of mixing in
constants of loaded modules switched off, so the same seed, strategy and Hypothesis version
give the same values in any process. Mutations use a ``random.Random`` seeded with a string
(hashed with SHA-512, not Python's randomised hash).
``GENERATOR_VERSION`` (:mod:`generation`) is part of every cache key; bump it whenever the
output can change.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
from collections.abc import Iterable, Sequence

import hypothesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import strategies as st

from codearc_env.functions.calls import ParsedCall
from codearc_env.functions.spec import HiddenFunction
from codearc_env.oracle.call_input import CallInput
from codearc_env.oracle.edges import edge_bases, edge_inputs
from codearc_env.oracle.examples import example_inputs
from codearc_env.oracle.generation import GENERATOR_VERSION, STRENGTHS, strength_size
from codearc_env.oracle.hints import HINT_TEXT, Param, hint_strategy, read_signature
from codearc_env.oracle.literals import literal_inputs
from codearc_env.oracle.mutate import mutate_args
from codearc_env.oracle.shapes import Shape

__all__ = ["GENERATOR_VERSION", "STRENGTHS", "CallInput", "generate_inputs", "strength_size"]

MUTATION_SHARE = 0.2
HINT_SHARE = 0.4
"""Share of the drawn inputs taken from type hints when the target has any."""
QUERY_MUTATIONS = 3
"""Mutations generated around each extra (agent) input."""
DRAW_MAX_CHOICES = 2000
"""Bound on the random choices behind one drawn value (larger draws are rejected)."""


def known_inputs(fn: HiddenFunction) -> list[CallInput]:
    """The initial examples as inputs: literal calls of the target, and examples that wrap the
    call (``list(f(3))``, ``f(d)['a']``) both as their own expression and as the inner call."""
    return example_inputs(fn)


def generate_inputs(fn: HiddenFunction, *, seed: int, strength: str) -> list[CallInput]:
    """The base input set of ``fn`` for a seed and strength (extra inputs excluded)."""
    size = strength_size(strength)
    examples = known_inputs(fn)
    known = [x for x in examples if x.expression is None]  # what mutations and shapes read
    rng = random.Random(f"codearc-oracle:{GENERATOR_VERSION}:{seed}:{fn.target}")
    n_mut = int(size * MUTATION_SHARE)
    # twice as many as needed: some mutations repeat an input
    mutations = [
        CallInput(mutate_args(k.args, rng), k.kwargs, "mutation") for k in _cycle(known, 2 * n_mut)
    ]
    signature = read_signature(fn.code, fn.target) or ()
    n_draw = max(size - len(known) - n_mut, 0)
    hinted = _hinted_strategy(signature, known)
    n_hint = int(n_draw * HINT_SHARE) if hinted is not None else 0
    shaped = _shape_strategy(known, signature)
    seen: set[str] = set()
    out = _take(examples, len(examples), seen)
    out += _take(edge_inputs(known, signature), size, seen)
    out += _take(literal_inputs(edge_bases(known), fn.code), size, seen)
    out += _take(mutations, n_mut, seen)
    n_shape = n_draw - n_hint
    out += _take(_drawn(shaped, n_shape, seed, "shape"), n_shape, seen)
    if hinted is not None:
        out += _take(_drawn(hinted, n_hint, seed, "hint"), n_hint, seen)
    return out


def _drawn(strategy: st.SearchStrategy, n: int, seed: int, origin: str) -> list[CallInput]:
    # draw extra: duplicates of earlier inputs are dropped afterwards
    return [CallInput(a, k, origin) for a, k in _draw(strategy, n + n // 2 + 5, seed, origin)]


def _take(inputs: Sequence[CallInput], n: int, seen: set[str]) -> list[CallInput]:
    """Up to ``n`` of ``inputs`` whose arguments are not in ``seen`` (which is updated)."""
    out: list[CallInput] = []
    for x in inputs:
        if len(out) >= n:
            break
        k = x.key()
        if k is None or k in seen:
            continue
        seen.add(k)
        out.append(x)
    return out


def extra_inputs(calls: Iterable[CallInput], *, seed: int) -> list[CallInput]:
    """Extra known inputs (agent queries) followed by a few seeded mutations of each."""
    calls = list(calls)
    rng = random.Random(f"codearc-oracle-extra:{GENERATOR_VERSION}:{seed}")
    mutations = [
        CallInput(mutate_args(c.args, rng), c.kwargs, "mutation")
        for c in calls
        for _ in range(QUERY_MUTATIONS)
    ]
    return dedupe(calls + mutations)


def dedupe(inputs: Sequence[CallInput]) -> list[CallInput]:
    """``inputs`` without repeated arguments (first kept) and without unkeyable ones."""
    return _take(inputs, len(inputs), set())


def from_parsed(call: ParsedCall, origin: str = "query") -> CallInput:
    return CallInput(call.args, call.kwargs, origin)


def _cycle(items: list[CallInput], n: int) -> list[CallInput]:
    return [items[i % len(items)] for i in range(n)] if items else []


def _shape_strategy(known: list[CallInput], signature: tuple[Param, ...]) -> st.SearchStrategy:
    """One strategy per arity seen in the examples; generic values when there are none."""
    groups: dict[tuple[int, tuple[str, ...]], tuple[list[Shape], dict[str, Shape]]] = {}
    for k in known:
        sig = (len(k.args), tuple(name for name, _ in k.kwargs))
        pos, kw = groups.setdefault(sig, ([Shape() for _ in k.args], {n: Shape() for n in sig[1]}))
        for s, v in zip(pos, k.args, strict=True):
            s.add(v)
        for name, v in k.kwargs:
            kw[name].add(v)
    if not groups:
        required = [p for p in signature if p.kind == "positional" and not p.has_default]
        generic = st.one_of(
            st.integers(-10, 100), HINT_TEXT, st.lists(st.integers(-10, 10), max_size=8)
        )
        return st.tuples(st.tuples(*[generic for _ in required]), st.just(()))
    options = []
    for (_, names), (pos, kw) in sorted(groups.items()):
        args = st.tuples(*[s.strategy() for s in pos])
        kwargs = st.tuples(*[st.tuples(st.just(n), kw[n].strategy()) for n in names])
        options.append(st.tuples(args, kwargs))
    return st.one_of(*options)


def _hinted_strategy(
    signature: tuple[Param, ...], known: list[CallInput]
) -> st.SearchStrategy | None:
    """Required positional parameters from their hints (or example shapes); None without hints."""
    required = [p for p in signature if p.kind == "positional" and not p.has_default]
    if not required or all(p.annotation is None for p in required):
        return None
    parts = []
    for i, p in enumerate(required):
        s = hint_strategy(p.annotation)
        if s is None:
            shape = Shape()
            for k in known:
                if len(k.args) > i:
                    shape.add(k.args[i])
            s = shape.strategy()
        parts.append(s)
    return st.tuples(st.tuples(*parts), st.just(()))


def _hyp_seed(seed: int, label: str) -> int:
    digest = hashlib.sha256(f"{GENERATOR_VERSION}:{seed}:{label}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _draw(strategy: st.SearchStrategy, n: int, seed: int, label: str) -> list[tuple]:
    """Up to ``n`` values drawn deterministically from ``strategy``."""
    if n <= 0:
        return []
    with _no_local_constants():
        try:
            return _draw_direct(strategy, n, seed, label)
        except (ImportError, TypeError, AttributeError):  # pragma: no cover
            # the private names moved or changed shape: use the public engine
            return _draw_with_engine(strategy, n, seed, label)


def _draw_direct(strategy: st.SearchStrategy, n: int, seed: int, label: str) -> list[tuple]:
    """Draws straight from Hypothesis's data source, seeded, without its test engine.

    The engine (``@given``) spends about three quarters of its time on bookkeeping we do not
    need (novelty tracking, mutating earlier test cases, replay of the choice tree); drawing
    one value per fresh ``ConjectureData`` keeps Hypothesis's value distributions (boundary
    values, sizes) at about a quarter of the cost. Private API, hence the engine fallback.
    """
    from hypothesis.control import BuildContext
    from hypothesis.errors import StopTest, UnsatisfiedAssumption
    from hypothesis.internal.conjecture.data import ConjectureData

    rng = random.Random(_hyp_seed(seed, label))
    out: list[tuple] = []
    for _ in range(4 * n + 10):  # rejected draws (filters, oversized) do not count
        if len(out) >= n:
            break
        data = ConjectureData(random=rng, max_choices=DRAW_MAX_CHOICES)
        try:
            with BuildContext(data, wrapped_test=_draw_direct):
                out.append(data.draw(strategy))
        except (StopTest, UnsatisfiedAssumption):
            continue  # a rejected draw (a filter, an assumption, too many choices)
        except Exception:
            break  # an unbuildable inferred strategy (e.g. unhashable set elements)
    return out


def _draw_with_engine(strategy: st.SearchStrategy, n: int, seed: int, label: str) -> list[tuple]:
    out: list[tuple] = []

    @settings(
        database=None,
        max_examples=n,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
        derandomize=False,
        print_blob=False,
        report_multiple_bugs=False,
    )
    @hypothesis.seed(_hyp_seed(seed, label))
    @given(strategy)
    def collect(value: tuple) -> None:
        out.append(value)

    with contextlib.suppress(Exception):
        collect()
    return out[:n]


@contextlib.contextmanager
def _no_local_constants():
    """Keep Hypothesis from mixing constants of imported local modules into its draws.

    Recent Hypothesis versions collect literals from every non-library module loaded in the
    process and sometimes draw them; that would make our inputs depend on which modules
    happen to be imported (pytest vs the CLI). This is private API, so it degrades to a no-op
    when the names move; the Hypothesis version is part of ``GENERATOR_VERSION``.
    """
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # pragma: no cover
        yield
        return
    get = getattr(providers, "_get_local_constants", None)
    cache = getattr(providers, "CONSTANTS_CACHE", None)
    empty = getattr(providers, "Constants", None)
    if get is None or cache is None or empty is None:
        yield
        return
    cache.cache.clear()
    providers._get_local_constants = empty
    try:
        yield
    finally:
        providers._get_local_constants = get
        cache.cache.clear()
