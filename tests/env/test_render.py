"""The transcript renders exactly what joining and clipping every pair again would."""

from __future__ import annotations

import random

import pytest

from codearc_env import render
from codearc_env.render import Pair, Transcript, clip


def _joined(pairs: list[Pair], cap: int) -> str:
    return clip("\n".join(p.line() for p in pairs), cap)


@pytest.mark.parametrize("cap", [40, 200, 1000])
def test_transcript_text_equals_clipping_every_line_again(monkeypatch, cap):
    # A small cap puts the clip marker and the cut inside the text: the cases that matter.
    monkeypatch.setattr(render, "MAX_TEXT_CHARS", cap)
    rnd = random.Random(cap)
    for _ in range(200):
        transcript, pairs = Transcript(), []
        for _ in range(rnd.randint(1, 10)):
            new = [
                Pair.make(f"f({'x' * rnd.randint(0, cap // 2)})", "y" * rnd.randint(0, 30),
                          rnd.random() < 0.3, initial=False)
                for _ in range(rnd.randint(0, 3))
            ]
            transcript.extend(new)
            pairs += new
            assert transcript.text() == _joined(pairs, cap)
            assert transcript.calls == [p.call for p in pairs]
            assert transcript.outputs == [p.output for p in pairs]
            assert transcript.errored == [int(p.errored) for p in pairs]
            assert len(transcript) == len(pairs)


def test_transcript_clipped_text_states_the_whole_length(monkeypatch):
    monkeypatch.setattr(render, "MAX_TEXT_CHARS", 60)
    pairs = [Pair.make(f"f({i})", str(i), False, initial=True) for i in range(20)]
    transcript = Transcript(pairs)
    # 10 lines "f(i) -> i" of 9 characters, 10 of 11, and 19 line breaks
    assert transcript.text().endswith("... [219 characters, clipped]")
    assert len(transcript.text()) == 60


def test_empty_transcript_and_examples_text():
    assert Transcript().text() == ""
    pairs = [Pair.make("f(1)", "2", False, True), Pair.make("f(0)", "ValueError", True, False)]
    assert render.examples_text(pairs) == "f(1) -> 2\nf(0) -> error: ValueError"
