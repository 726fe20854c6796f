#!/usr/bin/env bash
# bench/run.sh: the side-by-side read benchmark of issue 4.
#
# mastfs against curl (a direct GET: the single-stream limit), rclone mount
# (--vfs-cache-mode off and full) and s3fs, all reading the same objects
# from one versitygw on 127.0.0.1, in one run. mastfs reads them through
# --cloud auto (path_lookup on the MAST emulator, then S3 range GETs).
#
# Usage (root, Debian 12, Go on PATH; installs what it needs):
#   bash bench/run.sh [--quick] [--no-sweep] [--cloud auto|off] [--out DIR]
#     --quick     one repetition of the cold read, no sweep (about 2 minutes)
#     --no-sweep  skip the block-size / readahead sweep of mastfs
#     --cloud     mastfs's --cloud (off: bytes from the emulator's Download/file)
#     --out       where results.json, results.csv, raw.tsv and benchmarks.png go
#                 (default bench/results)
#     --serve     only start versitygw and the emulator with the objects loaded,
#                 print how to mount each tool, and wait for Ctrl-C
# Environment: S3_PORT (7370), EMU_PORT (7371), REPS (3), LOAD_WAIT (120: seconds
# to wait for the load average to drop below the CPU count), KEEP=1 keeps the work dir.
#
# Method (see docs/benchmarks.md): every "cold" measurement uses a fresh
# mount after `sync; echo 3 > /proc/sys/vm/drop_caches`; the S3 server's
# objects live on tmpfs, so only the client side is cold. Bytes fetched are
# mastfs's own counter (.mastfs/stats.json cache.bytes_fetched) and, for
# every tool, the bytes versitygw wrote to its sockets (/proc/PID/io wchar,
# which includes response headers) plus the emulator's download bytes.
set -Eeuo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$REPO/bench/results
S3_PORT=${S3_PORT:-7370}
EMU_PORT=${EMU_PORT:-7371}
REPS=${REPS:-3}
SWEEP=1
SERVE=0
CLOUD=auto
PY=/usr/bin/python3 # Debian's python: the only one that sees python3-astropy
OBSID=2003738726    # the recorded HST observation U9O40504M of the emulator
BIG=256MiB
BIG_BYTES=$((256 << 20))
RAND=1GiB           # the object of the random-read tests
RAND_BYTES=$((1 << 30))
NFILES=16
FILE_SIZE=64MiB
FILE_BYTES=$((64 << 20))
CACHE=1GiB          # mastfs --cache-size (the default) except for the RSS test
RSS_CACHE=256MiB
RAND_IOS=1000       # 64 KiB random reads per fio run (QD1: 1 job; QD8: 8 x 125)
SWEEP_RAND_IOS=200  # fewer in the block-size sweep, so 4 MiB blocks mostly miss too

while [ $# -gt 0 ]; do
	case $1 in
	--quick) REPS=1 SWEEP=0 ;;
	--no-sweep) SWEEP=0 ;;
	--cloud) CLOUD=$2; shift ;;
	--out) OUT=$2; shift ;;
	--serve) SERVE=1 ;;
	*) echo "usage: $0 [--quick] [--no-sweep] [--cloud auto|off] [--out DIR] [--serve]" >&2; exit 2 ;;
	esac
	shift
done

die() { echo "bench: $*" >&2; exit 1; }
log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }
[ "$(id -u)" = 0 ] || die "run as root (FUSE mounts of peers, drop_caches)"
[ -w /proc/sys/vm/drop_caches ] || die "/proc/sys/vm/drop_caches is not writable"
START_NS=$(date +%s%N)

# ---------------------------------------------------------------- install
export DEBIAN_FRONTEND=noninteractive
missing=()
for c in fusermount3 rclone s3fs fio hyperfine curl fitsheader gnuplot; do
	command -v $c >/dev/null || missing+=("$c")
