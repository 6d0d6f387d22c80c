"""The Debian root file system shared by the docker image and the bwrap backend.

``debootstrap --variant=minbase`` with Python 3 and numpy, cached per user so bwrap can bind it
read-only as its root and ``docker import`` can turn it into the image without a registry.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from codearc_env.errors import SandboxUnavailableError

SUITE = "bookworm"
PACKAGES = ("python3", "python3-numpy")
MIRROR_ENV = "CODEARC_DEBIAN_MIRROR"


def cache_dir() -> Path:
    """The user cache dir; for root, /var/cache (the bwrap backend then drops to an
    unprivileged user, which must be able to read the root file system)."""
    if os.geteuid() == 0:
        return Path("/var/cache/codearc-env/sandbox")
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "codearc-env" / "sandbox"


def rootfs_dir() -> Path:
    """Where the root file system lives (override with CODEARC_SANDBOX_ROOTFS)."""
    override = os.environ.get("CODEARC_SANDBOX_ROOTFS")
    return Path(override) if override else cache_dir() / f"rootfs-{SUITE}"


def rootfs_ready(path: Path | None = None) -> bool:
    path = path or rootfs_dir()
    return (path / "usr" / "bin" / "python3").exists() and (path / "etc").is_dir()


def apt_mirror() -> str | None:
    """$CODEARC_DEBIAN_MIRROR, else the Debian mirror apt is configured with here, else None."""
    if os.environ.get(MIRROR_ENV):
        return os.environ[MIRROR_ENV]
    sources = Path("/etc/apt/sources.list.d")
    candidates = sorted(sources.glob("*.sources")) + sorted(sources.glob("*.list"))
    candidates.append(Path("/etc/apt/sources.list"))
    for path in candidates:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            continue
        for line in text.splitlines():
            words = line.split()
            if not words or words[0].startswith("#"):
                continue
            if words[0] == "URIs:" and len(words) > 1 and words[1].rstrip("/").endswith("/debian"):
                return words[1]
            if words[0] == "deb" and SUITE in words:
                uri = next((w for w in words[1:] if "://" in w), None)
                if uri and uri.rstrip("/").endswith("/debian"):
                    return uri
    return None


def build_rootfs(path: Path | None = None, mirror: str | None = None) -> Path:
    """Run debootstrap into a temporary directory and move it into place (needs root)."""
    path = path or rootfs_dir()
    if rootfs_ready(path):
        return path
    if shutil.which("debootstrap") is None:
        raise SandboxUnavailableError(
            "debootstrap is not installed (apt-get install debootstrap); it builds the sandbox "
            "root file system"
        )
    mirror = mirror or apt_mirror()
    if mirror is None:
        raise SandboxUnavailableError(
            f"no Debian mirror found in the apt configuration; set {MIRROR_ENV} to one"
        )
    tmp = path.with_name(path.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        "debootstrap",
        "--variant=minbase",
        "--include=" + ",".join(PACKAGES),
        SUITE,
        str(tmp),
        mirror,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
        raise SandboxUnavailableError(
            f"debootstrap failed with status {proc.returncode}: " + " | ".join(tail)
        )
    shutil.rmtree(tmp / "var" / "cache" / "apt" / "archives", ignore_errors=True)
    shutil.rmtree(path, ignore_errors=True)
    tmp.rename(path)
    return path
