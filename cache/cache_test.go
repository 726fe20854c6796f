package cache

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func testObject(data []byte, fetches *atomic.Int64, gate <-chan struct{}) Object {
	return Object{
		Key:  "obj",
		Size: int64(len(data)),
		Fetch: func(ctx context.Context, p []byte, off int64) (int, error) {
			fetches.Add(1)
			if gate != nil {
				select {
				case <-gate:
				case <-ctx.Done():
					return 0, ctx.Err()
				}
			}
			return copy(p, data[off:]), nil
		},
	}
}

func TestRandomRangesMatchReference(t *testing.T) {
	data := make([]byte, 1<<20+12345)
	rand.New(rand.NewSource(1)).Read(data)
	var fetches atomic.Int64
	c, err := New(Config{MaxBytes: 8 << 20, BlockSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	obj := testObject(data, &fetches, nil)
	r := rand.New(rand.NewSource(2))
	for i := 0; i < 2000; i++ {
		off := r.Int63n(int64(len(data)) + 10)
		p := make([]byte, r.Intn(300<<10))
		n, err := c.ReadAt(context.Background(), obj, p, off)
		want := 0
		if off < int64(len(data)) {
			want = copy(make([]byte, len(p)), data[off:])
		}
		if n != want {
			t.Fatalf("read %d at %d: n=%d want %d (err %v)", len(p), off, n, want, err)
		}
		if n < len(p) && err != io.EOF {
			t.Fatalf("short read without EOF: %v", err)
		}
		if n == len(p) && err != nil {
			t.Fatalf("full read with error %v", err)
		}
		if !bytes.Equal(p[:n], data[off:off+int64(n)]) {
			t.Fatalf("wrong bytes at %d", off)
		}
	}
}

func TestSingleFlight(t *testing.T) {
	data := bytes.Repeat([]byte("x"), 256<<10)
	var fetches atomic.Int64
	gate := make(chan struct{})
	c, _ := New(Config{MaxBytes: 4 << 20, BlockSize: 256 << 10})
	defer c.Close()
	obj := testObject(data, &fetches, gate)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := make([]byte, 4096)
			if _, err := c.ReadAt(context.Background(), obj, p, 1000); err != nil {
				errs <- err
			}
		}()
	}
	// Let every reader reach the in-flight fetch before releasing it.
	time.Sleep(50 * time.Millisecond)
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := fetches.Load(); got != 1 {
		t.Fatalf("16 concurrent readers of one block made %d fetches, want 1", got)
	}
}

func TestWaiterCancelDoesNotCancelSharedFetch(t *testing.T) {
	data := bytes.Repeat([]byte("y"), 128<<10)
	var fetches atomic.Int64
	gate := make(chan struct{})
	c, _ := New(Config{MaxBytes: 4 << 20, BlockSize: 128 << 10})
	defer c.Close()
	obj := testObject(data, &fetches, gate)

	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		_, err := c.ReadAt(ctx, obj, make([]byte, 10), 0)
		first <- err
	}()
	second := make(chan error, 1)
	go func() {
		_, err := c.ReadAt(context.Background(), obj, make([]byte, 10), 0)
		second <- err
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled reader got %v, want context.Canceled", err)
	}
	close(gate)
	if err := <-second; err != nil {
		t.Fatalf("other reader failed after the first was interrupted: %v", err)
	}
	if fetches.Load() != 1 {
		t.Fatalf("fetches = %d, want 1", fetches.Load())
	}
}

func TestFetchErrorIsNotCached(t *testing.T) {
	var calls atomic.Int64
	obj := Object{Key: "e", Size: 100, Fetch: func(ctx context.Context, p []byte, off int64) (int, error) {
		if calls.Add(1) == 1 {
			return 0, errors.New("boom")
		}
		for i := range p {
			p[i] = 7
		}
		return len(p), nil
	}}
	c, _ := New(Config{MaxBytes: 1 << 20, BlockSize: 64})
	defer c.Close()
	if _, err := c.ReadAt(context.Background(), obj, make([]byte, 10), 0); err == nil {
		t.Fatal("want error from failing fetch")
	}
	p := make([]byte, 10)
	if _, err := c.ReadAt(context.Background(), obj, p, 0); err != nil || p[0] != 7 {
		t.Fatalf("retry after error: %v %v", err, p)
	}
}