done
$PY -c 'import astropy' 2>/dev/null || missing+=(astropy)
if [ ${#missing[@]} -gt 0 ]; then
	log "installing Debian packages (missing: ${missing[*]})"
	apt-get update -qq
	apt-get install -y -qq fuse3 rclone s3fs fio hyperfine curl astropy-utils python3-astropy gnuplot-nox >/dev/null
fi
if ! command -v versitygw >/dev/null; then
	log "installing versitygw v1.8.0 (about 80 s)"
	GOBIN=/usr/local/bin go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
fi

# The machine may be shared: give other work up to LOAD_WAIT seconds to
# settle (the load average is recorded with the results either way).
LOAD_WAIT=${LOAD_WAIT:-120}
for i in $(seq $((LOAD_WAIT / 5))); do
	awk -v n="$(nproc)" '{ exit !($1 < n) }' /proc/loadavg && break
	[ "$i" = 1 ] && log "load average $(cut -d' ' -f1 /proc/loadavg) >= $(nproc) cpus: waiting up to ${LOAD_WAIT}s"
	sleep 5
done

# ---------------------------------------------------------------- cleanup
WORK=$(mktemp -d /tmp/mastfs-bench.XXXXXX)
VGW_ROOT=$(mktemp -d /dev/shm/mastfs-bench-s3.XXXXXX)
mkdir -p "$WORK/mnt" "$WORK/logs" "$OUT"
PIDS=()       # every background process we started
MASTFS_ENV=() # extra environment of mastfs (the GOMEMLIMIT variant)
MNT_PID="" MNT_DIR="" MNT_SEQ=0

# is_mounted DIR: from the mount table (a mount whose daemon died fails stat,
# so mountpoint(1) would call it unmounted).
is_mounted() { awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/self/mounts; }

cleanup() {
	set +e
	local p m i
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for i in $(seq 50); do
		local alive=0
		for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ $alive = 0 ] && break
		sleep 0.1
	done
	for m in "$WORK"/mnt/*; do
		is_mounted "$m" && fusermount3 -u -z "$m"
	done
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	rm -rf "$VGW_ROOT"
	if [ "${KEEP:-0}" = 1 ]; then
		echo "bench: work directory kept: $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- helpers
RAW=$WORK/raw.tsv # copied to $OUT when the run completes
: >"$RAW"
rec() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RAW"; } # tool metric value
t_ns() { date +%s%N; }
drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
mbps() { awk -v b="$1" -v ns="$2" 'BEGIN { printf "%.0f", b / (ns / 1e9) / 1e6 }'; }

. "$REPO/bench/servers.sh" # wait_http, port_free, start_s3, upload_products, start_emulator

vgw_tx() { awk '/^wchar:/ { print $2 }' "/proc/$VGW_PID/io"; }
emu_dl() { curl -s "http://127.0.0.1:$EMU_PORT/_mastemu/stats" | sed -n 's/.*"download_bytes":\([0-9]*\).*/\1/p'; }
wire() { echo $(($(vgw_tx) + $(emu_dl))); } # bytes the servers sent
mfs_fetched() { # mastfs's own counter, 0 for the peers
	case $MNT_TOOL in
	mastfs*) sed -n 's/.*"bytes_fetched": *\([0-9]*\).*/\1/p' "$MNT_DIR/.mastfs/stats.json" ;;
	*) echo 0 ;;
	esac
}

# cpu_ticks: user+system CPU of the mounted daemon (CPU time is less
# sensitive than wall time to other work on a shared machine).
HZ=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$MNT_PID/stat"; }

# fpath TOOL NAME: the path of a benchmark product under the current mount.
fpath() {
	case $1 in
	mastfs*) echo "$MNT_DIR/obsid/$OBSID/$2" ;;
	*) echo "$MNT_DIR/$KEYDIR/$2" ;;
	esac
}

