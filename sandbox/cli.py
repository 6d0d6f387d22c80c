"""``codearc sandbox ...``: check a backend, build the image, show what is available.

Importing this module is cheap: backends and docker are imported inside the handlers.
Exit codes are those of every ``codearc`` command (:mod:`codearc_env.errors`): ``check``
exits 1 when a check fails; a bad option or a sandbox that cannot start or be built raises,
and ``codearc`` reports it and exits 2 (no answer).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from codearc_env.errors import EXIT_ERROR, EXIT_FAIL, EXIT_OK, UsageError


def register(subparsers: Any) -> None:
    """Add the ``sandbox`` command and its subcommands to an argparse subparsers object."""
    parser = subparsers.add_parser("sandbox", help="sandbox backends: check, build-image, status")
    commands = parser.add_subparsers(dest="sandbox_command", metavar="COMMAND")
    parser.set_defaults(func=lambda args: _usage(parser))

    check = commands.add_parser("check", help="run the conformance suite against a backend")
    check.add_argument("--backend", default=None, help="docker, bwrap or process (default: best)")
    check.add_argument("--only", nargs="+", metavar="CHECK", help="run only these checks")
    check.add_argument(
        "--run-known-failures",
        action="store_true",
        help="also run checks the backend is known to fail (never the ones unsafe on the host)",
    )
    check.set_defaults(func=_check)

    build = commands.add_parser("build-image", help="build the docker image codearc-sandbox")
    build.add_argument(
        "--offline", action="store_true", help="skip the Dockerfile; import a debootstrap rootfs"
    )
    build.add_argument("--force", action="store_true", help="rebuild even if the image exists")
    build.set_defaults(func=_build_image)

    rootfs = commands.add_parser(
        "build-rootfs", help="debootstrap the root file system the bwrap backend runs in"
    )
    rootfs.set_defaults(func=_build_rootfs)

    status = commands.add_parser("status", help="which backends can run here, and why not")
    status.set_defaults(func=_status)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return EXIT_ERROR


def _check(args: argparse.Namespace) -> int:
    import warnings

    from codearc_env.sandbox import make_sandbox
    from codearc_env.sandbox.conformance import CHECKS, run_checks

    unknown = sorted(set(args.only or ()) - {c.name for c in CHECKS})
    if unknown:
        raise UsageError(f"unknown conformance checks: {', '.join(unknown)}")
    try:
        box = make_sandbox(args.backend)
    except ValueError as exc:  # an unknown backend name
        raise UsageError(str(exc)) from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the process backend's warning: said once below
        box.start()  # a SandboxError here ends the command with exit code 2
    if not box.info().is_security_boundary:
        print(f"warning: the {box.name} backend is NOT a security boundary", file=sys.stderr)
    try:
        results = run_checks(box, args.only, run_known_failures=args.run_known_failures)
    finally:
        box.close()
    width = max(len(r.name) for r in results)
    print(f"conformance of the {box.name} backend")
    print(f"{'check':<{width}}  {'status':<24}  {'time':>6}  detail")
    for r in results:
        detail = r.detail.replace("\n", " ")[:90]
        print(f"{r.name:<{width}}  {r.status:<24}  {r.duration_s:5.2f}s  {detail}")
    failed = [r.name for r in results if not r.acceptable]
    known = sum(1 for r in results if r.known_failure)
    passed = sum(1 for r in results if r.passed and not r.known_failure)
    print(f"{passed} passed, {len(failed)} failed, {known} known failures")
    return EXIT_FAIL if failed else EXIT_OK


def _build_image(args: argparse.Namespace) -> int:
    from codearc_env.sandbox.image import build_image

    report = build_image(offline=args.offline, force=args.force)
    print(f"{report.tag}: {report.method} in {report.duration_s:.1f}s {report.note}".rstrip())
    return EXIT_OK


def _build_rootfs(args: argparse.Namespace) -> int:
    import time

    from codearc_env.sandbox.rootfs import build_rootfs, rootfs_dir, rootfs_ready

    began = time.monotonic()
    if rootfs_ready():
        print(f"{rootfs_dir()}: already built")
        return EXIT_OK
    path = build_rootfs()
    print(f"{path}: built in {time.monotonic() - began:.0f}s")
    return EXIT_OK


def _status(args: argparse.Namespace) -> int:
    from codearc_env.sandbox import BACKENDS, unavailable_reason
    from codearc_env.sandbox.image import image_tag
    from codearc_env.sandbox.memcap import cap_kind
    from codearc_env.sandbox.rootfs import rootfs_dir, rootfs_ready
    from codearc_env.sandbox.seccomp import seccomp_summary

    for name in BACKENDS:
        reason = unavailable_reason(name)
        print(f"{name:<8} {'available' if reason is None else 'unavailable: ' + reason}")
    root = rootfs_dir()
    print(f"image    {image_tag()}")
    print(f"rootfs   {root} ({'ready' if rootfs_ready(root) else 'missing'})")
    print(f"seccomp  {seccomp_summary()} (bwrap; docker applies its default profile)")
    print(
        f"memory   bwrap: {cap_kind()} caps each sandbox's processes together; "
        "docker: the container's memory limit"
    )
    return EXIT_OK
