"""The generator's identity is known without importing the generator or Hypothesis."""

from __future__ import annotations

import subprocess
import sys

import hypothesis

from codearc_env.oracle import generation, inputs


def test_generator_version_names_the_imported_hypothesis() -> None:
    assert f"5/hypothesis-{hypothesis.__version__}" == generation.GENERATOR_VERSION
    assert inputs.GENERATOR_VERSION is generation.GENERATOR_VERSION
    assert inputs.STRENGTHS is generation.STRENGTHS


def test_the_oracle_imports_without_hypothesis() -> None:
    code = (
        "import sys, codearc_env.oracle.oracle, codearc_env.oracle.reference; "
        "print('hypothesis' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