# mount_tool TOOL [mastfs flags...]: a fresh mount in MNT_DIR, daemon MNT_PID.
mount_tool() {
	local tool=$1 i
	shift
	MNT_SEQ=$((MNT_SEQ + 1))
	MNT_TOOL=$tool
	MNT_DIR=$WORK/mnt/$tool-$MNT_SEQ
	mkdir -p "$MNT_DIR"
	local lg=$WORK/logs/$tool-$MNT_SEQ.log
	case $tool in
	mastfs*)
		env "${MASTFS_ENV[@]}" "$WORK/mastfs" mount --mast-url "http://127.0.0.1:$EMU_PORT" \
			--resolver-url "http://127.0.0.1:$EMU_PORT/Santa-war/query" \
			--cloud "$CLOUD" --s3-endpoint "http://127.0.0.1:$S3_PORT" \
			--cache-size "$CACHE" --log-level warn "$@" "$MNT_DIR" >"$lg" 2>&1 &
		;;
	rclone-off | rclone-full)
		rm -rf "$WORK/rclone-cache"
		env -u AWS_CA_BUNDLE RCLONE_CONFIG=/dev/null \
			RCLONE_CONFIG_MAST_TYPE=s3 RCLONE_CONFIG_MAST_PROVIDER=Other \
			RCLONE_CONFIG_MAST_ENDPOINT="http://127.0.0.1:$S3_PORT" RCLONE_CONFIG_MAST_ENV_AUTH=false \
			RCLONE_CONFIG_MAST_FORCE_PATH_STYLE=true RCLONE_CONFIG_MAST_REGION=us-east-1 \
			rclone mount mast:stpubdata "$MNT_DIR" --read-only --vfs-cache-mode "${tool#rclone-}" \
			--cache-dir "$WORK/rclone-cache" >"$lg" 2>&1 &
		;;
	s3fs)
		s3fs stpubdata "$MNT_DIR" -f -o url="http://127.0.0.1:$S3_PORT" -o use_path_request_style \
			-o public_bucket=1 -o ro -o endpoint=us-east-1 >"$lg" 2>&1 &
		;;
	*) die "unknown tool $tool" ;;
	esac
	MNT_PID=$!
	PIDS+=("$MNT_PID")
	for i in $(seq 200); do
		mountpoint -q "$MNT_DIR" && break
		kill -0 "$MNT_PID" 2>/dev/null || { cat "$lg" >&2; die "$tool exited before mounting"; }
		sleep 0.05
	done
	mountpoint -q "$MNT_DIR" || { cat "$lg" >&2; die "$tool did not mount in 10 s"; }
	# Metadata first (listing, attributes): the measurements are of reads.
	ls -l "$(dirname "$(fpath "$tool" x)")" >/dev/null
}

umount_tool() {
	local i
	kill -TERM "$MNT_PID" 2>/dev/null || true # each tool unmounts on SIGTERM
	for i in $(seq 200); do
		kill -0 "$MNT_PID" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL "$MNT_PID" 2>/dev/null || true
	wait "$MNT_PID" 2>/dev/null || true
	if is_mounted "$MNT_DIR"; then
		log "  $MNT_TOOL left $MNT_DIR mounted: lazy unmount"
		fusermount3 -u -z "$MNT_DIR" || true
	fi
}

# fresh TOOL [flags]: fresh mount, then an empty page cache.
fresh() { mount_tool "$@"; drop; }

# measure_read TOOL METRIC FILE...: read the files in parallel with dd bs=1M,
# record MB/s (aggregate) and bytes fetched per byte read.
measure_read() {
	local tool=$1 metric=$2 f p
	shift 2
	local w0 m0 c0 t0 t1 pids=()
	w0=$(wire) m0=$(mfs_fetched) c0=$(cpu_ticks) t0=$(t_ns)
	for f in "$@"; do
		dd if="$f" of=/dev/null bs=1M status=none &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || die "$tool: read failed"; done
	t1=$(t_ns)
	local bytes=0
	for f in "$@"; do bytes=$((bytes + $(stat -c %s "$f"))); done
	local w=$(($(wire) - w0)) m=$(($(mfs_fetched) - m0)) c=$(($(cpu_ticks) - c0))
	rec "$tool" "${metric}_mbps" "$(mbps $bytes $((t1 - t0)))"
	rec "$tool" "${metric}_cpu_s_per_gib" "$(awk -v c=$c -v hz="$HZ" -v b=$bytes 'BEGIN { printf "%.2f", c / hz / (b / 2^30) }')"
	rec "$tool" "${metric}_wire_per_byte" "$(awk -v a=$w -v b=$bytes 'BEGIN { printf "%.4f", a / b }')"
	case $tool in mastfs*) rec "$tool" "${metric}_fetched_per_byte" "$(awk -v a=$m -v b=$bytes 'BEGIN { printf "%.4f", a / b }')" ;; esac
	log "  $tool $metric: $(mbps $bytes $((t1 - t0))) MB/s, wire $(awk -v a=$w -v b=$bytes 'BEGIN { printf "%.3f", a / b }') B/B"
}

