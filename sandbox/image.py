"""Build the docker image ``codearc-sandbox:<version>``: from the Dockerfile, or offline.

Offline (no registry reachable, or ``--offline``): the cached debootstrap root file system
(built if missing) is tarred and ``docker import``-ed with the same user, workdir and env.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from codearc_env.errors import SandboxUnavailableError
from codearc_env.sandbox import rootfs

IMAGE_REPOSITORY = "codearc-sandbox"
DOCKERFILE_DIR = Path(__file__).resolve().parent
IMPORT_CHANGES = ["USER 65534:65534", "WORKDIR /tmp", "ENV LANG=C.UTF-8", 'CMD ["python3"]']


def image_version() -> str:
    try:
        return metadata.version("codearc-env")
    except metadata.PackageNotFoundError:
        return "dev"


def image_tag() -> str:
    return f"{IMAGE_REPOSITORY}:{image_version()}"


@dataclass(frozen=True)
class BuildReport:
    tag: str
    method: str  # "dockerfile" or "import"
    duration_s: float
    note: str = ""


def docker_client() -> Any:
    """A connected docker client, or SandboxUnavailableError saying why not."""
    try:
        import docker
    except ImportError as exc:
        raise SandboxUnavailableError("the docker Python package is not installed") from exc
    try:
        client = docker.from_env(timeout=60)
        client.ping()
    except Exception as exc:  # DockerException, connection errors of several kinds
        raise SandboxUnavailableError(f"the Docker Engine is not reachable: {exc}") from exc
    return client


def image_present(client: Any, tag: str | None = None) -> bool:
    import docker.errors

    try:
        client.images.get(tag or image_tag())
        return True
    except docker.errors.ImageNotFound:
        return False


def build_image(
    *, offline: bool = False, force: bool = False, log: Callable[[str], None] = print
) -> BuildReport:
    client = docker_client()
    tag = image_tag()
    began = time.monotonic()
    if image_present(client, tag) and not force:
        return BuildReport(tag, "present", 0.0, "already built (use --force to rebuild)")
    note = ""
    if not offline:
        try:
            log(f"building {tag} from {DOCKERFILE_DIR / 'Dockerfile'}")
            client.images.build(path=str(DOCKERFILE_DIR), tag=tag, rm=True, pull=False)
            return BuildReport(tag, "dockerfile", time.monotonic() - began)
        except Exception as exc:  # BuildError/APIError: typically no registry reachable
            note = f"Dockerfile build failed ({str(exc).splitlines()[0][:200]}); built offline"
            log(note)
    root = rootfs.rootfs_dir()
    if not rootfs.rootfs_ready(root):
        log(f"debootstrap {rootfs.SUITE} into {root} (a few minutes)")
        rootfs.build_rootfs(root)
    log(f"importing {root} as {tag}")
    with tempfile.TemporaryDirectory(prefix="codearc-image-") as tmp:
        tarball = Path(tmp) / "rootfs.tar"
        proc = subprocess.run(
            ["tar", "-C", str(root), "--numeric-owner", "-cf", str(tarball), "."],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise SandboxUnavailableError(
                f"tar of the root file system failed: {proc.stderr[-300:]}"
            )
        repository, _, version = tag.partition(":")
        client.api.import_image_from_file(
            str(tarball), repository=repository, tag=version, changes=IMPORT_CHANGES
        )
    if not image_present(client, tag):
        raise SandboxUnavailableError(f"docker import did not produce {tag}")
    return BuildReport(tag, "import", time.monotonic() - began, note)
