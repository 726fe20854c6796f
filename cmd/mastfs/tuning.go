package main

import (
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
)

// heapLimit is the Go soft memory limit of the daemon. The Go heap holds
// listings, go-fuse's request buffers (one of up to 1 MiB per READ in
// flight) and the HTTP clients' buffers; block memory is not in it: the
// block cache maps its own arena, bounded by --cache-size. So the daemon's
// RSS is about --cache-size plus this. Without a limit, GOGC lets the heap
// grow to twice its live size, and sync.Pool keeps go-fuse's buffers of
// past bursts for two GC cycles: the soak measured a 350 MiB heap next to a
// 256 MiB cache (docs/reliability.md).
const heapLimit = 128 << 20

// limitMemory sets the Go soft memory limit to heapLimit, unless
// GOMEMLIMIT says otherwise.
func limitMemory(log *slog.Logger) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(heapLimit)
	log.Debug("Go memory limit set", "bytes", heapLimit)
}

// raiseKernelReadahead asks the kernel to read ahead up to kb KiB on this
// mount: FUSE mounts start at 128 KiB whatever max_readahead the daemon
// negotiates, which cut every sequential stream into 128 KiB requests.
// Best effort: it needs root, and a failure only costs speed.
func raiseKernelReadahead(mountpoint string, kb int, log *slog.Logger) {
	var st syscall.Stat_t
	if err := syscall.Stat(mountpoint, &st); err != nil {
		return
	}
	major := (st.Dev >> 8) & 0xfff
	minor := (st.Dev & 0xff) | ((st.Dev >> 12) & 0xfff00)
	p := fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", major, minor)
	cur, err := os.ReadFile(p)
	if err != nil {
		return
	}
	if n, err := strconv.Atoi(strings.TrimSpace(string(cur))); err == nil && n >= kb {
		return
	}
	if err := os.WriteFile(p, []byte(strconv.Itoa(kb)), 0o644); err != nil {
		log.Debug("kernel readahead unchanged", "path", p, "err", err)
		return
	}
	log.Debug("kernel readahead raised", "path", p, "kb", kb)
}
