package throttle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// concurrency is an httptest handler that counts the requests it is
// serving at once; each answer is size bytes, sent in pieces, so a client
// holds its body for a while.
type concurrency struct {
	cur, max atomic.Int64
	size     int
}

func (c *concurrency) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := c.cur.Add(1)
	for {
		m := c.max.Load()
		if n <= m || c.max.CompareAndSwap(m, n) {
			break
		}
	}
	w.Header().Set("Content-Length", fmt.Sprint(c.size))
	chunk := strings.Repeat("x", c.size/4)
	for i := 0; i < 4; i++ {
		if i == 3 {
			// The client may see EOF (and send its next request) as soon
			// as the last byte is out, before this handler returns.
			c.cur.Add(-1)
		}
		io.WriteString(w, chunk)
		w.(http.Flusher).Flush()
		if i < 3 {
			time.Sleep(time.Millisecond)
		}
	}
}

// TestThrottleCapUnder100Concurrent: 100 concurrent requests through the
// Transport and the Client wrappers of one Limiter of 4 never have more
// than 4 in flight, neither as the Limiter counts nor as the server sees;
// every slot is back at the end, and the waits were counted.
func TestThrottleCapUnder100Concurrent(t *testing.T) {
	for _, mode := range []string{"transport", "client", "both"} {
		t.Run(mode, func(t *testing.T) {
			srv := &concurrency{size: 64 << 10}
			hs := httptest.NewServer(srv)
			defer hs.Close()
			l := New(4)
			base := hs.Client().Transport.(*http.Transport).Clone()
			defer base.CloseIdleConnections()
			viaTransport := &http.Client{Transport: l.Transport(base)}
			viaClient := l.Client(&http.Client{Transport: base})
			var wg sync.WaitGroup
			errs := make(chan error, 100)
			for i := 0; i < 100; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					var d Doer = viaTransport
					if mode == "client" || mode == "both" && i%2 == 1 {
						d = viaClient
					}
					req, _ := http.NewRequest("GET", hs.URL+"/x", nil)
					resp, err := d.Do(req)
					if err != nil {
						errs <- err
						return
					}
					defer resp.Body.Close()
					n, err := io.Copy(io.Discard, resp.Body)
					if err != nil || n != int64(srv.size) {
						errs <- fmt.Errorf("body: %d bytes, %v", n, err)
					}
				}(i)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			st := l.Stats()
			t.Logf("limiter %+v, server max concurrent %d", st, srv.max.Load())
			if st.MaxInFlight > 4 || srv.max.Load() > 4 {
				t.Fatalf("cap 4 exceeded: limiter saw %d, server saw %d", st.MaxInFlight, srv.max.Load())
			}
			if st.InFlight != 0 || st.Acquired != 100 {
				t.Fatalf("after all requests: %d in flight, %d acquired; want 0 and 100", st.InFlight, st.Acquired)
			}
			if st.Waits == 0 || st.MaxInFlight != 4 {
				t.Fatalf("100 concurrent requests on 4 slots: %d waits, max %d in flight; want some waits and 4", st.Waits, st.MaxInFlight)
			}
		})
	}
}

// fake is a RoundTripper whose bodies record their Close.
type fake struct {
	err    error
	status int
	body   string
	noBody bool
	closed atomic.Int64
}

type fakeBody struct {
	io.Reader
	f *fake
}

func (b *fakeBody) Close() error { b.f.closed.Add(1); return nil }

func (f *fake) RoundTrip(req *http.Request) (*http.Response, error) {
	if f.err != nil {
		return nil, f.err
	}
	resp := &http.Response{StatusCode: f.status, Header: http.Header{}, Request: req,
		Body: &fakeBody{Reader: strings.NewReader(f.body), f: f}}
	if f.noBody {
		resp.Body = http.NoBody
	}
	return resp, nil
}

func (f *fake) Do(req *http.Request) (*http.Response, error) { return f.RoundTrip(req) }

