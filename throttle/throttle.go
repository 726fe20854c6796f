// Package throttle caps the number of backend HTTP requests in flight.
//
// A Limiter is a counting semaphore with a context-aware Acquire. Its
// wrappers, Transport (for an http.Client, as the MAST client uses) and
// Client (for a Doer, as the AWS SDK's aws.HTTPClient), hold one slot per
// request from the moment it is sent until its response body is closed or
// read to its end (EOF or a read error), or until the request fails. A
// slot is released exactly once. The wait for a slot honours the
// request's context: a cancelled request that is still waiting fails with
// the context's error and never reaches the backend.
//
// One Limiter shared by several clients caps their sum: mastfs gives the
// same one to the MAST and the S3 client (mount's --max-requests).
package throttle

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
)

// DefaultMax is the default cap of mastfs's backend requests.
const DefaultMax = 64

// Limiter is a counting semaphore of backend requests. It is safe for
// concurrent use.
type Limiter struct {
	slots chan struct{}

	inFlight, maxInFlight, waits, acquired atomic.Int64
}

// New returns a Limiter of n slots. It panics if n < 1.
func New(n int) *Limiter {
	if n < 1 {
		panic(fmt.Sprintf("throttle: New(%d): the cap must be at least 1", n))
	}
	return &Limiter{slots: make(chan struct{}, n)}
}

// Cap is the number of slots.
func (l *Limiter) Cap() int { return cap(l.slots) }

// Acquire takes a slot, waiting for one while ctx lasts. On error (ctx's)
// no slot is held.
func (l *Limiter) Acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case l.slots <- struct{}{}:
	default:
		l.waits.Add(1)
		select {
		case l.slots <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	l.acquired.Add(1)
	n := l.inFlight.Add(1)
	for {
		m := l.maxInFlight.Load()
		if n <= m || l.maxInFlight.CompareAndSwap(m, n) {
			break
		}
	}
	return nil
}

// Release gives back a slot taken by Acquire. Releasing more often than
// acquiring panics.
func (l *Limiter) Release() {
	l.inFlight.Add(-1)
	select {
	case <-l.slots:
	default:
		panic("throttle: Release without Acquire")
	}
}

// Stats are a Limiter's counters.
type Stats struct {
	Cap         int   `json:"cap"`           // slots
	InFlight    int64 `json:"in_flight"`     // slots held now
	MaxInFlight int64 `json:"max_in_flight"` // the most slots ever held at once
	Waits       int64 `json:"waits"`         // acquisitions that had to wait for a slot
	Acquired    int64 `json:"acquired"`      // slots taken in all
}

// Stats returns the counters.
func (l *Limiter) Stats() Stats {
	return Stats{Cap: l.Cap(), InFlight: l.inFlight.Load(), MaxInFlight: l.maxInFlight.Load(),
		Waits: l.waits.Load(), Acquired: l.acquired.Load()}
}

// Doer sends a request; aws.HTTPClient and *http.Client are Doers.
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Client wraps d so that each Do holds a slot of l (see the package
// documentation). The result also has CloseIdleConnections, which
// forwards to d's (or to the *http.Transport of d's GetTransport, as the
// SDK's BuildableClient has).
func (l *Limiter) Client(d Doer) Doer {
	return &client{l: l, next: d}
}

type client struct {
	l    *Limiter
	next Doer
}

func (c *client) Do(req *http.Request) (*http.Response, error) {
	return c.l.send(req, c.next.Do)
}

func (c *client) CloseIdleConnections() {
	switch n := c.next.(type) {
	case interface{ CloseIdleConnections() }:
		n.CloseIdleConnections()
	case interface{ GetTransport() *http.Transport }:
		if t := n.GetTransport(); t != nil {
			t.CloseIdleConnections()
		}
	}
}

// Transport wraps rt so that each RoundTrip holds a slot of l (see the
// package documentation). A nil rt is http.DefaultTransport. The result
// forwards CloseIdleConnections to rt, so http.Client.CloseIdleConnections
// still works.
func (l *Limiter) Transport(rt http.RoundTripper) http.RoundTripper {
	if rt == nil {
		rt = http.DefaultTransport
	}
	return &transport{l: l, next: rt}
}

type transport struct {
	l    *Limiter
	next http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.l.send(req, t.next.RoundTrip)
}

func (t *transport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// send holds a slot for one request: from before do until the answer's
// body is done with, or until do fails.
func (l *Limiter) send(req *http.Request, do func(*http.Request) (*http.Response, error)) (*http.Response, error) {
	if err := l.Acquire(req.Context()); err != nil {
		if req.Body != nil {
			req.Body.Close() // a RoundTripper closes the request body, even on error
		}
		return nil, fmt.Errorf("throttle: waiting to send %s %s: %w", req.Method, req.URL.Redacted(), err)
	}
	resp, err := do(req)
	if err != nil || resp == nil {
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		l.Release()
		if err == nil {
			err = fmt.Errorf("throttle: %s %s: no response", req.Method, req.URL.Redacted())
		}
		return nil, err
	}
	if resp.Body == nil || resp.Body == http.NoBody {
		// Nothing to read (HEAD, an empty answer): the connection is
		// already free, and callers need not close http.NoBody.
		l.Release()
		return resp, nil
	}
	resp.Body = &body{rc: resp.Body, l: l}
	return resp, nil
}

// body releases its slot on Close or at the end of its stream (EOF or a
// read error), whichever comes first, once.
type body struct {
	rc   io.ReadCloser
	l    *Limiter
	done atomic.Bool
}

func (b *body) release() {
	if b.done.CompareAndSwap(false, true) {
		b.l.Release()
	}
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil {
		b.release()
	}
	return n, err
}

func (b *body) Close() error {
	err := b.rc.Close()
	b.release()
	return err
}
