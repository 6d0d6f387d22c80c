"""The ``process`` backend: a plain local subprocess with resource limits. Development only.

It is NOT a security boundary: the code runs as your user, sees your files and your network.
Only rlimits, a wall clock and process-group cleanup apply.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import warnings

from codearc_env.sandbox.channel import Channel
from codearc_env.sandbox.local import LocalWorkerSandbox

INSECURE_WARNING = (
    "the 'process' sandbox backend is NOT a security boundary: untrusted code runs as your "
    "user with your files and network, under resource limits only. Use it for development; "
    "use the docker or bwrap backend for anything else."
)


class InsecureSandboxWarning(UserWarning):
    """Warned every time a ``process`` sandbox starts."""


class ProcessSandbox(LocalWorkerSandbox):
    name = "process"
    is_security_boundary = False
    _scratch: str | None = None

    @classmethod
    def available(cls) -> bool:
        return sys.platform.startswith("linux")

    def _python(self) -> str:
        return sys.executable

    def _command(self, worker_args: list[str]) -> list[str]:
        return worker_args

    def _worker_config(self) -> dict[str, object]:
        self._scratch = tempfile.mkdtemp(prefix="codearc-sandbox-")
        return {"scratch": self._scratch, "nproc": True}

    def _launch(self) -> Channel:
        warnings.warn(INSECURE_WARNING, InsecureSandboxWarning, stacklevel=4)
        return super()._launch()

    def _terminate(self) -> None:
        super()._terminate()
        scratch, self._scratch = self._scratch, None
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)

    def _describe(self) -> dict[str, str]:
        return {"python": sys.executable}
