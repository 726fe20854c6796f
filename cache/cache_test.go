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
