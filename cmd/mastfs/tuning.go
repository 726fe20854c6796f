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

// memoryHeadroom is what the daemon may use beyond --cache-size (listings,
// buffers in flight, the Go runtime).
const memoryHeadroom = 128 << 20

// limitMemory sets the Go soft memory limit to --cache-size plus headroom,
// unless GOMEMLIMIT says otherwise: evicted blocks are garbage until the
// collector runs, and without a limit the heap grew to ~2.3x the cache in
// the benchmark (docs/benchmarks.md).
func limitMemory(cacheSize int64, log *slog.Logger) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(cacheSize + memoryHeadroom)
	log.Debug("memory limit set", "bytes", cacheSize+memoryHeadroom)
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
