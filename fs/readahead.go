package fs

import "sync"

// Readahead limits, in blocks. The window starts at one block after two
// sequential reads and doubles on every sequential read up to the cap; a
// random read closes it. With 256 KiB blocks the cap keeps up to 8 MiB in
// flight per open file (bounded globally by the cache's in-flight budget).
const (
	readaheadStartAfter = 2
	readaheadMaxBlocks  = 32
)

// readahead detects sequential access on one open file and says which
// blocks to fetch ahead. It tolerates the kernel's reordering of parallel
// reads: a read near the expected offset (within two blocks either way)
// still counts as sequential.
type readahead struct {
	mu      sync.Mutex
	next    int64 // offset just past the previous read
	seq     int   // consecutive sequential reads
	run     int64 // bytes read in the current sequential run
	window  int64 // blocks to keep ahead
	started bool
}

// observe records a read of n bytes at off and returns the first block and
// the number of blocks to prefetch (count 0: none). random reports a read
// that does not continue the previous one (nor starts the file): it is
// served without caching whole blocks (cache.ReadAtDirect).
func (r *readahead) observe(off, n, blockSize, size int64) (first, count int64, random bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	near := r.started && off >= r.next-2*blockSize && off <= r.next+2*blockSize
	r.started = true
	if off+n > r.next || !near {
		r.next = off + n
	}
	if !near && off != 0 {
		r.seq, r.window, r.run = 0, 0, 0
		return 0, 0, true
	}
	r.seq++
	r.run += n
	if r.seq < readaheadStartAfter {
		return 0, 0, false
	}
	switch {
	case r.window == 0:
		r.window = 1
	case r.window < readaheadMaxBlocks:
		r.window *= 2
	}
	// Never fetch ahead more than has been read in this run: a reader
	// that walks FITS headers in small steps must not pull megabytes of
	// image data it will seek past (the kernel's readahead grows the
	// same way).
	r.window = min(r.window, readaheadMaxBlocks, max(1, r.run/blockSize))
	first = (off + n + blockSize - 1) / blockSize
	last := (size - 1) / blockSize
	if first > last {
		return 0, 0, false
	}
	count = min(r.window, last-first+1)
	return first, count, false
}
