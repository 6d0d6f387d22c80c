#!/usr/bin/env bash
# Everything a fresh Debian machine needs for codearc-env: system packages, the Python
# package with its extras, a running Docker Engine, and the sandbox image (built offline
# when no registry is reachable). Safe to run again: each step skips what is done.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*" >&2; }
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"

need_apt=()
command -v dockerd >/dev/null || need_apt+=(docker.io)
command -v bwrap >/dev/null || need_apt+=(bubblewrap)
command -v debootstrap >/dev/null || need_apt+=(debootstrap)
command -v cmake >/dev/null || need_apt+=(cmake)
command -v g++ >/dev/null || need_apt+=(g++)
command -v ninja >/dev/null || need_apt+=(ninja-build)
if [ "${#need_apt[@]}" -gt 0 ]; then
  log "apt-get install ${need_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

log "pip install -e .[test,local,openenv,ray]  (llama-cpp-python compiles from source: several minutes)"
# llama.cpp's default build targets the building CPU's every instruction set, AMX included,
# which some virtual machines advertise but fault on (a general protection fault in
# libggml-cpu at the first matrix product). On x86-64 build for AVX2/FMA/F16C instead: it runs
# on any x86-64 machine of the last decade, so a built wheel can move between machines.
# A CMAKE_ARGS of the user's is kept, with this added unless it sets GGML_NATIVE itself.
if [ "$(uname -m)" = x86_64 ] && [[ "${CMAKE_ARGS:-}" != *GGML_NATIVE* ]]; then
  export CMAKE_ARGS="${CMAKE_ARGS:+$CMAKE_ARGS }-DGGML_NATIVE=OFF"
fi
CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" python3 -m pip install -q --disable-pip-version-check -e ".[test,local,openenv,ray]"
# The TRL contract tests read TRL's own trainer source; without its dependencies it brings no
# torch (the full 'trl' extra does, for real training runs: docs/training.md).
python3 -m pip install -q --disable-pip-version-check --no-deps "trl==1.16.0"

if ! docker info >/dev/null 2>&1; then
  log "starting dockerd"
  # A dockerd killed earlier leaves its pid file behind, and a new one refuses to start.
  if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
    $SUDO rm -f /var/run/docker.pid
  fi
  $SUDO sh -c 'nohup dockerd >/tmp/codearc-dockerd.log 2>&1 &'
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /tmp/codearc-dockerd.log" >&2; exit 1; }
fi

log "sandbox root file system (debootstrap, cached) and docker image (offline import when no registry answers)"
codearc sandbox build-rootfs
codearc sandbox build-image