# fio_rand TOOL METRIC FILE JOBS [IOS]: 64 KiB random reads (RAND_IOS in all).
fio_rand() {
	local tool=$1 metric=$2 file=$3 jobs=$4 ios=${5:-$RAND_IOS}
	local w0 m0 json=$WORK/logs/fio-$tool-$metric-$MNT_SEQ.json
	w0=$(wire) m0=$(mfs_fetched)
	fio --name=rr --filename="$file" --readonly --rw=randread --bs=64k \
		--io_size=$((ios / jobs * 64))k --ioengine=psync --invalidate=1 --randrepeat=1 \
		--numjobs="$jobs" --thread --group_reporting --output-format=json --output="$json" >/dev/null ||
		die "$tool: fio failed"
	local w=$(($(wire) - w0)) m=$(($(mfs_fetched) - m0))
	read -r iops p50 p99 io <<<"$($PY -c '
import json, sys
j = json.load(open(sys.argv[1]))["jobs"][0]["read"]
p = j["clat_ns"]["percentile"]
print("%.1f %.1f %.1f %d" % (j["iops"], p["50.000000"] / 1e3, p["99.000000"] / 1e3, j["io_bytes"]))' "$json")"
	rec "$tool" "${metric}_iops" "$iops"
	rec "$tool" "${metric}_p50_us" "$p50"
	rec "$tool" "${metric}_p99_us" "$p99"
	rec "$tool" "${metric}_wire_per_byte" "$(awk -v a=$w -v b=$io 'BEGIN { printf "%.4f", a / b }')"
	case $tool in mastfs*) rec "$tool" "${metric}_fetched_per_byte" "$(awk -v a=$m -v b=$io 'BEGIN { printf "%.4f", a / b }')" ;; esac
	log "  $tool $metric: $iops IOPS, p50 $p50 us, p99 $p99 us, wire $(awk -v a=$w -v b=$io 'BEGIN { printf "%.2f", a / b }') B/B"
}

# ttfb TOOL FILE...: open + first byte of each (cold) file, in ms.
ttfb() {
	local tool=$1 v
	shift
	for v in $($PY -c '
import os, sys, time
for p in sys.argv[1:]:
    t = time.perf_counter()
    fd = os.open(p, os.O_RDONLY)
    os.read(fd, 1)
    print("%.3f" % ((time.perf_counter() - t) * 1e3))
    os.close(fd)' "$@"); do
		rec "$tool" ttfb_ms "$v"
	done
}

# ---------------------------------------------------------------- servers
port_free "$S3_PORT" || die "port $S3_PORT is in use (set S3_PORT)"
port_free "$EMU_PORT" || die "port $EMU_PORT is in use (set EMU_PORT)"

log "building mastfs and the emulator"
(cd "$REPO" && go build -o "$WORK/mastfs" ./cmd/mastfs && go build -o "$WORK/mastemu" ./cmd/mastemu)

log "generating the FITS file"
mkdir -p "$WORK/fits"
$PY "$REPO/bench/make_fits.py" "$WORK/fits" >/dev/null
FITS_LOCAL=$WORK/fits/idtest01q_drz.fits
FITS_NAME=idtest01q_drz.fits

start_s3 "$S3_PORT" "$VGW_ROOT" "$WORK/logs/versitygw.log"

EMU_ARGS=(--obsid "$OBSID" --big "$BIG" --rand "$RAND" --files "$NFILES" --file-size "$FILE_SIZE" --fits "$FITS_LOCAL")
log "uploading the benchmark products (the emulator's exact bytes) into s3://stpubdata"
upload_products "$WORK/mastemu" "$WORK"
SEQ_KEY=$(awk -F'\t' '$1 ~ /_bench_seq\.fits$/ { print $1 }' "$WORK/manifest.tsv")
KEYDIR=$(dirname "$SEQ_KEY")
SEQ_NAME=$(basename "$SEQ_KEY")
RAND_NAME=${SEQ_NAME/_seq/_rand}
NAMES=()
for i in $(seq 0 $((NFILES - 1))); do NAMES+=("$(printf '%s_bench_%02d.fits' "${SEQ_NAME%%_*}" "$i")"); done

start_emulator "$WORK/mastemu" "$EMU_PORT" "$WORK/logs/mastemu.log"

if [ "$SERVE" = 1 ]; then
	cat <<EOF
versitygw: $S3 (bucket stpubdata, objects under $KEYDIR/)
emulator:  http://127.0.0.1:$EMU_PORT (counters: /_mastemu/stats)
mastfs:    $WORK/mastfs mount --mast-url http://127.0.0.1:$EMU_PORT --resolver-url http://127.0.0.1:$EMU_PORT/Santa-war/query --cloud $CLOUD --s3-endpoint $S3 MNT
           files: MNT/obsid/$OBSID/{$SEQ_NAME,${NAMES[0]},...,$FITS_NAME}
Press Ctrl-C to stop the servers.
EOF
	wait "$VGW_PID"
	exit 0
fi

# ---------------------------------------------------------------- machine
{
	rec meta date "$(date -u +%FT%TZ)"
	rec meta cpus "$(nproc)"
	rec meta cpu_model "$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
	rec meta mem_gib "$(awk '/MemTotal/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)"
	rec meta kernel "$(uname -r)"
	rec meta os "$(. /etc/os-release && echo "$PRETTY_NAME")"
	rec meta virt "$(grep -qw hypervisor /proc/cpuinfo && echo "virtual machine ($(dmesg 2>/dev/null | sed -n 's/.*Hypervisor detected: //p' | head -1))" || echo "bare metal")"
	rec meta loadavg "$(cut -d' ' -f1-3 /proc/loadavg)"
	rec meta go "$(go version | awk '{ print $3 }')"
	rec meta mastfs_commit "$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$REPO" diff --quiet HEAD -- cmd fs cache cloud mast 2>/dev/null || echo +dirty)"
	rec meta versitygw "v1.8.0"
	rec meta rclone "$(rclone version 2>/dev/null | head -1 | awk '{ print $2 }')"
	rec meta s3fs "$(s3fs --version 2>/dev/null | head -1 | sed -n 's/.*System V\([0-9.]*\).*/\1/p')"
	rec meta fio "$(fio --version)"
	rec meta curl "$(curl --version | head -1 | awk '{ print $2 }')"
	rec meta cloud "$CLOUD"
	rec meta reps "$REPS"
}