func TestShortFetchIsAnError(t *testing.T) {
	obj := Object{Key: "s", Size: 100, Fetch: func(ctx context.Context, p []byte, off int64) (int, error) {
		return len(p) / 2, nil
	}}
	c, _ := New(Config{MaxBytes: 1 << 20, BlockSize: 64})
	defer c.Close()
	if _, err := c.ReadAt(context.Background(), obj, make([]byte, 10), 0); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short fetch gave %v, want ErrUnexpectedEOF", err)
	}
}

func TestInflightBudgetNeverExceeded(t *testing.T) {
	const bs = 64 << 10
	data := make([]byte, 64*bs)
	var cur, peak atomic.Int64
	obj := Object{Key: "b", Size: int64(len(data)), Fetch: func(ctx context.Context, p []byte, off int64) (int, error) {
		v := cur.Add(int64(len(p)))
		for {
			old := peak.Load()
			if v <= old || peak.CompareAndSwap(old, v) {
				break
			}
		}
		time.Sleep(2 * time.Millisecond)
		cur.Add(-int64(len(p)))
		return copy(p, data[off:]), nil
	}}
	c, _ := New(Config{MaxBytes: 16 * bs, BlockSize: bs})
	defer c.Close()
	var wg sync.WaitGroup
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c.Prefetch(obj, int64(i))
			c.ReadAt(context.Background(), obj, make([]byte, bs), int64(63-i)*bs)
		}(i)
	}
	wg.Wait()
	if max := int64(16*bs) / 4; peak.Load() > max {
		t.Fatalf("in-flight bytes peaked at %d, budget for in-flight is %d", peak.Load(), max)
	}
}

// spanObject serves data, counting Fetch and FetchBlocks calls; a span
// breaks off after breakAfter buffers when breakAfter >= 0.
func spanObject(data []byte, bs int, fetches, spans *atomic.Int64, breakAfter int) Object {
	obj := testObject(data, fetches, nil)
	obj.FetchBlocks = func(ctx context.Context, off int64, bufs [][]byte, filled func(int)) error {
		spans.Add(1)
		for i, b := range bufs {
			if i == breakAfter {
				copy(b, bytes.Repeat([]byte{0xEE}, len(b))) // garbage that must not be served
				return errors.New("connection reset")
			}
			copy(b, data[off:])
			off += int64(len(b))
			filled(i)
		}
		return nil
	}
	return obj
}

func TestPrefetchRangeUsesOneRequestPerSpan(t *testing.T) {
	const bs = 64 << 10
	data := make([]byte, 20*bs+100)
	rand.New(rand.NewSource(3)).Read(data)
	var fetches, spans atomic.Int64
	c, _ := New(Config{MaxBytes: 128 * bs, BlockSize: bs, SpanBytes: 8 * bs})
	defer c.Close()
	obj := spanObject(data, bs, &fetches, &spans, -1)
	if got := c.PrefetchRange(obj, 0, 21); got != 21 {
		t.Fatalf("started %d blocks, want 21", got)
	}
	p := make([]byte, len(data))
	if n, err := c.ReadAt(context.Background(), obj, p, 0); n != len(data) || err != nil {
		t.Fatalf("ReadAt: %d %v", n, err)
	}
	if !bytes.Equal(p, data) {
		t.Fatal("wrong bytes after span prefetch")
	}
	// 21 blocks in spans of 8: 8 + 8 + 5.
	if spans.Load() != 3 || fetches.Load() != 0 {
		t.Fatalf("spans %d, single fetches %d; want 3 and 0", spans.Load(), fetches.Load())
	}
}

