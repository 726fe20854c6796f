#!/usr/bin/env bash
# The test command: set-up, then format, vet, every test under -race, and the
# FUSE tests again with GOMAXPROCS=1.
# Nothing is skipped: FUSE, astroquery, versitygw and tmux are required here.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt needed on:"; echo "$unformatted"; exit 1
fi
go vet ./...

export MASTFS_REQUIRE_FUSE=1 MASTFS_REQUIRE_ASTROQUERY=1 MASTFS_REQUIRE_VERSITYGW=1 MASTFS_REQUIRE_TMUX=1
go test -race -timeout 15m -count=1 ./...

# The FUSE tests once more on one OS thread: lock-step scheduling finds
# handlers that wait on each other (a read that needs a second read to
# finish) which two threads hide.
GOMAXPROCS=1 go test -timeout 15m -count=1 ./fs ./cmd/mastfs
