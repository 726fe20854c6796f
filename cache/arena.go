package cache

import (
	"sync"

	"golang.org/x/sys/unix"
)

// slabBytes is the size of one mapping the arena carves block buffers
// from: a multiple of the 2 MiB huge page.
const slabBytes = 32 << 20

// arena hands out block buffers and takes them back for reuse.
//
// Why not make([]byte): every fresh buffer is first-touched memory, and on
// the VMs mastfs was measured on a first touch costs 13-24 µs per 4 KiB
// page, about 1 s of CPU per 256 MiB read (docs/benchmarks.md §5). The
// arena maps slabs with MADV_HUGEPAGE (512 times fewer faults) and keeps
// freed buffers on a free list, so a streaming read reuses warm memory and
// makes no garbage for the GC. Slabs are never unmapped (no buffer can be
// freed under a reader); the arena stops mapping at limit bytes and then
// falls back to the Go heap, so a burst of readers holding evicted blocks
// cannot grow it without bound.
type arena struct {
	blockSize int

	mu     sync.Mutex
	free   [][]byte
	slab   []byte // the unused tail of the newest slab
	mapped int64
	limit  int64
}

func newArena(blockSize int, limit int64) *arena {
	return &arena{blockSize: blockSize, limit: limit}
}

// get returns a buffer of blockSize bytes (contents undefined) and whether
// it belongs to the arena (put only those back).
func (a *arena) get() ([]byte, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if n := len(a.free); n > 0 {
		b := a.free[n-1]
		a.free[n-1] = nil
		a.free = a.free[:n-1]
		return b, true
	}
	if len(a.slab) < a.blockSize && !a.mapSlab() {
		return make([]byte, a.blockSize), false
	}
	b := a.slab[:a.blockSize:a.blockSize]
	a.slab = a.slab[a.blockSize:]
	return b, true
}

// mapSlab maps a new slab; false when over the limit or mmap fails.
func (a *arena) mapSlab() bool {
	size := max(slabBytes/a.blockSize, 1) * a.blockSize
	if a.mapped+int64(size) > a.limit {
		return false
	}
	m, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return false
	}
	_ = unix.Madvise(m, unix.MADV_HUGEPAGE) // best effort: THP may be off
	a.mapped += int64(size)
	a.slab = m
	return true
}

// put returns a buffer from get to the free list.
func (a *arena) put(b []byte) {
	a.mu.Lock()
	a.free = append(a.free, b[:a.blockSize:a.blockSize])
	a.mu.Unlock()
}

// release gives the memory of free buffers back to the kernel (they stay
// mapped and usable; the next touch faults in zero pages). Used when the
// cache is dropped, so that SIGHUP frees memory, not just entries.
func (a *arena) release() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, b := range a.free {
		_ = unix.Madvise(b, unix.MADV_DONTNEED)
	}
}

// mappedBytes is the arena's total mapping.
func (a *arena) mappedBytes() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.mapped
}