func TestBrokenSpanIsCompletedBlockByBlock(t *testing.T) {
	const bs = 64 << 10
	data := make([]byte, 8*bs)
	rand.New(rand.NewSource(4)).Read(data)
	var fetches, spans atomic.Int64
	c, _ := New(Config{MaxBytes: 64 * bs, BlockSize: bs, SpanBytes: 8 * bs})
	defer c.Close()
	obj := spanObject(data, bs, &fetches, &spans, 3)
	c.PrefetchRange(obj, 0, 8)
	p := make([]byte, len(data))
	if n, err := c.ReadAt(context.Background(), obj, p, 0); n != len(data) || err != nil {
		t.Fatalf("ReadAt: %d %v", n, err)
	}
	if !bytes.Equal(p, data) {
		t.Fatal("a broken span served wrong bytes")
	}
	if spans.Load() != 1 || fetches.Load() != 5 {
		t.Fatalf("spans %d, single fetches %d; want 1 and 5 (blocks 3..7 again)", spans.Load(), fetches.Load())
	}
}

func TestReadAtDirectFetchesOnlyTheRange(t *testing.T) {
	const bs = 64 << 10
	data := make([]byte, 16*bs)
	rand.New(rand.NewSource(5)).Read(data)
	var asked atomic.Int64
	obj := Object{Key: "d", Size: int64(len(data)), Fetch: func(ctx context.Context, p []byte, off int64) (int, error) {
		asked.Add(int64(len(p)))
		return copy(p, data[off:]), nil
	}}
	c, _ := New(Config{MaxBytes: 64 * bs, BlockSize: bs})
	defer c.Close()
	// Block 2 cached through a normal read.
	if _, err := c.ReadAt(context.Background(), obj, make([]byte, 10), 2*bs); err != nil {
		t.Fatal(err)
	}
	asked.Store(0)
	// 4 KiB inside block 5: exactly 4 KiB fetched, nothing cached.
	p := make([]byte, 4096)
	off := int64(5*bs + 1000)
	if n, err := c.ReadAtDirect(context.Background(), obj, p, off); n != len(p) || err != nil {
		t.Fatalf("ReadAtDirect: %d %v", n, err)
	}
	if !bytes.Equal(p, data[off:off+4096]) || asked.Load() != 4096 {
		t.Fatalf("direct read: bytes ok %v, fetched %d (want 4096)", bytes.Equal(p, data[off:off+4096]), asked.Load())
	}
	if b, ok := c.blocks.Get(blockKey("d", 5)); ok && b != nil {
		t.Fatal("a direct read cached its block")
	}
	// A range over blocks 1..3 takes block 2 from the cache.
	asked.Store(0)
	p = make([]byte, 2*bs)
	off = int64(bs + bs/2)
	if n, err := c.ReadAtDirect(context.Background(), obj, p, off); n != len(p) || err != nil {
		t.Fatalf("ReadAtDirect: %d %v", n, err)
	}
	if !bytes.Equal(p, data[off:off+2*bs]) || asked.Load() != bs {
		t.Fatalf("direct read over a cached block: bytes ok %v, fetched %d (want %d)", bytes.Equal(p, data[off:off+2*bs]), asked.Load(), bs)
	}
}

// TestEvictionNeverRecyclesUnderAReader reads through a cache far smaller
// than the data from many goroutines, so blocks are evicted and their
// buffers reused constantly; every read must still see its own bytes.
func TestEvictionNeverRecyclesUnderAReader(t *testing.T) {
	const bs = 16 << 10
	data := make([]byte, 256*bs)
	rand.New(rand.NewSource(6)).Read(data)
	var fetches, spans atomic.Int64
	c, _ := New(Config{MaxBytes: 8 * bs, BlockSize: bs, SpanBytes: 4 * bs})
	defer c.Close()
	obj := spanObject(data, bs, &fetches, &spans, -1)
	var wg sync.WaitGroup
	var bad atomic.Int64
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			r := rand.New(rand.NewSource(int64(g)))
			for i := 0; i < 300; i++ {
				off := r.Int63n(int64(len(data)))
				p := make([]byte, 1+r.Intn(3*bs))
				c.PrefetchRange(obj, off/bs, 4)
				read := c.ReadAt
				if i%3 == 0 {
					read = c.ReadAtDirect
				}
				n, err := read(context.Background(), obj, p, off)
				if err != nil && err != io.EOF {
					t.Error(err)
					return
				}
				if !bytes.Equal(p[:n], data[off:off+int64(n)]) {
					bad.Add(1)
				}
			}
		}(g)
	}
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d reads saw wrong bytes", bad.Load())
	}
	st := c.Stats()
	if st.KeysEvicted == 0 {
		t.Fatalf("nothing was evicted (%+v): the test did not exercise recycling", st)
	}
	if st.ArenaBytes > 8*bs+slabBytes {
		t.Fatalf("arena mapped %d bytes for a %d-byte cache", st.ArenaBytes, 8*bs)
	}
}