func get(t *testing.T, d Doer) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://backend.invalid/x", nil)
	resp, err := d.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func wantInFlight(t *testing.T, l *Limiter, n int64, when string) {
	t.Helper()
	if got := l.Stats().InFlight; got != n {
		t.Fatalf("%s: %d in flight, want %d", when, got, n)
	}
}

// TestThrottleBodyRelease: the slot is held while the body is open and
// given back exactly once: on Close, on EOF, on a body read error, on a
// failed request, and at once for a response without a body.
func TestThrottleBodyRelease(t *testing.T) {
	wrappers := map[string]func(*Limiter, *fake) Doer{
		"transport": func(l *Limiter, f *fake) Doer { return &http.Client{Transport: l.Transport(f)} },
		"client":    func(l *Limiter, f *fake) Doer { return l.Client(f) },
	}
	for name, wrap := range wrappers {
		t.Run(name, func(t *testing.T) {
			t.Run("close", func(t *testing.T) {
				l, f := New(2), &fake{status: 200, body: "hello"}
				resp := get(t, wrap(l, f))
				wantInFlight(t, l, 1, "body open")
				buf := make([]byte, 2)
				io.ReadFull(resp.Body, buf)
				wantInFlight(t, l, 1, "body partly read")
				resp.Body.Close()
				wantInFlight(t, l, 0, "body closed")
				resp.Body.Close() // twice: still released once
				wantInFlight(t, l, 0, "body closed twice")
				if f.closed.Load() == 0 {
					t.Fatal("the inner body was not closed")
				}
			})
			t.Run("eof", func(t *testing.T) {
				l, f := New(2), &fake{status: 200, body: "hello"}
				resp := get(t, wrap(l, f))
				b, err := io.ReadAll(resp.Body)
				if err != nil || string(b) != "hello" {
					t.Fatalf("body %q, %v", b, err)
				}
				wantInFlight(t, l, 0, "body read to EOF, not closed")
				resp.Body.Close()
				wantInFlight(t, l, 0, "then closed")
				// The slot is free for the next request.
				get(t, wrap(l, f)).Body.Close()
				get(t, wrap(l, f)).Body.Close()
				wantInFlight(t, l, 0, "two more")
			})
			t.Run("read-error", func(t *testing.T) {
				l := New(1)
				f := &fake{status: 200}
				d := wrap(l, f)
				req, _ := http.NewRequest("GET", "http://backend.invalid/x", nil)
				resp, err := d.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				broken := errors.New("connection reset")
				inner := resp.Body.(*body)
				inner.rc = io.NopCloser(&errReader{err: broken})
				if _, err := resp.Body.Read(make([]byte, 8)); !errors.Is(err, broken) {
					t.Fatalf("read: %v", err)
				}
				wantInFlight(t, l, 0, "after a read error")
				resp.Body.Close()
				wantInFlight(t, l, 0, "after a read error and Close")
			})
			t.Run("request-error", func(t *testing.T) {
				l, f := New(1), &fake{err: errors.New("dial refused")}
				req, _ := http.NewRequest("GET", "http://backend.invalid/x", nil)
				for i := 0; i < 3; i++ {
					if _, err := wrap(l, f).Do(req); err == nil {
						t.Fatal("no error")
					}
				}
				wantInFlight(t, l, 0, "after failed requests")
				if st := l.Stats(); st.Acquired != 3 || st.Waits != 0 {
					t.Fatalf("stats %+v: want 3 acquired, no wait (each failure released its slot)", st)
				}
			})
			t.Run("no-body", func(t *testing.T) {
				l, f := New(1), &fake{status: 200, noBody: true}
				get(t, wrap(l, f)) // not closed: http.NoBody needs no Close
				wantInFlight(t, l, 0, "answer without a body")
			})
			t.Run("error-status", func(t *testing.T) {
				l, f := New(1), &fake{status: 503, body: "busy"}
				resp := get(t, wrap(l, f))
				wantInFlight(t, l, 1, "503 body open")
				resp.Body.Close()
				wantInFlight(t, l, 0, "503 body closed")
			})
		})
	}
}