# ---------------------------------------------------------------- curl
log "curl: direct GETs to versitygw"
URL=$S3/stpubdata/$KEYDIR
for r in $(seq "$REPS"); do
	read -r sz secs <<<"$(curl -fsS -o /dev/null -w '%{size_download} %{time_total}' "$URL/$SEQ_NAME")"
	rec curl cold_mbps "$(awk -v b="$sz" -v s="$secs" 'BEGIN { printf "%.0f", b / s / 1e6 }')"
done
rec curl cold_wire_per_byte 1
for i in 0 1 2 3 4; do
	rec curl ttfb_ms "$(curl -fsS -o /dev/null -r 0-0 -w '%{time_starttransfer}' "$URL/${NAMES[$i]}" | awk '{ printf "%.3f", $1 * 1e3 }')"
done
# 64 KiB range GETs at the offsets fio uses (64 KiB aligned), one
# keep-alive connection per stream: QD1 is 1 stream, QD8 is 8.
curl_ranges() { # streams
	local n=$1 s pids=() t0 t1
	for s in $(seq "$n"); do
		$PY -c '
import random, sys
n, seed, url, blocks = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
r = random.Random(seed)
for i in range(n):
    o = r.randrange(blocks) * 65536
    if i:
        print("next")
    print("url = \"%s\"\nrange = \"%d-%d\"\noutput = \"/dev/null\"" % (url, o, o + 65535))
    print("write-out = \"%{time_total}\\n\"")' $((RAND_IOS / n)) "$s" "$URL/$RAND_NAME" $((RAND_BYTES / 65536)) >"$WORK/ranges-$n-$s.cfg"
	done
	t0=$(t_ns)
	for s in $(seq "$n"); do
		curl -fsS --config "$WORK/ranges-$n-$s.cfg" >"$WORK/ranges-$n-$s.out" &
		pids+=($!)
	done
	for s in "${pids[@]}"; do wait "$s" || die "curl range GETs failed"; done
	t1=$(t_ns)
	cat "$WORK"/ranges-$n-*.out | sort -n | awk -v ns=$((t1 - t0)) -v m="qd$n" '
		{ v[NR] = $1 }
		END { printf "%s %.1f %.1f %.1f\n", m, NR / (ns / 1e9), v[int(NR * 0.5 + 0.5)] * 1e6, v[int(NR * 0.99 + 0.5)] * 1e6 }'
}
for n in 1 8; do
	read -r m iops p50 p99 <<<"$(curl_ranges $n)"
	rec curl "rand_${m}_iops" "$iops"
	rec curl "rand_${m}_p50_us" "$p50"
	rec curl "rand_${m}_p99_us" "$p99"
	rec curl "rand_${m}_wire_per_byte" 1
	log "  curl rand_$m: $iops IOPS, p50 $p50 us, p99 $p99 us"
