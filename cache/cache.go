package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/ristretto/v2"
)

// DefaultBlockSize is the block size used when Config.BlockSize is zero.
const DefaultBlockSize = 256 << 10

// DefaultSpanBytes is how many bytes one prefetch request may cover when
// Config.SpanBytes is zero (see Prefetch).
const DefaultSpanBytes = 2 << 20

// Config sizes a Cache.
type Config struct {
	// MaxBytes bounds cached blocks and blocks being fetched together.
	MaxBytes int64
	// BlockSize is the unit of fetching and caching.
	BlockSize int
	// SpanBytes bounds one multi-block prefetch request (Object.FetchBlocks).
	SpanBytes int
	// FetchTimeout bounds one shared block fetch (detached from readers).
	FetchTimeout time.Duration
}

// Object is one readable thing: its identity, its size, and how to fetch a range.
type Object struct {
	// Key identifies the exact bytes (e.g. URI + size + ETag).
	Key string
	// Size is the object's length in bytes.
	Size int64
	// Fetch fills p with the bytes at off. It must return len(p) bytes or an
	// error; a short read is an error.
	Fetch func(ctx context.Context, p []byte, off int64) (int, error)
	// FetchBlocks, when set, fills consecutive buffers (bufs[i] holds the
	// bytes at off + i*BlockSize) with one request, calling filled(i) as
	// soon as bufs[i] is complete and correct, in order. It returns nil
	// when every buffer was filled; buffers it did not fill are fetched
	// again one by one with Fetch.
	FetchBlocks func(ctx context.Context, off int64, bufs [][]byte, filled func(i int)) error
}

// Stats are cumulative counters.
type Stats struct {
	Hits, Misses   int64 // block lookups
	Fetches        int64 // backend fetches started (a multi-block span counts once)
	FetchErrors    int64
	BytesFetched   int64 // blocks and direct reads
	BytesInFlight  int64
	BytesCached    int64
	BudgetWaits    int64
	MaxBytesBudget int64
	// DirectReads are reads served by fetching just the asked range,
	// without caching (ReadAtDirect on blocks nobody cached).
	DirectReads int64
	// SetsRejected and KeysEvicted are the cache policy's: blocks refused
	// admission and blocks evicted to make room.
	SetsRejected, KeysEvicted int64
	// ArenaBytes is the memory mapped for block buffers.
	ArenaBytes int64
}

// Cache is a block cache. It is safe for concurrent use.
type Cache struct {
	cfg    Config
	blocks *ristretto.Cache[string, *block]
	arena  *arena

	mu       sync.Mutex
	inflight map[string]*call
	budget   *budget

	// closing guards blocks against Close while a background fetch
	// publishes into it (fetches may outlive the mount's last reader).
	closing sync.RWMutex
	closed  bool

	hits, misses, fetches, fetchErrors, bytesFetched, budgetWaits, directReads atomic.Int64
}

// call is one block being fetched. Readers that join it are counted in
// waiters; when the block arrives each of them is handed one reference.
type call struct {
	done    chan struct{}
	blk     *block
	err     error
	waiters int // guarded by Cache.mu until done is closed
}

// New builds a cache.
func New(cfg Config) (*Cache, error) {
	if cfg.BlockSize <= 0 {
		cfg.BlockSize = DefaultBlockSize
	}
	if cfg.MaxBytes < int64(cfg.BlockSize) {
		return nil, fmt.Errorf("cache: budget %d is smaller than one block (%d)", cfg.MaxBytes, cfg.BlockSize)
	}
	if cfg.SpanBytes <= 0 {
		cfg.SpanBytes = DefaultSpanBytes
	}
	if cfg.FetchTimeout <= 0 {
		cfg.FetchTimeout = 2 * time.Minute
	}
	// Cached blocks get the budget less room for in-flight blocks, so that the
	// sum never exceeds MaxBytes: in-flight may use up to a quarter (at least
	// one block).
	inflightMax := cfg.MaxBytes / 4
	if inflightMax < int64(cfg.BlockSize) {
		inflightMax = int64(cfg.BlockSize)
	}
	cachedMax := cfg.MaxBytes - inflightMax
	if cachedMax < 1 {
		cachedMax = 1
	}
	counters := cachedMax / int64(cfg.BlockSize) * 10
	if counters < 1000 {
		counters = 1000
	}
	rc, err := ristretto.NewCache(&ristretto.Config[string, *block]{
		NumCounters:        counters,
		MaxCost:            cachedMax,
		BufferItems:        64,
		IgnoreInternalCost: true,
		Metrics:            true,
		// The cache's reference goes when the block leaves: evicted,
		// rejected by the admission policy, replaced or cleared.
		OnExit: func(b *block) {
			if b != nil {
				b.unref()
			}
		},
	})
	if err != nil {
		return nil, err
	}
	// Buffers held by readers after eviction are outside the budget; a
	// slab of slack covers them before the arena falls back to the heap.
	ar := newArena(cfg.BlockSize, cfg.MaxBytes+slabBytes)
	return &Cache{cfg: cfg, blocks: rc, arena: ar, inflight: map[string]*call{}, budget: newBudget(inflightMax)}, nil
}