type errReader struct{ err error }

func (r *errReader) Read([]byte) (int, error) { return 0, r.err }

// TestThrottleContextWhileWaiting: a request waiting for a slot fails
// with its context's error when the context ends, without reaching the
// backend and without taking a slot; one already cancelled fails at once.
func TestThrottleContextWhileWaiting(t *testing.T) {
	var hits atomic.Int64
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, "ok")
	}))
	defer hs.Close()
	l := New(1)
	base := hs.Client().Transport.(*http.Transport).Clone()
	defer base.CloseIdleConnections()
	for name, d := range map[string]Doer{
		"transport": &http.Client{Transport: l.Transport(base)},
		"client":    l.Client(&http.Client{Transport: base}),
	} {
		t.Run(name, func(t *testing.T) {
			hits.Store(0)
			req, _ := http.NewRequest("GET", hs.URL, nil)
			holder, err := d.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			wantInFlight(t, l, 1, "holder")

			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				req, _ := http.NewRequestWithContext(ctx, "GET", hs.URL, nil)
				resp, err := d.Do(req)
				if err == nil {
					resp.Body.Close()
				}
				done <- err
			}()
			deadline := time.Now().Add(5 * time.Second)
			for l.Stats().Waits == 0 && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			select {
			case err := <-done:
				t.Fatalf("the second request did not wait for the slot: %v", err)
			case <-time.After(20 * time.Millisecond):
			}
			cancel()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("cancelled while waiting: %v, want context.Canceled", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("a cancelled request still waits for a slot")
			}
			if hits.Load() != 1 {
				t.Fatalf("backend hits %d, want 1 (the cancelled request must not be sent)", hits.Load())
			}
			wantInFlight(t, l, 1, "after the cancelled wait")

			// Already cancelled: fails without waiting even with a slot free.
			holder.Body.Close()
			wantInFlight(t, l, 0, "holder closed")
			req, _ = http.NewRequestWithContext(ctx, "GET", hs.URL, nil)
			if _, err := d.Do(req); !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled request: %v", err)
			}
			wantInFlight(t, l, 0, "after a cancelled request")
			l.waits.Store(0)
		})
	}
}

// TestThrottleDeadlineWhileWaiting: Acquire honours a deadline.
func TestThrottleDeadlineWhileWaiting(t *testing.T) {
	l := New(1)
	if err := l.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := l.Acquire(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire past the deadline: %v", err)
	}
	l.Release()
	if st := l.Stats(); st.InFlight != 0 || st.Acquired != 1 || st.Waits != 1 || st.MaxInFlight != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestThrottleCloseIdleConnections: the wrappers forward it.
func TestThrottleCloseIdleConnections(t *testing.T) {
	l := New(1)
	c := &closer{}
	l.Transport(c).(interface{ CloseIdleConnections() }).CloseIdleConnections()
	l.Client(c).(interface{ CloseIdleConnections() }).CloseIdleConnections()
	if c.n != 2 {
		t.Fatalf("CloseIdleConnections forwarded %d times, want 2", c.n)
	}
	tr := &http.Transport{}
	l.Client(getTransport{tr}).(interface{ CloseIdleConnections() }).CloseIdleConnections()
}

type closer struct {
	fake
	n int
}

func (c *closer) CloseIdleConnections() { c.n++ }

type getTransport struct{ t *http.Transport }

func (g getTransport) Do(*http.Request) (*http.Response, error) { return nil, errors.New("unused") }
func (g getTransport) GetTransport() *http.Transport            { return g.t }

func TestThrottleNewPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("New(0) did not panic")
		}
	}()
	New(0)
}
