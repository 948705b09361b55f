#!/usr/bin/env bash
# What `make container-test` needs on a bare Debian machine (tests/deploy/container/README.md):
# Podman, runc, debootstrap, podman-compose 1.6 in a venv under build/, a containers.conf of
# our own (CONTAINERS_CONF; /etc is left alone) and local stand-ins for the official images
# (no registry here). Every step is skipped when its result is already there.
set -euo pipefail
cd "$(dirname "$0")"
BUILD=${CONTAINER_BUILD:-../../../build/container}
mkdir -p "$BUILD"
BUILD=$(cd "$BUILD" && pwd)
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)

missing=()
for tool in podman runc debootstrap; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "container-test: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    podman runc debootstrap uidmap >/dev/null
fi

cat > "$BUILD/containers.conf" <<'CONF'
[containers]
default_ulimits = []

[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
CONF
export CONTAINERS_CONF="$BUILD/containers.conf"

if [ ! -x "$BUILD/podman-compose/bin/podman-compose" ]; then
  echo "container-test: podman-compose 1.6.0 into $BUILD/podman-compose"
  python3 -m venv "$BUILD/podman-compose"
  "$BUILD/podman-compose/bin/pip" install -q podman-compose==1.6.0
fi

if ! podman image exists localhost/debian:bookworm-slim; then
  echo "container-test: Debian bookworm base from debootstrap (about a minute, once)"
  rootfs=$(mktemp -d)
  trap 'rm -rf "$rootfs"' EXIT
  debootstrap --variant=minbase bookworm "$rootfs" >/dev/null
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | podman import - localhost/debian:bookworm-slim >/dev/null
  rm -rf "$rootfs"
fi

standin() {  # name, folder: build the folder's Containerfile once
  if ! podman image exists "$1"; then
    echo "container-test: stand-in image $1"
    podman build -q --pull=never --network host --format docker -t "$1" "$2" >/dev/null
  fi
}

if ! podman image exists localhost/python-standin:3.11; then
  cp /etc/ssl/certs/ca-certificates.crt python-standin/host-ca-bundle.crt
  standin localhost/python-standin:3.11 python-standin
  rm -f python-standin/host-ca-bundle.crt
fi
standin localhost/postgres-standin:15 postgres
standin localhost/redis-standin:7 redis
standin localhost/nginx-standin:1.22 nginx
standin localhost/mailsink-standin:1 mailsink
