package cache

import "sync/atomic"

// block is one fetched block. Its buffer is shared by the cache and by the
// readers copying out of it, and goes back to the arena when the last of
// them lets go: a reference count, not the cache's eviction, decides when
// the memory may be reused, so an evicted block is never overwritten under
// a reader.
//
// A block struct is never reused: once refs reaches zero it stays there,
// so tryRef on a stale pointer (read from the cache just before eviction)
// fails instead of resurrecting recycled memory.
type block struct {
	data  []byte
	refs  atomic.Int32
	arena *arena // nil: heap memory, left to the GC
}

// tryRef takes a reference unless the block is already released.
func (b *block) tryRef() bool {
	for {
		r := b.refs.Load()
		if r <= 0 {
			return false
		}
		if b.refs.CompareAndSwap(r, r+1) {
			return true
		}
	}
}

// unref drops a reference; the last one recycles the buffer.
func (b *block) unref() {
	switch r := b.refs.Add(-1); {
	case r == 0:
		if b.arena != nil {
			b.arena.put(b.data[:cap(b.data)])
		}
		b.data = nil
	case r < 0:
		panic("cache: block released twice")
	}
}
