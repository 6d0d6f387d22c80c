"""Play one CodeARC episode by hand on the built-in suite (offline, no benchmark data).

    python examples/hello_world.py [--backend bwrap|docker|process]
"""

import argparse

import gymnasium

import codearc_env  # noqa: F401  (registers the CodeARC-* ids)

parser = argparse.ArgumentParser()
parser.add_argument("--backend", default=None, help="sandbox backend (default: strongest)")
args = parser.parse_args()

env = gymnasium.make("CodeARC-Builtin-v0", backend=args.backend, render_mode="ansi")
obs, info = env.reset(seed=0, options={"problem": "builtin/annotated/reverse_words"})
print(env.render())  # the function's name and its 10 examples: all an agent is shown

# Query: one or more calls of the target with literal arguments; each call costs one I/O.
obs, reward, terminated, truncated, info = env.step(
    {"kind": 0, "text": "reverse_words('a b c')\nreverse_words('')\nreverse_words('  x  y ')"}
)
print(obs["feedback"])

# Submit: a program that defines the target. The oracle tests it against the hidden function.
program = "def reverse_words(text):\n    return ' '.join(reversed(text.split()))\n"
obs, reward, terminated, truncated, info = env.step({"kind": 1, "text": program})
print(obs["feedback"])
print(f"reward={reward} #I/O={info['paper_io']} #Oracle={info['paper_oracle']}")
env.close()
