package fs

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"
)

// errPanic marks an operation that panicked; it was recovered and the
// caller gets EIO (see panicked in mount.go).
var errPanic = errors.New("internal error (recovered panic)")

// flightCache caches values for a TTL and computes each key at most once at a
// time (single flight). The computation runs on a context detached from the
// caller's, so one caller's interrupt does not fail the others; each caller
// still stops waiting when its own context ends. Errors are not cached.
type flightCache[V any] struct {
	ttl     time.Duration
	timeout time.Duration

	mu      sync.Mutex
	entries map[string]*flight[V]
}

type flight[V any] struct {
	done    chan struct{}
	val     V
	err     error
	expires time.Time
}

func newFlightCache[V any](ttl, timeout time.Duration) *flightCache[V] {
	return &flightCache[V]{ttl: ttl, timeout: timeout, entries: map[string]*flight[V]{}}
}

// peek returns a fresh cached value without computing anything.
func (c *flightCache[V]) peek(key string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var zero V
	f, ok := c.entries[key]
	if !ok {
		return zero, false
	}
	select {
	case <-f.done:
		if f.err == nil && time.Now().Before(f.expires) {
			return f.val, true
		}
	default:
	}
	return zero, false
}

// get returns the value of key, computing it with fn if it is not fresh.
func (c *flightCache[V]) get(ctx context.Context, key string, fn func(ctx context.Context) (V, error)) (V, error) {
	c.mu.Lock()
	f, ok := c.entries[key]
	if ok {
		select {
		case <-f.done:
			if f.err != nil || time.Now().After(f.expires) {
				ok = false
			}
		default:
		}
	}
	if !ok {
		f = &flight[V]{done: make(chan struct{})}
		c.entries[key] = f
		go func() {
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
			defer cancel()
			defer close(f.done)
			defer func() {
				// A panic here would end the mount: fail this key instead.
				if r := recover(); r != nil {
					f.err = fmt.Errorf("%w: %v\n%s", errPanic, r, debug.Stack())
				}
			}()
			f.val, f.err = fn(fctx)
			f.expires = time.Now().Add(c.ttl)
		}()
	}
	c.mu.Unlock()
	select {
	case <-f.done:
		return f.val, f.err
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}

// clear forgets every entry; flights in progress finish for their waiters.
func (c *flightCache[V]) clear() {
	c.mu.Lock()
	c.entries = map[string]*flight[V]{}
	c.mu.Unlock()
}