func TestClearKeepsServingCorrectBytes(t *testing.T) {
	const bs = 64 << 10
	data := make([]byte, 8*bs)
	rand.New(rand.NewSource(7)).Read(data)
	var fetches atomic.Int64
	c, _ := New(Config{MaxBytes: 64 * bs, BlockSize: bs})
	defer c.Close()
	obj := testObject(data, &fetches, nil)
	p := make([]byte, len(data))
	for round := 0; round < 2; round++ {
		if _, err := c.ReadAt(context.Background(), obj, p, 0); err != nil || !bytes.Equal(p, data) {
			t.Fatalf("round %d: %v, bytes ok %v", round, err, bytes.Equal(p, data))
		}
		c.Clear()
	}
	if fetches.Load() != 16 {
		t.Fatalf("fetches %d, want 16 (Clear drops every block)", fetches.Load())
	}
}

// TestNoBufferLeaks: after a concurrent mix of every read mode, prefetch
// spans, drop-behind and eviction, and a Clear, every arena buffer is back
// on the free list: no reference was lost.
func TestNoBufferLeaks(t *testing.T) {
	const bs = 16 << 10
	data := make([]byte, 512*bs)
	rand.New(rand.NewSource(8)).Read(data)
	var fetches, spans atomic.Int64
	c, _ := New(Config{MaxBytes: 64 * bs, BlockSize: bs, SpanBytes: 4 * bs})
	defer c.Close()
	objs := []Object{spanObject(data, bs, &fetches, &spans, -1), spanObject(data, bs, &fetches, &spans, 2)}
	objs[1].Key = "other"
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			r := rand.New(rand.NewSource(int64(g)))
			for i := 0; i < 400; i++ {
				obj := objs[r.Intn(2)]
				off := r.Int63n(int64(len(data)))
				p := make([]byte, 1+r.Intn(4*bs))
				c.PrefetchRange(obj, off/bs+1, int64(r.Intn(8)))
				ctx := context.Background()
				if i%7 == 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithCancel(ctx)
					cancel()
				}
				pin, err := c.Pin(ctx, obj, p, off, Mode(r.Intn(3)))
				if err == nil || err == io.EOF {
					n := 0
					for _, s := range pin.Slices {
						n += copy(p[n:], s)
					}
					if !bytes.Equal(p[:n], data[off:off+int64(n)]) {
						t.Errorf("wrong bytes at %d", off)
					}
				}
				pin.Release()
			}
		}(g)
	}
	wg.Wait()
	// Fetches may outlive their readers (prefetches, and demand fetches
	// whose reader gave up): wait until none is left.
	for i := 0; i < 500; i++ {
		c.mu.Lock()
		busy := len(c.inflight)
		c.mu.Unlock()
		if busy == 0 && c.Stats().BytesInFlight == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.Clear()
	c.arena.mu.Lock()
	free, mapped := len(c.arena.free)*bs+len(c.arena.slab), c.arena.mapped
	c.arena.mu.Unlock()
	if int64(free) != mapped {
		t.Fatalf("arena: %d bytes mapped, %d free after Clear: %d buffers lost", mapped, free, (mapped-int64(free))/bs)
	}
}