// BlockSize reports the configured block size.
func (c *Cache) BlockSize() int { return c.cfg.BlockSize }

// Close releases the cache's background goroutines. Fetches still running
// finish without caching what they fetched.
func (c *Cache) Close() {
	c.closing.Lock()
	defer c.closing.Unlock()
	if !c.closed {
		c.closed = true
		c.blocks.Close()
	}
}

// Clear drops every cached block and gives their memory back.
func (c *Cache) Clear() {
	c.closing.RLock()
	defer c.closing.RUnlock()
	if !c.closed {
		c.blocks.Clear()
		c.arena.release()
	}
}

// Stats returns a snapshot of the counters.
func (c *Cache) Stats() Stats {
	m := c.blocks.Metrics
	var cached, rejected, evicted int64
	if m != nil {
		cached = int64(m.CostAdded()) - int64(m.CostEvicted())
		rejected, evicted = int64(m.SetsRejected()), int64(m.KeysEvicted())
	}
	return Stats{
		Hits: c.hits.Load(), Misses: c.misses.Load(), Fetches: c.fetches.Load(),
		FetchErrors: c.fetchErrors.Load(), BytesFetched: c.bytesFetched.Load(),
		BytesInFlight: c.budget.used(), BytesCached: cached, BudgetWaits: c.budgetWaits.Load(),
		MaxBytesBudget: c.cfg.MaxBytes, DirectReads: c.directReads.Load(),
		SetsRejected: rejected, KeysEvicted: evicted, ArenaBytes: c.arena.mappedBytes(),
	}
}

func blockKey(objKey string, idx int64) string {
	return objKey + "\x00" + strconv.FormatInt(idx, 10)
}

// ReadAt reads len(p) bytes at off from obj through the cache. It returns
// io.EOF when the read reaches the end of the object.
func (c *Cache) ReadAt(ctx context.Context, obj Object, p []byte, off int64) (int, error) {
	return c.readAt(ctx, obj, p, off, Cached)
}

// ReadAtDirect is ReadAt for random access: blocks that are cached or
// being fetched are used, but a range nobody has is fetched as exactly the
// bytes asked for, straight into p, and not cached. A random 64 KiB read
// then costs one 64 KiB request instead of a whole block (the kernel's
// page cache keeps what was read).
func (c *Cache) ReadAtDirect(ctx context.Context, obj Object, p []byte, off int64) (int, error) {
	return c.readAt(ctx, obj, p, off, Direct)
}

func (c *Cache) readAt(ctx context.Context, obj Object, p []byte, off int64, mode Mode) (int, error) {
	pin, err := c.Pin(ctx, obj, p, off, mode)
	n := 0
	for _, s := range pin.Slices {
		n += copy(p[n:], s) // a direct range is p itself: copying it is a no-op
	}
	pin.Release()
	return n, err
}

// Pinned is the bytes of one read as slices of cached blocks (and of the
// caller's scratch buffer for ranges fetched directly). The blocks cannot
// be recycled until Release, so the slices may be handed to the kernel
// (writev) without copying them first.
type Pinned struct {
	Slices [][]byte
	Len    int
	blocks []*block
}

// Release lets go of the blocks; the slices must not be used after it.
func (p *Pinned) Release() {
	for _, b := range p.blocks {
		b.unref()
	}
	p.blocks, p.Slices = nil, nil
}

// Mode says how a read uses the cache.
type Mode int

