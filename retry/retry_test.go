package retry

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

func TestCeilingAndBackoff(t *testing.T) {
	p := Policy{Base: 100 * time.Millisecond, Cap: time.Second, Rand: func() float64 { return 0.5 }}
	for _, tc := range []struct {
		retry   int
		ceiling time.Duration
	}{
		{0, 100 * time.Millisecond},
		{1, 200 * time.Millisecond},
		{2, 400 * time.Millisecond},
		{3, 800 * time.Millisecond},
		{4, time.Second},
		{60, time.Second}, // no overflow
	} {
		if got := p.Ceiling(tc.retry); got != tc.ceiling {
			t.Errorf("Ceiling(%d) = %v, want %v", tc.retry, got, tc.ceiling)
		}
		if got := p.Backoff(tc.retry); got != tc.ceiling/2 {
			t.Errorf("Backoff(%d) = %v, want %v", tc.retry, got, tc.ceiling/2)
		}
	}
	// Full jitter: the whole range [0, ceiling) is used.
	q := Policy{Base: time.Second, Cap: time.Second}
	lo, hi := time.Hour, time.Duration(0)
	for range 2000 {
		d := q.Backoff(0)
		if d < 0 || d >= time.Second {
			t.Fatalf("Backoff %v out of [0, 1s)", d)
		}
		lo, hi = min(lo, d), max(hi, d)
	}
	if lo > 100*time.Millisecond || hi < 900*time.Millisecond {
		t.Errorf("jitter range [%v, %v] too narrow", lo, hi)
	}
}

func TestDefaults(t *testing.T) {
	var p Policy
	if p.MaxAttempts() != DefaultAttempts || p.Ceiling(0) != DefaultBase || p.Ceiling(100) != DefaultCap {
		t.Errorf("defaults: %d %v %v", p.MaxAttempts(), p.Ceiling(0), p.Ceiling(100))
	}
}

func TestDelayHonoursRetryAfter(t *testing.T) {
	p := Policy{Base: 10 * time.Millisecond, Cap: 20 * time.Millisecond, MaxRetryAfter: 3 * time.Second, Rand: func() float64 { return 0.99 }}
	for _, tc := range []struct {
		after, want time.Duration
	}{
		{0, 9900 * time.Microsecond},
		{2 * time.Second, 2 * time.Second},
		{time.Hour, 3 * time.Second},                // capped
		{time.Millisecond, 9900 * time.Microsecond}, // a floor, not a ceiling
	} {
		if got := p.Delay(0, tc.after); got != tc.want {
			t.Errorf("Delay(0, %v) = %v, want %v", tc.after, got, tc.want)
		}
	}
}

func TestRetryableStatus(t *testing.T) {
	want := map[int]bool{429: true, 500: true, 502: true, 503: true, 504: true}
	for _, code := range []int{200, 206, 301, 400, 401, 403, 404, 408, 410, 416, 429, 500, 501, 502, 503, 504, 505} {
		if got := RetryableStatus(code); got != want[code] {
			t.Errorf("RetryableStatus(%d) = %v", code, got)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in string
		d  time.Duration
		ok bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{" 3 ", 3 * time.Second, true},
		{"120", 2 * time.Minute, true},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{"99999999999999999", 24 * time.Hour, true},
		{"Mon, 07 Dec 2026 05:00:10 GMT", 10 * time.Second, true},
		{"Monday, 07-Dec-26 05:01:00 GMT", time.Minute, true},
		{"Mon Dec  7 05:00:05 2026", 5 * time.Second, true},
		{"Mon, 07 Dec 2026 04:00:00 GMT", 0, true}, // past
	} {
		d, ok := ParseRetryAfter(tc.in, now)
		if d != tc.d || ok != tc.ok {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tc.in, d, ok, tc.d, tc.ok)
		}
	}
	h := http.Header{}
	h.Set("Retry-After", "7")
	if RetryAfter(h, now) != 7*time.Second || RetryAfter(http.Header{}, now) != 0 {
		t.Error("RetryAfter header")
	}
}

func TestSleep(t *testing.T) {
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Error(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) || time.Since(start) > time.Second {
		t.Errorf("cancelled sleep: %v after %v", err, time.Since(start))
	}
	if err := Sleep(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("zero sleep on a dead ctx: %v", err)
	}
}