done
for par in 4 16; do
	t0=$(t_ns)
	pids=()
	for i in $(seq 0 $((par - 1))); do
		curl -fsS -o /dev/null "$URL/${NAMES[$i]}" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || die "parallel curl failed"; done
	rec curl "par${par}_mbps" "$(mbps $((par * FILE_BYTES)) $(($(t_ns) - t0)))"
done
log "  curl cold: $(awk -F'\t' '$1 == "curl" && $2 == "cold_mbps" { printf "%s ", $3 }' "$RAW")MB/s"

# Local fitsheader: the cost of python and astropy alone.
t0=$(t_ns)
fitsheader "$FITS_LOCAL" | sed 's#in .*idtest01q_drz.fits#in FILE#' >"$WORK/fitsheader-local.txt"
rec local fitsheader_ms "$(awk -v ns=$(($(t_ns) - t0)) 'BEGIN { printf "%.0f", ns / 1e6 }')"

# ---------------------------------------------------------------- mounts
run_tool() { # TOOL
	local tool=$1 r i f
	log "$tool"
	# Cold sequential read of 256 MiB, REPS fresh mounts; open+first byte of
	# five cold files on the first; warm re-reads (new opens) on the last.
	for r in $(seq "$REPS"); do
		fresh "$tool"
		if [ "$r" = 1 ]; then
			ttfb "$tool" $(for i in 0 1 2 3 4; do fpath "$tool" "${NAMES[$i]}"; done)
			drop
		fi
		measure_read "$tool" cold "$(fpath "$tool" "$SEQ_NAME")"
		[ "$r" = "$REPS" ] || umount_tool
	done
	f=$(fpath "$tool" "$SEQ_NAME")
	hyperfine -N --runs 3 --export-json "$WORK/logs/warm-$tool.json" "dd if=$f of=/dev/null bs=1M" >/dev/null 2>&1 ||
		die "$tool: warm re-read failed"
	rec "$tool" warm_mbps "$($PY -c '
import json, sys
print("%.0f" % (int(sys.argv[2]) / json.load(open(sys.argv[1]))["results"][0]["median"] / 1e6))' "$WORK/logs/warm-$tool.json" $BIG_BYTES)"
	log "  $tool warm: $(awk -F'\t' -v t="$tool" '$1 == t && $2 == "warm_mbps" { print $3 }' "$RAW") MB/s"
	umount_tool

	# Random 64 KiB reads, QD1 and 8 threads.
	fresh "$tool"
	fio_rand "$tool" rand_qd1 "$(fpath "$tool" "$RAND_NAME")" 1
	umount_tool
	fresh "$tool"
	fio_rand "$tool" rand_qd8 "$(fpath "$tool" "$RAND_NAME")" 8
	umount_tool

	# 4 parallel readers of distinct 64 MiB files.
	fresh "$tool"
	measure_read "$tool" par4 $(for i in 0 1 2 3; do fpath "$tool" "${NAMES[$i]}"; done)
	umount_tool

	# fitsheader of the FITS file (every HDU's header), then 2880 bytes of
	# the 256 MiB product: wall time and bytes fetched.
	fresh "$tool"
	local w0 m0 t0
	w0=$(wire) m0=$(mfs_fetched) t0=$(t_ns)
	if fitsheader "$(fpath "$tool" "$FITS_NAME")" 2>"$WORK/logs/fitsheader-$tool.err" |
		sed 's#in .*idtest01q_drz.fits#in FILE#' >"$WORK/fitsheader-$tool.txt"; then
		rec "$tool" fitsheader_ms "$(awk -v ns=$(($(t_ns) - t0)) 'BEGIN { printf "%.0f", ns / 1e6 }')"
		rec "$tool" fitsheader_wire_bytes $(($(wire) - w0))
		case $tool in mastfs*) rec "$tool" fitsheader_fetched_bytes $(($(mfs_fetched) - m0)) ;; esac
		cmp -s "$WORK/fitsheader-local.txt" "$WORK/fitsheader-$tool.txt" && rec "$tool" fitsheader_same 1 || rec "$tool" fitsheader_same 0
	else
		log "  $tool: fitsheader failed: $(head -c 300 "$WORK/logs/fitsheader-$tool.err")"
	fi
	w0=$(wire) m0=$(mfs_fetched)
	head -c 2880 "$(fpath "$tool" "$SEQ_NAME")" >/dev/null
	rec "$tool" head2880_wire_bytes $(($(wire) - w0))
	case $tool in mastfs*) rec "$tool" head2880_fetched_bytes $(($(mfs_fetched) - m0)) ;; esac
	umount_tool

	# 16 parallel readers of distinct files: peak RSS of the daemon (mastfs
	# at --cache-size 256MiB).
	if [ "$tool" = mastfs ]; then fresh "$tool" --cache-size "$RSS_CACHE"; else fresh "$tool"; fi
	measure_read "$tool" par16 $(for i in $(seq 0 $((NFILES - 1))); do fpath "$tool" "${NAMES[$i]}"; done)
	rec "$tool" par16_peak_rss_mib "$(awk '/VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$MNT_PID/status")"
	log "  $tool peak RSS, 16 readers: $(awk -F'\t' -v t="$tool" '$1 == t && $2 == "par16_peak_rss_mib" { print $3 }' "$RAW") MiB"
	umount_tool
}

