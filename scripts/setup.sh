#!/usr/bin/env bash
# Installs what mastfs's tests and demo need on a fresh Debian 12 machine (as root).
# Safe to re-run: it installs only what is missing.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

need=()
command -v fusermount3 >/dev/null || need+=(fuse3)
[ -f /usr/lib/python3/dist-packages/astroquery/__init__.py ] || need+=(python3-astroquery)
/usr/bin/python3 -c 'import astropy' 2>/dev/null || need+=(python3-astropy)
command -v fitsinfo >/dev/null || need+=(astropy-utils)
command -v fitsverify >/dev/null || need+=(fitsverify)
command -v curl >/dev/null || need+=(curl)
command -v tmux >/dev/null || need+=(tmux)

if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  for attempt in 1 2 3; do
    if apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; then
      break
    fi
    [ "$attempt" = 3 ] && { echo "setup: apt-get failed" >&2; exit 1; }
    sleep 5
  done
fi
command -v go >/dev/null || { echo "setup: Go is required (go >= 1.24)" >&2; exit 1; }
# versitygw: the real S3 server of the e2e tests (fs/versitygw_test.go); ~80 s to build.
command -v versitygw >/dev/null || {
  echo "setup: installing versitygw v1.8.0"
  GOBIN=/usr/local/bin go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
}
[ -e /dev/fuse ] || echo "setup: warning: /dev/fuse is missing; FUSE tests will fail" >&2
go mod download
