"""Sandboxed execution of hidden functions and candidates (docker, bwrap, process)."""