for tool in mastfs rclone-off rclone-full s3fs; do
	run_tool "$tool"
done

# ---------------------------------------------------------------- sweep
# mastfs only: --block-size (cold sequential, random QD1, and the bytes a
# 2880-byte read moves), then the kernel's readahead (read_ahead_kb of the
# mount's bdi; the kernel leaves it at 128 KiB whatever max_readahead
# mastfs asks for) at the default block size, then GOMEMLIMIT.
if [ "$SWEEP" = 1 ]; then
	for bs in 128KiB 256KiB 1MiB 4MiB; do
		t="mastfs-bs$bs"
		log "$t"
		for r in 1 2; do
			fresh mastfs --block-size "$bs"
			MNT_TOOL=$t
			measure_read "$t" cold "$(fpath mastfs "$SEQ_NAME")"
			umount_tool
		done
		fresh mastfs --block-size "$bs"
		MNT_TOOL=$t
		m0=$(mfs_fetched)
		head -c 2880 "$(fpath mastfs "$SEQ_NAME")" >/dev/null
		rec "$t" head2880_fetched_bytes $(($(mfs_fetched) - m0))
		fio_rand "$t" rand_qd1 "$(fpath mastfs "$RAND_NAME")" 1 "$SWEEP_RAND_IOS"
		umount_tool
	done
	for ra in 1024 4096; do
		t="mastfs-ra${ra}k"
		log "$t"
		for r in 1 2; do
			mount_tool mastfs
			MNT_TOOL=$t
			echo "$ra" >"/sys/class/bdi/$(mountpoint -d "$MNT_DIR")/read_ahead_kb"
			drop
			measure_read "$t" cold "$(fpath mastfs "$SEQ_NAME")"
			umount_tool
		done
		mount_tool mastfs
		MNT_TOOL=$t
		echo "$ra" >"/sys/class/bdi/$(mountpoint -d "$MNT_DIR")/read_ahead_kb"
		drop
		m0=$(mfs_fetched)
		fitsheader "$(fpath mastfs "$FITS_NAME")" >/dev/null
		rec "$t" fitsheader_fetched_bytes $(($(mfs_fetched) - m0))
		umount_tool
	done
	# The RSS test again with a Go soft memory limit of cache + 124 MiB.
	t=mastfs-gomemlimit
	log "$t"
	MASTFS_ENV=(GOMEMLIMIT=380MiB)
	fresh mastfs --cache-size "$RSS_CACHE"
	MASTFS_ENV=()
	MNT_TOOL=$t
	measure_read "$t" par16 $(for i in $(seq 0 $((NFILES - 1))); do fpath mastfs "${NAMES[$i]}"; done)
	rec "$t" par16_peak_rss_mib "$(awk '/VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$MNT_PID/status")"
	umount_tool
fi

rec meta total_s $((($(t_ns) - START_NS) / 1000000000))
rec meta loadavg_end "$(cut -d' ' -f1-3 /proc/loadavg)"
log "report"
cp "$RAW" "$OUT/raw.tsv"
$PY "$REPO/bench/report.py" "$OUT/raw.tsv" "$OUT"
