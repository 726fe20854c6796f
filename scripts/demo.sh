#!/usr/bin/env bash
# The main job: build mastfs and mount the built-in sample archive (no network).
# Ctrl-C unmounts. MNT defaults to /tmp/mastfs-demo.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
need=()
command -v fusermount3 >/dev/null || need+=(fuse3)
command -v fitsheader >/dev/null || need+=(astropy-utils) # for the fitsheader example
if ((${#need[@]})); then apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; fi
mkdir -p bin
go build -o bin/mastfs ./cmd/mastfs
MNT=${1:-/tmp/mastfs-demo}
mkdir -p "$MNT"
exec bin/mastfs demo "$MNT"