const (
	// Cached reads whole blocks through the cache and keeps them.
	Cached Mode = iota
	// Direct is for random access: ranges nobody has are fetched into the
	// caller's buffer, exactly as asked, and not cached.
	Direct
	// Streaming is for sequential readers: like Cached, but a block the
	// read consumes to its end leaves the cache once the read lets go of
	// it (drop-behind). The kernel's page cache holds what a stream read,
	// so keeping it here too would only fill memory; the freed buffer is
	// reused by the stream's next prefetch, which keeps a stream in warm
	// memory (a first touch of fresh memory costs more than the network
	// on the VMs mastfs was measured on, docs/benchmarks.md).
	Streaming
)

// Pin returns the len(scratch) bytes at off (fewer at the end of obj,
// with io.EOF) without copying cached blocks, using the cache as mode
// says. On error, Pin returns what it pinned before the error; Release it.
func (c *Cache) Pin(ctx context.Context, obj Object, scratch []byte, off int64, mode Mode) (*Pinned, error) {
	pin := &Pinned{}
	if off < 0 {
		return pin, errors.New("cache: negative offset")
	}
	if off >= obj.Size {
		return pin, io.EOF
	}
	bs := int64(c.cfg.BlockSize)
	want := len(scratch)
	for pin.Len < want && off < obj.Size {
		idx := off / bs
		var (
			blk *block
			err error
		)
		if mode == Direct {
			if blk, err = c.lookup(ctx, obj, idx); err != nil {
				return pin, err
			}
			if blk == nil {
				// Fetch the run of blocks nobody has, up to the end of the read.
				end := min(off+int64(want-pin.Len), obj.Size)
				stop := (idx + 1) * bs
				for stop < end && c.missing(obj, stop/bs) {
					stop += bs
				}
				stop = min(stop, end)
				part := scratch[pin.Len : pin.Len+int(stop-off)]
				if err := c.fetchDirect(ctx, obj, part, off); err != nil {
					return pin, err
				}
				pin.Slices = append(pin.Slices, part)
				pin.Len += len(part)
				off += int64(len(part))
				continue
			}
		} else if blk, err = c.block(ctx, obj, idx); err != nil {
			return pin, err
		}
		pin.blocks = append(pin.blocks, blk)
		within := off - idx*bs
		if within >= int64(len(blk.data)) {
			return pin, io.ErrUnexpectedEOF
		}
		end := min(int64(len(blk.data)), within+int64(want-pin.Len))
		part := blk.data[within:end]
		if mode == Streaming && end == int64(len(blk.data)) {
			c.blocks.Del(blockKey(obj.Key, idx))
		}
		pin.Slices = append(pin.Slices, part)
		pin.Len += len(part)
		off += int64(len(part))
	}
	if pin.Len < want {
		return pin, io.EOF
	}
	return pin, nil
}

// missing reports that block idx is neither cached nor in flight, so a
// direct fetch may extend over it.
func (c *Cache) missing(obj Object, idx int64) bool {
	key := blockKey(obj.Key, idx)
	if b, ok := c.blocks.Get(key); ok && b.refs.Load() > 0 {
		return false
	}
	c.mu.Lock()
	_, busy := c.inflight[key]
	c.mu.Unlock()
	return !busy
}

// lookup returns a referenced block idx that is cached or arriving (waiting
// for it), or nil when nobody has it (or its fetch failed).
func (c *Cache) lookup(ctx context.Context, obj Object, idx int64) (*block, error) {
	key := blockKey(obj.Key, idx)
	if b, ok := c.blocks.Get(key); ok && b.tryRef() {
		c.hits.Add(1)
		return b, nil
	}
	c.mu.Lock()
	cl, ok := c.inflight[key]
	if !ok {
		c.mu.Unlock()
		return nil, nil
	}
	cl.waiters++
	c.mu.Unlock()
	c.hits.Add(1)
	select {
	case <-cl.done:
		return cl.blk, nil // nil after a failed fetch: the caller fetches directly
	case <-ctx.Done():
		c.leave(cl)
		return nil, ctx.Err()
	}
}

func (c *Cache) fetchDirect(ctx context.Context, obj Object, p []byte, off int64) error {
	c.directReads.Add(1)
	c.fetches.Add(1)
	n, err := guard(func() (int, error) { return obj.Fetch(ctx, p, off) })
	if err == nil && n != len(p) {
		err = fmt.Errorf("cache: short fetch: %d of %d bytes: %w", n, len(p), io.ErrUnexpectedEOF)
	}
	if err != nil {
		c.fetchErrors.Add(1)
		return err
	}
	c.bytesFetched.Add(int64(n))
	return nil
}