func TestDo(t *testing.T) {
	errTransient, errFinal := errors.New("transient"), errors.New("final")
	p := Policy{Attempts: 3, Base: time.Microsecond, Cap: time.Microsecond}
	always := func(err error) (bool, time.Duration) { return errors.Is(err, errTransient), 0 }

	var n int
	err := p.Do(context.Background(), func(context.Context) error { n++; return errTransient }, always)
	if !errors.Is(err, errTransient) || n != 3 {
		t.Errorf("exhausted: %v after %d tries", err, n)
	}
	n = 0
	err = p.Do(context.Background(), func(context.Context) error { n++; return errFinal }, always)
	if !errors.Is(err, errFinal) || n != 1 {
		t.Errorf("final: %v after %d tries", err, n)
	}
	n = 0
	err = p.Do(context.Background(), func(context.Context) error {
		n++
		if n < 2 {
			return errTransient
		}
		return nil
	}, always)
	if err != nil || n != 2 {
		t.Errorf("recovered: %v after %d tries", err, n)
	}
	// A long Retry-After is cut short by ctx.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	n = 0
	start := time.Now()
	err = Policy{Attempts: 5}.Do(ctx, func(context.Context) error { n++; return errTransient },
		func(error) (bool, time.Duration) { return true, time.Hour })
	if !errors.Is(err, errTransient) || n != 1 || time.Since(start) > 5*time.Second {
		t.Errorf("ctx during wait: %v, %d tries, %v", err, n, time.Since(start))
	}
}

// blockingBody sends chunks from a channel and blocks until closed.
type blockingBody struct {
	chunks chan []byte
	done   chan struct{}
	closed atomic.Int32
}

func newBlockingBody() *blockingBody {
	return &blockingBody{chunks: make(chan []byte), done: make(chan struct{})}
}

func (b *blockingBody) Read(p []byte) (int, error) {
	select {
	case c, ok := <-b.chunks:
		if !ok {
			return 0, io.EOF
		}
		return copy(p, c), nil
	case <-b.done:
		return 0, errors.New("use of closed body")
	}
}

func (b *blockingBody) Close() error {
	if b.closed.Add(1) == 1 {
		close(b.done)
	}
	return nil
}

func TestStallReaderFires(t *testing.T) {
	body := newBlockingBody()
	var aborted atomic.Int32
	s := NewStallReader(body, 30*time.Millisecond, func() { aborted.Add(1) })
	go func() { body.chunks <- []byte("abc") }()
	p := make([]byte, 10)
	if n, err := s.Read(p); n != 3 || err != nil {
		t.Fatalf("first read %d, %v", n, err)
	}
	start := time.Now()
	n, err := s.Read(p)
	if n != 0 || !errors.Is(err, ErrStalled) {
		t.Fatalf("stalled read %d, %v", n, err)
	}
	if el := time.Since(start); el < 25*time.Millisecond || el > 5*time.Second {
		t.Errorf("stall after %v", el)
	}
	if aborted.Load() != 1 || body.closed.Load() != 1 || !s.Stalled() {
		t.Errorf("aborted %d closed %d stalled %v", aborted.Load(), body.closed.Load(), s.Stalled())
	}
	if _, err := s.Read(p); !errors.Is(err, ErrStalled) {
		t.Errorf("read after stall: %v", err)
	}
	if err := s.Close(); err != nil || body.closed.Load() != 1 {
		t.Errorf("close after stall: %v, closed %d", err, body.closed.Load())
	}
}

func TestStallReaderSlowConsumerIsNotAStall(t *testing.T) {
	body := newBlockingBody()
	s := NewStallReader(body, 20*time.Millisecond, nil)
	go func() {
		body.chunks <- []byte("a")
		body.chunks <- []byte("b")
		close(body.chunks)
	}()
	p := make([]byte, 1)
	var got []byte
	for {
		n, err := s.Read(p)
		got = append(got, p[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond) // longer than the timeout, between reads
	}
	if string(got) != "ab" || s.Stalled() {
		t.Errorf("got %q, stalled %v", got, s.Stalled())
	}
	s.Close()
	if body.closed.Load() != 1 {
		t.Errorf("closed %d times", body.closed.Load())
	}
}

func TestStallReaderSteadyTrickle(t *testing.T) {
	body := newBlockingBody()
	s := NewStallReader(body, 100*time.Millisecond, nil)
	go func() {
		for range 10 {
			time.Sleep(5 * time.Millisecond)
			body.chunks <- []byte("x")
		}
		close(body.chunks)
	}()
	b, err := io.ReadAll(s)
	if len(b) != 10 || err != nil {
		t.Errorf("%d bytes, %v", len(b), err)
	}
}

func TestStallReaderDisabled(t *testing.T) {
	body := newBlockingBody()
	s := NewStallReader(body, 0, nil)
	go func() { body.chunks <- []byte("z"); close(body.chunks) }()
	b, err := io.ReadAll(s)
	if string(b) != "z" || err != nil {
		t.Errorf("%q, %v", b, err)
	}
}

func TestStallReaderCloseUnblocks(t *testing.T) {
	body := newBlockingBody()
	s := NewStallReader(body, time.Hour, nil)
	done := make(chan error)
	go func() {
		_, err := s.Read(make([]byte, 1))
		done <- err
	}()
	time.Sleep(10 * time.Millisecond)
	s.Close()
	select {
	case err := <-done:
		if err == nil || errors.Is(err, ErrStalled) {
			t.Errorf("read after close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not unblock Read")
	}
}
