"""How the harness starts a worker: its interpreter flags, environment and source.

The launch source embeds the worker's modules (``codec.py``, ``wire.py`` and the ``worker*``
files), so a sandbox needs neither our package nor any file of ours on disk.
"""

from __future__ import annotations

PYTHON_FLAGS = ("-s", "-P")
"""How the worker's python is started. Not ``-I``: it implies ``-E``, which would ignore the
PYTHONHASHSEED we set. ``-s`` skips the user site directory, ``-P`` (3.11+) keeps the current
directory off sys.path; the environment is ours alone (see :func:`launch_env`)."""

HASH_SEED = "0"
"""A fixed str/bytes hash seed: set iteration order (``list(set(words))``) is then the same in
every sandbox, so a reference and a candidate run in different sandboxes agree."""


def launch_env() -> dict[str, str]:
    """The worker's whole environment: no other PYTHON* variable can reach the interpreter."""
    return {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp", "PYTHONHASHSEED": HASH_SEED}


WORKER_MODULES = (
    "codec",
    "wire",
    "worker_child",
    "worker_cleanup",
    "worker_results",
    "worker_batch",
    "worker_resident",
    "worker",
)
"""The worker's modules, in the order they are executed (each needs only earlier ones)."""


def launch_source() -> str:
    """Python source that runs the worker (for ``python3 -s -P -c``)."""
    from pathlib import Path

    here = Path(__file__).resolve().parent
    sources = tuple(
        (name, (here / f"{name}.py").read_text(encoding="utf-8")) for name in WORKER_MODULES
    )
    return (
        "import sys, types\n"
        f"for _name, _source in {sources!r}:\n"
        "    _module = types.ModuleType('_codearc_' + _name)\n"
        "    sys.modules[_module.__name__] = _module\n"
        "    exec(compile(_source, _name + '.py', 'exec'), _module.__dict__)\n"
        "sys.modules['_codearc_worker'].main(sys.argv)\n"
    )
