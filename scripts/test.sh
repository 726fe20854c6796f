#!/usr/bin/env bash
# The test command: set-up, then format, vet and every test under -race.
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
