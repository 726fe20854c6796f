package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/ristretto/v2"
)

// DefaultBlockSize is the block size used when Config.BlockSize is zero.
const DefaultBlockSize = 256 << 10

// Config sizes a Cache.
type Config struct {
	// MaxBytes bounds cached blocks and blocks being fetched together.
	MaxBytes int64
	// BlockSize is the unit of fetching and caching.
	BlockSize int
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
}

// Stats are cumulative counters.
type Stats struct {
	Hits, Misses   int64 // block lookups
	Fetches        int64 // backend fetches started
	FetchErrors    int64
	BytesFetched   int64
	BytesInFlight  int64
	BytesCached    int64
	BudgetWaits    int64
	MaxBytesBudget int64
}

// Cache is a block cache. It is safe for concurrent use.
type Cache struct {
	cfg    Config
	blocks *ristretto.Cache[string, []byte]

	mu       sync.Mutex
	inflight map[string]*call
	budget   *budget

	hits, misses, fetches, fetchErrors, bytesFetched, budgetWaits atomic.Int64
}

type call struct {
	done chan struct{}
	data []byte
	err  error
}

// New builds a cache.
func New(cfg Config) (*Cache, error) {
	if cfg.BlockSize <= 0 {
		cfg.BlockSize = DefaultBlockSize
	}
	if cfg.MaxBytes < int64(cfg.BlockSize) {
		return nil, fmt.Errorf("cache: budget %d is smaller than one block (%d)", cfg.MaxBytes, cfg.BlockSize)
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
	rc, err := ristretto.NewCache(&ristretto.Config[string, []byte]{
		NumCounters:        counters,
		MaxCost:            cachedMax,
		BufferItems:        64,
		IgnoreInternalCost: true,
		Metrics:            true,
	})
	if err != nil {
		return nil, err
	}
	return &Cache{cfg: cfg, blocks: rc, inflight: map[string]*call{}, budget: newBudget(inflightMax)}, nil
}

// BlockSize reports the configured block size.
func (c *Cache) BlockSize() int { return c.cfg.BlockSize }

// Close releases the cache's background goroutines.
func (c *Cache) Close() { c.blocks.Close() }

// Clear drops every cached block.
func (c *Cache) Clear() { c.blocks.Clear() }

// Stats returns a snapshot of the counters.
func (c *Cache) Stats() Stats {
	m := c.blocks.Metrics
	cached := int64(0)
	if m != nil {
		cached = int64(m.CostAdded()) - int64(m.CostEvicted())
	}
	return Stats{
		Hits: c.hits.Load(), Misses: c.misses.Load(), Fetches: c.fetches.Load(),
		FetchErrors: c.fetchErrors.Load(), BytesFetched: c.bytesFetched.Load(),
		BytesInFlight: c.budget.used(), BytesCached: cached, BudgetWaits: c.budgetWaits.Load(),
		MaxBytesBudget: c.cfg.MaxBytes,
	}
}

func blockKey(objKey string, idx int64) string {
	return objKey + "\x00" + strconv.FormatInt(idx, 10)
}

// ReadAt reads len(p) bytes at off from obj through the cache. It returns
// io.EOF when the read reaches the end of the object.
func (c *Cache) ReadAt(ctx context.Context, obj Object, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("cache: negative offset")
	}
	if off >= obj.Size {
		return 0, io.EOF
	}
	bs := int64(c.cfg.BlockSize)
	n := 0
	for n < len(p) && off < obj.Size {
		idx := off / bs
		blk, err := c.Block(ctx, obj, idx)
		if err != nil {
			return n, err
		}
		within := off - idx*bs
		if within >= int64(len(blk)) {
			return n, io.ErrUnexpectedEOF
		}
		k := copy(p[n:], blk[within:])
		n += k
		off += int64(k)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Block returns block idx of obj, fetching it once however many readers ask.
func (c *Cache) Block(ctx context.Context, obj Object, idx int64) ([]byte, error) {
	key := blockKey(obj.Key, idx)
	if b, ok := c.blocks.Get(key); ok {
		c.hits.Add(1)
		return b, nil
	}
	c.mu.Lock()
	// Check again under the lock: a fetch may have finished in between.
	if b, ok := c.blocks.Get(key); ok {
		c.mu.Unlock()
		c.hits.Add(1)
		return b, nil
	}
	cl, ok := c.inflight[key]
	if !ok {
		cl = &call{done: make(chan struct{})}
		c.inflight[key] = cl
		c.mu.Unlock()
		c.misses.Add(1)
		go c.fetch(key, obj, idx, cl)
	} else {
		c.mu.Unlock()
		c.hits.Add(1)
	}
	select {
	case <-cl.done:
		return cl.data, cl.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Prefetch starts fetching block idx without waiting for it. It returns false
// when the block is cached or already being fetched, or when the in-flight
// budget is full (prefetch never waits for memory).
func (c *Cache) Prefetch(obj Object, idx int64) bool {
	bs := int64(c.cfg.BlockSize)
	if idx < 0 || idx*bs >= obj.Size {
		return false
	}
	key := blockKey(obj.Key, idx)
	if _, ok := c.blocks.Get(key); ok {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.inflight[key]; ok {
		return false
	}
	length := c.blockLen(obj, idx)
	if !c.budget.tryAcquire(length) {
		return false
	}
	cl := &call{done: make(chan struct{})}
	c.inflight[key] = cl
	go c.fetchReserved(key, obj, idx, cl, length)
	return true
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
	c.fetchReserved(key, obj, idx, cl, length)
}

// fetchReserved runs on its own context: the block is shared, so no single
// reader's cancellation may abort it.
func (c *Cache) fetchReserved(key string, obj Object, idx int64, cl *call, length int64) {
	defer c.budget.release(length)
	c.fetches.Add(1)
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.FetchTimeout)
	defer cancel()
	buf := make([]byte, length)
	n, err := obj.Fetch(ctx, buf, idx*int64(c.cfg.BlockSize))
	if err == nil && int64(n) != length {
		err = fmt.Errorf("cache: short fetch: %d of %d bytes: %w", n, length, io.ErrUnexpectedEOF)
	}
	if err != nil {
		c.fetchErrors.Add(1)
		cl.err = err
	} else {
		c.bytesFetched.Add(length)
		cl.data = buf
		c.blocks.Set(key, buf, length)
		// Make the block visible to Get before the in-flight entry goes away.
		c.blocks.Wait()
	}
	c.mu.Lock()
	delete(c.inflight, key)
	c.mu.Unlock()
	close(cl.done)
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
