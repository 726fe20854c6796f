#!/usr/bin/env bash
# bench/rss64.sh: peak RSS of mastfs with 64 parallel readers (not CI).
#
# bench/run.sh's RSS measurement (16 readers) at four times the readers:
# NFILES (64) dd readers of distinct FILE_SIZE (16 MiB) products at
# --cache-size CACHE (256MiB), read through --cloud auto from versitygw on
# 127.0.0.1 (objects on tmpfs; path_lookup on the MAST emulator), as
# bench/run.sh sets them up. It reports the daemon's peak RSS (VmHWM)
# against the limit CACHE + 150 MiB, the bytes mastfs fetched
# (.mastfs/stats.json cache.bytes_fetched) and the bytes the servers sent,
# per byte read, and exits 1 when the peak is over the limit.
#
# Usage (root, Debian 12, Go, versitygw and fusermount3 on PATH; run
# bench/run.sh once, or scripts/setup.sh, to install them):
#   bash bench/rss64.sh [--cloud auto|off] [-- EXTRA MASTFS MOUNT FLAGS...]
# Environment: NFILES (64), FILE_SIZE (16MiB), CACHE (256MiB), S3_PORT
# (7380), EMU_PORT (7381), GOMEMLIMIT (passed to mastfs when set), KEEP=1
# keeps the work directory.
set -Eeuo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
S3_PORT=${S3_PORT:-7380}
EMU_PORT=${EMU_PORT:-7381}
NFILES=${NFILES:-64}
FILE_SIZE=${FILE_SIZE:-16MiB}
CACHE=${CACHE:-256MiB}
CLOUD=auto
OBSID=2003738726 # the recorded HST observation U9O40504M of the emulator
EXTRA=()
while [ $# -gt 0 ]; do
	case $1 in
	--cloud) CLOUD=$2; shift ;;
	--) shift; EXTRA=("$@"); break ;;
	*) echo "usage: $0 [--cloud auto|off] [-- MASTFS FLAGS...]" >&2; exit 2 ;;
	esac
	shift
done

die() { echo "rss64: $*" >&2; exit 1; }
log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }
[ "$(id -u)" = 0 ] || die "run as root (FUSE)"
for c in versitygw fusermount3 curl go; do
	command -v $c >/dev/null || die "$c is not installed (bash bench/run.sh installs it)"
done
bytes_of() { # 16MiB, 256MiB, 1GiB, or a plain number
	local v=$1
	case $v in
	*GiB) echo $((${v%GiB} << 30)) ;;
	*MiB) echo $((${v%MiB} << 20)) ;;
	*KiB) echo $((${v%KiB} << 10)) ;;
	*) echo "$v" ;;
	esac
}
CACHE_BYTES=$(bytes_of "$CACHE")
LIMIT_MIB=$((CACHE_BYTES / 1048576 + 150))

WORK=$(mktemp -d /tmp/mastfs-rss64.XXXXXX)
VGW_ROOT=$(mktemp -d /dev/shm/mastfs-rss64-s3.XXXXXX)
MNT=$WORK/mnt
mkdir -p "$MNT" "$WORK/logs"
PIDS=()
is_mounted() { awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/self/mounts; }
cleanup() {
	set +e
	local p i
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for i in $(seq 50); do
		local alive=0
		for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ $alive = 0 ] && break
		sleep 0.1
	done
	is_mounted "$MNT" && fusermount3 -u -z "$MNT"
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	rm -rf "$VGW_ROOT"
	if [ "${KEEP:-0}" = 1 ]; then echo "rss64: work directory kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

. "$REPO/bench/servers.sh" # wait_http, port_free, start_s3, upload_products, start_emulator
port_free "$S3_PORT" || die "port $S3_PORT is in use (set S3_PORT)"
port_free "$EMU_PORT" || die "port $EMU_PORT is in use (set EMU_PORT)"

log "building mastfs and the emulator"
(cd "$REPO" && go build -o "$WORK/mastfs" ./cmd/mastfs && go build -o "$WORK/mastemu" ./cmd/mastemu)

# ---------------------------------------------------------------- servers (as bench/run.sh)
start_s3 "$S3_PORT" "$VGW_ROOT" "$WORK/logs/versitygw.log"