// block returns block idx of obj with a reference the caller must drop,
// fetching it once however many readers ask.
func (c *Cache) block(ctx context.Context, obj Object, idx int64) (*block, error) {
	key := blockKey(obj.Key, idx)
	if b, ok := c.blocks.Get(key); ok && b.tryRef() {
		c.hits.Add(1)
		return b, nil
	}
	c.mu.Lock()
	// Check again under the lock: a fetch may have finished in between.
	if b, ok := c.blocks.Get(key); ok && b.tryRef() {
		c.mu.Unlock()
		c.hits.Add(1)
		return b, nil
	}
	cl, ok := c.inflight[key]
	if !ok {
		cl = &call{done: make(chan struct{}), waiters: 1}
		c.inflight[key] = cl
		c.mu.Unlock()
		c.misses.Add(1)
		go c.fetch(key, obj, idx, cl)
	} else {
		cl.waiters++
		c.mu.Unlock()
		c.hits.Add(1)
	}
	select {
	case <-cl.done:
		return cl.blk, cl.err
	case <-ctx.Done():
		c.leave(cl)
		return nil, ctx.Err()
	}
}

// leave withdraws a waiter that gave up; if the block arrived meanwhile,
// the reference it was handed is dropped.
func (c *Cache) leave(cl *call) {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-cl.done:
		if cl.blk != nil {
			cl.blk.unref()
		}
	default:
		cl.waiters--
	}
}

// Prefetch starts fetching block idx without waiting for it. It returns false
// when the block is cached or already being fetched, or when the in-flight
// budget is full (prefetch never waits for memory).
func (c *Cache) Prefetch(obj Object, idx int64) bool {
	return c.PrefetchRange(obj, idx, 1) > 0
}

// PrefetchRange starts fetching blocks first..first+count-1 that are
// neither cached nor being fetched, as far as the in-flight budget allows
// (prefetch never waits for memory). Runs of consecutive missing blocks
// are fetched with one request per SpanBytes when obj has FetchBlocks.
// It returns the number of blocks started.
func (c *Cache) PrefetchRange(obj Object, first, count int64) int {
	bs := int64(c.cfg.BlockSize)
	last := min(first+count, (obj.Size+bs-1)/bs) // exclusive
	if first < 0 {
		first = 0
	}
	spanMax := max(int64(c.cfg.SpanBytes)/bs, 1)
	if obj.FetchBlocks == nil {
		spanMax = 1
	}
	started := 0
	var run []int64
	flush := func() {
		if len(run) > 0 {
			c.startRun(obj, run)
			run = nil
		}
	}
	for idx := first; idx < last; idx++ {
		key := blockKey(obj.Key, idx)
		if b, ok := c.blocks.Get(key); ok && b.refs.Load() > 0 {
			flush()
			continue
		}
		c.mu.Lock()
		if _, busy := c.inflight[key]; busy {
			c.mu.Unlock()
			flush()
			continue
		}
		if !c.budget.tryAcquire(c.blockLen(obj, idx)) {
			c.mu.Unlock()
			break
		}
		c.inflight[key] = &call{done: make(chan struct{})}
		c.mu.Unlock()
		started++
		run = append(run, idx)
		if int64(len(run)) == spanMax {
			flush()
		}
	}
	flush()
	return started
}

func (c *Cache) blockLen(obj Object, idx int64) int64 {
	bs := int64(c.cfg.BlockSize)
	length := obj.Size - idx*bs
	if length > bs {
		length = bs
	}
	return length
}

func (c *Cache) fetch(key string, obj Object, idx int64, cl *call) {
	length := c.blockLen(obj, idx)
	if !c.budget.tryAcquire(length) {
		c.budgetWaits.Add(1)
		c.budget.acquire(length)
	}
	c.fetchOne(key, obj, idx, cl, length)
}

// newBlock takes a buffer for length bytes; the caller holds the one reference.
func (c *Cache) newBlock(length int64) *block {
	buf, pooled := c.arena.get()
	b := &block{data: buf[:length]}
	if pooled {
		b.arena = c.arena
	}
	b.refs.Store(1)
	return b
}

