# bench/servers.sh: the servers the benchmarks read from, sourced by
# bench/run.sh and bench/rss64.sh (which define die, log and the PIDS array).
#
#   start_s3 PORT ROOT LOG    versitygw on 127.0.0.1:PORT over ROOT (tmpfs), with the
#                             public-read bucket stpubdata; sets S3, SIGN, VGW_PID
#   upload_products EMU DIR   exports EMU's products (mastemu --export, the exact bytes it
#                             serves) with EMU_ARGS, uploads each to s3://stpubdata and checks
#                             its size; leaves the manifest in DIR/manifest.tsv
#   start_emulator EMU PORT LOG   the MAST emulator with EMU_ARGS on 127.0.0.1:PORT

AK=mastfs-bench-admin
SK=mastfs-bench-admin-secret

wait_http() { # url: up to 10 s for a server to answer
	local i
	for i in $(seq 200); do
		curl -s -o /dev/null --max-time 1 "$1" && return 0
		sleep 0.05
	done
	die "$1 does not answer"
}

port_free() { ! curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/"; }

start_s3() {
	local port=$1 root=$2 logfile=$3
	log "starting versitygw on 127.0.0.1:$port (objects on tmpfs: $root)"
	ROOT_ACCESS_KEY_ID=$AK ROOT_SECRET_ACCESS_KEY=$SK \
		versitygw --port "127.0.0.1:$port" --keep-alive --quiet posix "$root" >"$logfile" 2>&1 &
	VGW_PID=$!
	PIDS+=("$VGW_PID")
	wait_http "http://127.0.0.1:$port/"
	S3=http://127.0.0.1:$port
	SIGN=(--aws-sigv4 aws:amz:us-east-1:s3 -u "$AK:$SK" -H x-amz-content-sha256:UNSIGNED-PAYLOAD)
	curl -fsS "${SIGN[@]}" -X PUT "$S3/stpubdata" >/dev/null
	local policy='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::stpubdata","arn:aws:s3:::stpubdata/*"]}]}'
	printf '%s' "$policy" | curl -fsS "${SIGN[@]}" -X PUT -T - "$S3/stpubdata?policy=" >/dev/null
}

upload_products() {
	local emu=$1 dir=$2 key size uri rel got
	"$emu" "${EMU_ARGS[@]}" --export "$dir/export" >"$dir/manifest.tsv"
	while IFS=$'\t' read -r key size uri rel; do
		curl -fsS "${SIGN[@]}" -H "Content-Type: application/fits" -T "$dir/export/$key" "$S3/stpubdata/$key" >/dev/null
		got=$(curl -fsSI "$S3/stpubdata/$key" | tr -d '\r' | awk 'tolower($1) == "content-length:" { print $2 }')
		[ "$got" = "$size" ] || die "upload of $key: $got bytes, want $size"
		rm -f "$dir/export/$key"
	done <"$dir/manifest.tsv"
	rm -rf "$dir/export"
}

start_emulator() {
	local emu=$1 port=$2 logfile=$3
	log "starting the MAST emulator on 127.0.0.1:$port"
	"$emu" --addr "127.0.0.1:$port" "${EMU_ARGS[@]}" 2>"$logfile" &
	PIDS+=("$!")
	wait_http "http://127.0.0.1:$port/_mastemu/stats"
}