EMU_ARGS=(--obsid "$OBSID" --files "$NFILES" --file-size "$FILE_SIZE")
log "uploading $NFILES products of $FILE_SIZE (the emulator's exact bytes) into s3://stpubdata"
upload_products "$WORK/mastemu" "$WORK"
NAMES=()
while IFS=$'\t' read -r key size uri rel; do NAMES+=("$(basename "$key")"); done <"$WORK/manifest.tsv"
[ ${#NAMES[@]} = "$NFILES" ] || die "the emulator exported ${#NAMES[@]} products, want $NFILES"

start_emulator "$WORK/mastemu" "$EMU_PORT" "$WORK/logs/mastemu.log"

vgw_tx() { awk '/^wchar:/ { print $2 }' "/proc/$VGW_PID/io"; }
emu_dl() { curl -s "http://127.0.0.1:$EMU_PORT/_mastemu/stats" | sed -n 's/.*"download_bytes":\([0-9]*\).*/\1/p'; }
wire() { echo $(($(vgw_tx) + $(emu_dl))); }
fetched() { sed -n 's/.*"bytes_fetched": *\([0-9]*\).*/\1/p' "$MNT/.mastfs/stats.json"; }

# ---------------------------------------------------------------- mount and read
log "mounting mastfs --cache-size $CACHE --cloud $CLOUD ${EXTRA[*]}"
env ${GOMEMLIMIT:+GOMEMLIMIT=$GOMEMLIMIT} "$WORK/mastfs" mount --mast-url "http://127.0.0.1:$EMU_PORT" \
	--resolver-url "http://127.0.0.1:$EMU_PORT/Santa-war/query" \
	--cloud "$CLOUD" --s3-endpoint "$S3" --cache-size "$CACHE" --log-level info "${EXTRA[@]}" "$MNT" \
	>"$WORK/logs/mastfs.log" 2>&1 &
MNT_PID=$!
PIDS+=("$MNT_PID")
for i in $(seq 200); do
	is_mounted "$MNT" && break
	kill -0 "$MNT_PID" 2>/dev/null || { cat "$WORK/logs/mastfs.log" >&2; die "mastfs exited before mounting"; }
	sleep 0.05
done
is_mounted "$MNT" || die "mastfs did not mount in 10 s"
DIR=$MNT/obsid/$OBSID
ls -l "$DIR" >/dev/null # metadata first: the measurement is of reads
RSS0=$(awk '/VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$MNT_PID/status")

log "reading $NFILES files of $FILE_SIZE with $NFILES parallel readers (dd bs=1M)"
w0=$(wire) m0=$(fetched) t0=$(date +%s%N)
pids=()
for n in "${NAMES[@]}"; do
	dd if="$DIR/$n" of=/dev/null bs=1M status=none &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || die "a reader failed"; done
t1=$(date +%s%N)
w=$(($(wire) - w0)) m=$(($(fetched) - m0))
read_bytes=$((NFILES * $(bytes_of "$FILE_SIZE")))
HWM=$(awk '/VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$MNT_PID/status")
STATS=$(cat "$MNT/.mastfs/stats.json")

verdict=ok
[ "$HWM" -le "$LIMIT_MIB" ] || verdict=OVER
cat <<EOF
mastfs $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown), $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg), --cloud $CLOUD, --cache-size $CACHE ${EXTRA[*]}${GOMEMLIMIT:+, GOMEMLIMIT=$GOMEMLIMIT}
readers:        $NFILES x $FILE_SIZE (distinct files, dd bs=1M, in parallel)
read:           $read_bytes bytes in $(awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.1f", ns / 1e9 }') s ($(awk -v b=$read_bytes -v ns=$((t1 - t0)) 'BEGIN { printf "%.0f", b / (ns / 1e9) / 1e6 }') MB/s)
fetched:        $m bytes by mastfs ($(awk -v a=$m -v b=$read_bytes 'BEGIN { printf "%.3f", a / b }') per byte read)
wire:           $w bytes sent by versitygw + the emulator ($(awk -v a=$w -v b=$read_bytes 'BEGIN { printf "%.3f", a / b }') per byte read)
RSS:            ${RSS0} MiB after the listing
peak RSS:       ${HWM} MiB (VmHWM); limit cache + 150 MiB = ${LIMIT_MIB} MiB: $verdict
EOF
printf '%s\n' "$STATS" | grep -A4 '"bytes"' | tr -s ' ' | tr '\n' ' ' | sed 's/^/stats.json:     /'
echo
kill -TERM "$MNT_PID"
wait "$MNT_PID" 2>/dev/null || true
grep -h 'unmounted' "$WORK/logs/mastfs.log" | sed 's/^/mastfs:         /' || true
[ "$verdict" = ok ]