// fetchOne runs on its own context: the block is shared, so no single
// reader's cancellation may abort it. The budget reserved for it is
// released when it is published.
func (c *Cache) fetchOne(key string, obj Object, idx int64, cl *call, length int64) {
	c.fetches.Add(1)
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.FetchTimeout)
	defer cancel()
	b := c.newBlock(length)
	n, err := guard(func() (int, error) { return obj.Fetch(ctx, b.data, idx*int64(c.cfg.BlockSize)) })
	if err == nil && int64(n) != length {
		err = fmt.Errorf("cache: short fetch: %d of %d bytes: %w", n, length, io.ErrUnexpectedEOF)
	}
	c.publish(key, cl, b, err)
}

// startRun fetches the blocks of run (consecutive indexes, each already
// registered in flight with its budget reserved) in the background.
func (c *Cache) startRun(obj Object, run []int64) {
	run = append([]int64(nil), run...)
	calls := make([]*call, len(run))
	keys := make([]string, len(run))
	c.mu.Lock()
	for i, idx := range run {
		keys[i] = blockKey(obj.Key, idx)
		calls[i] = c.inflight[keys[i]]
	}
	c.mu.Unlock()
	if len(run) == 1 {
		go c.fetchOne(keys[0], obj, run[0], calls[0], c.blockLen(obj, run[0]))
		return
	}
	go func() {
		c.fetches.Add(1)
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.FetchTimeout)
		defer cancel()
		blks := make([]*block, len(run))
		bufs := make([][]byte, len(run))
		for i, idx := range run {
			blks[i] = c.newBlock(c.blockLen(obj, idx))
			bufs[i] = blks[i].data
		}
		next := 0
		_, err := guard(func() (int, error) {
			return 0, obj.FetchBlocks(ctx, run[0]*int64(c.cfg.BlockSize), bufs, func(i int) {
				if i != next {
					return // out of order: not a contract FetchBlocks keeps
				}
				c.publish(keys[i], calls[i], blks[i], nil)
				next++
			})
		})
		if err != nil {
			c.fetchErrors.Add(1)
		}
		// What the span did not deliver is fetched block by block (a
		// broken stream costs one more request per block, not an error).
		for i := next; i < len(run); i++ {
			blks[i].unref()
			c.fetchOne(keys[i], obj, run[i], calls[i], c.blockLen(obj, run[i]))
		}
	}()
}

// publish completes a fetch: the block goes into the cache, every waiter
// gets a reference, and the fetcher's own reference is dropped.
func (c *Cache) publish(key string, cl *call, b *block, err error) {
	length := int64(len(b.data))
	if err != nil {
		c.fetchErrors.Add(1)
		cl.err = err
	} else {
		c.bytesFetched.Add(length)
		cl.blk = b
		c.closing.RLock()
		if !c.closed {
			b.refs.Add(1) // the cache's
			if !c.blocks.Set(key, b, length) {
				b.unref() // dropped under contention: the cache never had it
			}
			// Make the block visible to Get before the in-flight entry goes away.
			c.blocks.Wait()
		}
		c.closing.RUnlock()
	}
	c.mu.Lock()
	delete(c.inflight, key)
	if err == nil && cl.waiters > 0 {
		b.refs.Add(int32(cl.waiters))
	}
	close(cl.done)
	c.mu.Unlock()
	b.unref() // the fetcher's
	c.budget.release(length)
}

// ErrPanic wraps a panic in a fetch function: background fetches run on
// their own goroutines, where a panic would take the whole mount down.
var ErrPanic = errors.New("cache: fetch panicked")

// guard runs fetch, turning a panic into an error wrapping ErrPanic.
func guard(fetch func() (int, error)) (n int, err error) {
	defer func() {
		if r := recover(); r != nil {
			n, err = 0, fmt.Errorf("%w: %v\n%s", ErrPanic, r, debug.Stack())
		}
	}()
	return fetch()
}

// budget is a counting semaphore over bytes.
type budget struct {
	mu   sync.Mutex
	cond *sync.Cond
	max  int64
	cur  int64
}

func newBudget(max int64) *budget {
	b := &budget{max: max}
	b.cond = sync.NewCond(&b.mu)
	return b
}

func (b *budget) tryAcquire(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cur+n > b.max {
		return false
	}
	b.cur += n
	return true
}

func (b *budget) acquire(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.cur+n > b.max && b.cur > 0 {
		b.cond.Wait()
	}
	b.cur += n
}

func (b *budget) release(n int64) {
	b.mu.Lock()
	b.cur -= n
	b.mu.Unlock()
	b.cond.Broadcast()
}

func (b *budget) used() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cur
}
