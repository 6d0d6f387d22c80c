"""codearc-env: the CodeARC inductive program synthesis benchmark as a Gymnasium environment.

Importing the package only registers environment ids: no network, no Docker client, no data.
"""

from __future__ import annotations

__version__ = "0.1.0"

from codearc_env.registration import register_envs as _register_envs  # noqa: E402

_register_envs()
