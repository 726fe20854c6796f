package cloud

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mastfs/mastfs/faultproxy"
	"github.com/mastfs/mastfs/mast"
	"github.com/mastfs/mastfs/mast/mastemu"
	"github.com/mastfs/mastfs/retry"
)

// These tests put faultproxy between the client and gofakes3. Each names
// the fault it injects; all of them check that a read gives exactly the
// object's bytes, or an error, never other bytes.

const faultKey = "hst/public/u9o4/u9o40504m/u9o40504m_raw.fits"

type s3FaultEnv struct {
	c     *Client
	proxy *faultproxy.Proxy
	s3    *fakeS3
	key   string
	data  []byte
	wrong atomic.Int32 // wrong bytes seen (reported with t.Errorf as well)
}

// fastS3 keeps backoff short; tests that need other values set them.
func fastS3(cfg Config) Config {
	if cfg.RetryBase == 0 {
		cfg.RetryBase = time.Millisecond
	}
	if cfg.RetryCap == 0 {
		cfg.RetryCap = 5 * time.Millisecond
	}
	if cfg.StallTimeout == 0 {
		// Long enough that a loaded test machine does not stall by
		// itself; the stall tests set their own.
		cfg.StallTimeout = 5 * time.Second
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	return cfg
}

// s3Faulty serves one object of a little over 1 MB from gofakes3 through
// a fault proxy with rules.
func s3Faulty(t *testing.T, cfg Config, rules ...faultproxy.Rule) *s3FaultEnv {
	t.Helper()
	data := randomBytes(77, 1<<20+12345)
	f, _ := newFakeS3(t, map[string][]byte{faultKey: data}, false)
	p := faultproxy.New(f.URL, 42)
	t.Cleanup(p.Close)
	p.SetRules(rules...)
	cfg = fastS3(cfg)
	cfg.Endpoint = p.URL()
	cfg.Bucket = f.Bucket
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &s3FaultEnv{c: c, proxy: p, s3: f, key: faultKey, data: data}
}

// readAt reads n bytes at off (of version etag, "" any) and checks them:
// right bytes or an error, and the bytes given with an error are right
// too. It may run on any goroutine.
func (e *s3FaultEnv) readAt(t *testing.T, etag string, off, n int64) error {
	t.Helper()
	p := bytes.Repeat([]byte{0xA5}, int(n))
	got, err := e.c.ReadAtETag(context.Background(), e.key, etag, p, off)
	end := min(off+int64(got), int64(len(e.data)))
	if off+int64(got) > int64(len(e.data)) || !bytes.Equal(p[:got], e.data[off:end]) {
		e.wrong.Add(1)
		t.Errorf("ReadAt(%d, %d): WRONG BYTES (n=%d, err=%v)", off, n, got, err)
	}
	if err == nil && int64(got) != n {
		e.wrong.Add(1)
		t.Errorf("ReadAt(%d, %d): short read %d without error", off, n, got)
	}
	if err == io.EOF && off+int64(got) != int64(len(e.data)) {
		e.wrong.Add(1)
		t.Errorf("ReadAt(%d, %d): io.EOF after %d bytes, before the end", off, n, got)
	}
	return err
}

// readBlocks reads consecutive buffers of sizes at off with ReadBlocks
// and checks every buffer as it is reported filled: in order, each once,
// each byte-exact; all of them when there is no error. It returns how
// many were filled.
func (e *s3FaultEnv) readBlocks(t *testing.T, etag string, off int64, sizes ...int) (int, error) {
	t.Helper()
	bufs := make([][]byte, len(sizes))
	want := make([][]byte, len(sizes))
	pos := off
	for i, n := range sizes {
		bufs[i] = bytes.Repeat([]byte{0x5A}, n)
		want[i] = e.data[pos : pos+int64(n)]
		pos += int64(n)
	}
	filled := 0
	err := e.c.ReadBlocks(context.Background(), e.key, etag, off, bufs, func(i int) {
		if i != filled {
			e.wrong.Add(1)
			t.Errorf("ReadBlocks(%d): filled(%d) after %d buffers", off, i, filled)
		}
		if !bytes.Equal(bufs[i], want[i]) {
			e.wrong.Add(1)
			t.Errorf("ReadBlocks(%d): WRONG BYTES in buffer %d", off, i)
		}
		filled++
	})
	if err == nil && filled != len(bufs) {
		e.wrong.Add(1)
		t.Errorf("ReadBlocks(%d): %d of %d buffers filled without error", off, filled, len(bufs))
	}
	return filled, err
}

// gets are the GETs the bucket saw (not those the proxy answered itself).
func (e *s3FaultEnv) gets() []seenRequest {
	var out []seenRequest
	for _, r := range e.s3.requests() {
		if r.Method == http.MethodGet {
			out = append(out, r)
		}
	}
	return out
}

var getObject = faultproxy.Method(http.MethodGet)

// s3Burst injects fault into the first n requests of each operation and
// checks every operation still succeeds with the right answer, after
// exactly n retries.
func s3Burst(t *testing.T, fault faultproxy.Fault, n int, cfg Config) {
	e := s3Faulty(t, cfg)
	rule := faultproxy.Rule{Fault: fault, Count: n, RetryAfter: -1}
	ops := []struct {
		name string
		run  func() error
	}{
		{"ReadAt", func() error { return e.readAt(t, "", 1000, 100_000) }},
		{"ReadBlocks", func() error { _, err := e.readBlocks(t, "", 4096, 65536, 65536, 65536); return err }},
		{"Head", func() error {
			size, _, err := e.c.Head(context.Background(), e.key)
			if err == nil && size != int64(len(e.data)) {
				t.Errorf("Head size %d, want %d", size, len(e.data))
			}
			return err
		}},
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			e.proxy.SetRules(rule)
			before := e.c.Stats().Retries
			injected := e.proxy.Stats()[fault]
			if err := op.run(); err != nil {
				t.Fatalf("%v after %d x %v", err, n, fault)
			}
			if got := e.proxy.Stats()[fault] - injected; got != int64(n) {
				t.Errorf("%d faults injected, want %d", got, n)
			}
			if got := e.c.Stats().Retries - before; got != int64(n) {
				t.Errorf("%d retries, want %d", got, n)
			}
		})
	}
	// More failures than attempts: an ErrS3 error after exactly the
	// configured attempts, no bytes.
	e.proxy.SetRules(faultproxy.Rule{Fault: fault, RetryAfter: -1})
	before := e.proxy.Requests()
	p := make([]byte, 100)
	got, err := e.c.ReadAt(context.Background(), e.key, p, 0)
	if got != 0 || !errors.Is(err, ErrS3) {
		t.Errorf("always %v: n=%d, %v", fault, got, err)
	}
	attempts := cfg.RetryMaxAttempts
	if attempts == 0 {
		attempts = DefaultRetryMaxAttempts
	}
	if n := e.proxy.Requests() - before; n != int64(attempts) {
		t.Errorf("always %v: %d requests, want %d", fault, n, attempts)
	}
}

func TestS3Retry500Burst(t *testing.T) { s3Burst(t, faultproxy.Status500Burst, 2, Config{}) }

func TestS3Retry503Burst(t *testing.T) {
	s3Burst(t, faultproxy.Status503Burst, 3, Config{RetryMaxAttempts: 4})
}

func TestS3SlowDownRetryAfter(t *testing.T) {
	// Backoff alone would wait ≤ 5ms: the 1s is the server's.
	e := s3Faulty(t, Config{}, faultproxy.Rule{Fault: faultproxy.SlowDown, Match: getObject, Count: 1, RetryAfter: time.Second})
	start := time.Now()
	if err := e.readAt(t, "", 0, 5000); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < time.Second || el > 10*time.Second {
		t.Errorf("took %v, want about the 1s Retry-After", el)
	}
	if st := e.c.Stats(); st.Retries != 1 || e.proxy.Requests() != 2 {
		t.Errorf("retries %d, proxy requests %d", st.Retries, e.proxy.Requests())
	}

	// Retry-After is capped by MaxRetryAfter.
	e = s3Faulty(t, Config{MaxRetryAfter: 300 * time.Millisecond},
		faultproxy.Rule{Fault: faultproxy.SlowDown, Match: getObject, Count: 1, RetryAfter: time.Hour})
	start = time.Now()
	if err := e.readAt(t, "", 10, 5000); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 300*time.Millisecond || el > 10*time.Second {
		t.Errorf("Retry-After of an hour capped at 300ms: took %v", el)
	}

	// And by the caller's context.
	e = s3Faulty(t, Config{}, faultproxy.Rule{Fault: faultproxy.SlowDown, RetryAfter: 20 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start = time.Now()
	n, err := e.c.ReadAt(ctx, e.key, make([]byte, 10), 0)
	if n != 0 || !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("n=%d, %v after %v", n, err, time.Since(start))
	}
}

func TestS3TooManyRequests(t *testing.T) {
	e := s3Faulty(t, Config{}, faultproxy.Rule{Fault: faultproxy.TooManyRequests, Match: getObject, Count: 1, RetryAfter: time.Second})
	start := time.Now()
	if err := e.readAt(t, "", 100, 20_000); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < time.Second || el > 10*time.Second {
		t.Errorf("took %v, want about the 1s Retry-After", el)
	}
	if st := e.c.Stats(); st.Retries != 1 || e.proxy.Requests() != 2 {
		t.Errorf("retries %d, proxy requests %d", st.Retries, e.proxy.Requests())
	}
	// Without Retry-After: the backoff, two throttles within the attempts.
	e.proxy.SetRules(faultproxy.Rule{Fault: faultproxy.TooManyRequests, Count: 2, RetryAfter: -1})
	if _, err := e.readBlocks(t, "", 0, 1000, 2000); err != nil {
		t.Fatal(err)
	}
	if e.c.Stats().Retries != 3 {
		t.Errorf("%d retries, want 3", e.c.Stats().Retries)
	}
}

func TestS3ResetMidBody(t *testing.T) {
	e := s3Faulty(t, Config{}, faultproxy.Rule{Fault: faultproxy.ResetMidBody, Match: getObject, Count: 2})
	if err := e.readAt(t, "", 3000, 150_000); err != nil {
		t.Fatal(err)
	}
	if st := e.c.Stats(); st.Retries != 2 || e.proxy.Stats()[faultproxy.ResetMidBody] != 2 {
		t.Errorf("%d resets, %d retries", e.proxy.Stats()[faultproxy.ResetMidBody], st.Retries)
	}

	// ReadBlocks: broken in the third buffer, resumed there with the
	// ETag of the first answer.
	e.proxy.SetRules(faultproxy.Rule{Fault: faultproxy.ResetMidBody, Match: getObject, Count: 1, CutAt: 2*65536 + 1000})
	before := len(e.gets())
	if _, err := e.readBlocks(t, "", 8192, 65536, 65536, 65536, 65536); err != nil {
		t.Fatal(err)
	}
	gets := e.gets()[before:]
	if len(gets) != 2 {
		t.Fatalf("%d GETs, want 2", len(gets))
	}
	if r := gets[1].Header.Get("Range"); r != "bytes=139264-270335" {
		t.Errorf("resumed with Range %q, want the third and fourth buffers", r)
	}
	if gets[1].Header.Get("If-Match") == "" {
		t.Error("resumed without If-Match")
	}

	// Resets forever: an ErrS3 error after RetryMaxAttempts GETs.
	e.proxy.SetRules(faultproxy.Rule{Fault: faultproxy.ResetMidBody, Match: getObject})
	before = len(e.gets())
	if err := e.readAt(t, "", 0, 1000); !errors.Is(err, ErrS3) {
		t.Errorf("always reset: %v", err)
	}
	// ReadBlocks gets half of each answer: the first buffer, then
	// nothing more.
	if n, err := e.readBlocks(t, "", 0, 1000, 1000); n != 1 || !errors.Is(err, ErrS3) {
		t.Errorf("always reset: %d buffers, %v", n, err)
	}
	if n := len(e.gets()) - before; n != 2*DefaultRetryMaxAttempts {
		t.Errorf("always reset: %d GETs for two reads, want %d", n, 2*DefaultRetryMaxAttempts)
	}
}

func TestS3StallDetected(t *testing.T) {
	const stall = 200 * time.Millisecond
	e := s3Faulty(t, Config{StallTimeout: stall},
		faultproxy.Rule{Fault: faultproxy.Stall, Match: getObject, Count: 1})
	start := time.Now()
	if err := e.readAt(t, "", 0, 100_000); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < stall || el > 10*time.Second {
		t.Errorf("stall resolved after %v", el)
	}
	if st := e.c.Stats(); st.Retries != 1 || st.Stalls != 1 {
		t.Errorf("%d retries, %d stalls", st.Retries, st.Stalls)
	}

	// ReadBlocks resumes after a stall in its second buffer.
	e.proxy.SetRules(faultproxy.Rule{Fault: faultproxy.Stall, Match: getObject, Count: 1, CutAt: 70_000})
	if _, err := e.readBlocks(t, "", 0, 65536, 65536, 65536); err != nil {
		t.Fatal(err)
	}

	// A stall before the first body byte, on every attempt: a prompt
	// ErrS3 error wrapping retry.ErrStalled.
	e.proxy.SetRules(faultproxy.Rule{Fault: faultproxy.Stall, Match: getObject, CutAt: -1})
	start = time.Now()
	err := e.readAt(t, "", 0, 1000)
	if !errors.Is(err, ErrS3) || !errors.Is(err, retry.ErrStalled) {
		t.Errorf("always stalled: %v", err)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("gave up after %v", el)
	}

	// A server that never sends the headers: each attempt ends after
	// StallTimeout, the SDK retries it.
	var silent atomic.Int32
	data := e.data
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if silent.Add(-1) >= 0 {
			<-r.Context().Done()
			return
		}
		proxy(w, r, e.s3.URL)
	}))
	defer srv.Close()
	c, err := New(fastS3(Config{Endpoint: srv.URL, Bucket: e.s3.Bucket, StallTimeout: stall}))
	if err != nil {
		t.Fatal(err)
	}
	silent.Store(1)
	p := make([]byte, 5000)
	start = time.Now()
	if n, err := c.ReadAt(context.Background(), e.key, p, 777); n != len(p) || err != nil || !bytes.Equal(p, data[777:777+len(p)]) {
		t.Fatalf("after a silent attempt: n=%d, %v", n, err)
	}
	if el := time.Since(start); el < stall || el > 10*time.Second {
		t.Errorf("silent attempt resolved after %v", el)
	}
	if st := c.Stats(); st.Retries != 1 || st.Stalls != 1 {
		t.Errorf("silent attempt: %d retries, %d stalls", st.Retries, st.Stalls)
	}
	silent.Store(1 << 20)
	start = time.Now()
	if n, err := c.ReadAt(context.Background(), e.key, p, 0); n != 0 || !errors.Is(err, ErrS3) || !errors.Is(err, retry.ErrStalled) {
		t.Errorf("always silent: n=%d, %v", n, err)
	}
	if _, _, err := c.Head(context.Background(), e.key); !errors.Is(err, retry.ErrStalled) {
		t.Errorf("always silent HEAD: %v", err)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("always silent: gave up after %v", el)
	}
}

func TestS3TruncatedBody(t *testing.T) {
	e := s3Faulty(t, Config{}, faultproxy.Rule{Fault: faultproxy.Truncate, Match: getObject, Count: 2})
	if err := e.readAt(t, "", 77, 120_000); err != nil {
		t.Fatal(err)
	}
	e.proxy.SetRules(faultproxy.Rule{Fault: faultproxy.Truncate, Match: getObject, Count: 2, CutAt: 100_000})
	if _, err := e.readBlocks(t, "", 5, 65536, 65536, 1); err != nil {
		t.Fatal(err)
	}
	if e.c.Stats().Retries != 4 {
		t.Errorf("%d retries, want 4", e.c.Stats().Retries)
	}
	// Truncated on every attempt: an error, never a short read.
	e.proxy.SetRules(faultproxy.Rule{Fault: faultproxy.Truncate, Match: getObject, CutAt: -1})
	if err := e.readAt(t, "", 0, 1000); !errors.Is(err, ErrS3) {
		t.Errorf("always truncated: %v", err)
	}
	if n, err := e.readBlocks(t, "", 0, 100, 100); n != 0 || !errors.Is(err, ErrS3) {
		t.Errorf("always truncated: %d, %v", n, err)
	}
}

func TestS3WrongContentRange(t *testing.T) {
	e := s3Faulty(t, Config{}, faultproxy.Rule{Fault: faultproxy.WrongContentRange, Match: getObject, Count: 2})
	if err := e.readAt(t, "", 5000, 50_000); err != nil {
		t.Fatal(err)
	}
	if e.c.Stats().Retries != 2 {
		t.Errorf("%d retries", e.c.Stats().Retries)
	}
	e.proxy.SetRules(faultproxy.Rule{Fault: faultproxy.WrongContentRange, Match: getObject, Count: 1, Shift: -300})
	if _, err := e.readBlocks(t, "", 1000, 4096, 4096); err != nil {
		t.Fatal(err)
	}
	// Always wrong (the end of the object too): the body is never
	// copied, an ErrS3 error after RetryMaxAttempts GETs.
	e.proxy.SetRules(faultproxy.Rule{Fault: faultproxy.WrongContentRange, Match: getObject})
	for _, off := range []int64{5000, int64(len(e.data)) - 1000} {
		before := len(e.gets())
		p := make([]byte, 1000)
		n, err := e.c.ReadAt(context.Background(), e.key, p, off)
		if n != 0 || !errors.Is(err, ErrS3) {
			t.Errorf("always wrong at %d: n=%d, %v", off, n, err)
		}
		if got := len(e.gets()) - before; got != DefaultRetryMaxAttempts {
			t.Errorf("always wrong at %d: %d GETs, want %d", off, got, DefaultRetryMaxAttempts)
		}
	}
	if n, err := e.readBlocks(t, "", 0, 100, 100); n != 0 || !errors.Is(err, ErrS3) {
		t.Errorf("always wrong: %d, %v", n, err)
	}

	// The Source reads such a product from MAST.
	const uri = "mast:HST/product/u9o40504m_raw.fits"
	fm := &fakeMAST{data: map[string][]byte{uri: e.data}, n: map[string]int{}}
	paths := &fakePaths{placed: map[string]string{uri: e.key}}
	src := NewSource(e.c, NewLocator(paths, e.c, LocatorOptions{}), fm, nil)
	p := make([]byte, 3000)
	if n, err := src.ReadAtSize(context.Background(), uri, p, 12345, int64(len(e.data))); n != len(p) || err != nil || !bytes.Equal(p, e.data[12345:12345+len(p)]) {
		t.Fatalf("Source: n=%d, %v", n, err)
	}
	if fm.count(uri) != 1 || src.Stats().Fallbacks != 1 {
		t.Errorf("%d MAST reads, %+v", fm.count(uri), src.Stats())
	}
}

func TestS3IgnoreRange200(t *testing.T) {
	e := s3Faulty(t, Config{}, faultproxy.Rule{Fault: faultproxy.IgnoreRange, Match: getObject})
	size := int64(len(e.data))
	for _, off := range []int64{0, 1, 4096, 700_001, size - 10} {
		if err := e.readAt(t, "", off, min(10_000, size-off)); err != nil {
			t.Fatalf("off %d: %v", off, err)
		}
	}
	// Past the end: io.EOF with the bytes there are.
	p := make([]byte, 100)
	n, err := e.c.ReadAt(context.Background(), e.key, p, size-40)
	if n != 40 || err != io.EOF || !bytes.Equal(p[:40], e.data[size-40:]) {
		t.Errorf("across the end: %d, %v", n, err)
	}
	if n, err := e.c.ReadAt(context.Background(), e.key, p, size); n != 0 || err != io.EOF {
		t.Errorf("at the end: %d, %v", n, err)
	}
	if _, err := e.readBlocks(t, "", 300_000, 65536, 65536, 65536); err != nil {
		t.Fatal(err)
	}
	if _, err := e.readBlocks(t, "", size-3000, 1000, 2000); err != nil {
		t.Fatal(err)
	}
	if st := e.c.Stats(); st.Retries != 0 || st.Errors != 0 {
		t.Errorf("stats %+v", st)
	}
	// Ignored and then broken while skipping to the offset: retried.
	e.proxy.SetRules(
		faultproxy.Rule{Fault: faultproxy.ResetMidBody, Match: getObject, Count: 1, CutAt: 1000},
		faultproxy.Rule{Fault: faultproxy.IgnoreRange, Match: getObject})
	if err := e.readAt(t, "", 500_000, 1000); err != nil {
		t.Fatal(err)
	}
}

// TestS3ETagChangeBetweenBlocks: an answer with another ETag, or an object
// replaced between two GETs of one read, is an error wrapping
// mast.ErrChanged; no buffer is reported with bytes of another version.
func TestS3ETagChangeBetweenBlocks(t *testing.T) {
	ctx := context.Background()
	e := s3Faulty(t, Config{}, faultproxy.Rule{Fault: faultproxy.ChangeETag, Match: getObject})
	_, etag, err := e.c.Head(ctx, e.key)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := e.c.ReadAtETag(ctx, e.key, etag, make([]byte, 1000), 0); n != 0 || !errors.Is(err, mast.ErrChanged) {
		t.Errorf("ReadAtETag of a changed ETag: n=%d, %v", n, err)
	}
	if n, err := e.readBlocks(t, etag, 0, 1000, 1000); n != 0 || !errors.Is(err, mast.ErrChanged) {
		t.Errorf("ReadBlocks of a changed ETag: %d, %v", n, err)
	}

	// The first answer is good and breaks off in the third buffer; the
	// resumed one is of another ETag. With etag "" too: the resumed GET
	// asks for the first answer's version.
	for _, want := range []string{etag, ""} {
		e.proxy.SetRules(
			faultproxy.Rule{Fault: faultproxy.ResetMidBody, Match: getObject, Count: 1, CutAt: 2*4096 + 100},
			faultproxy.Rule{Fault: faultproxy.ChangeETag, Match: getObject})
		n, err := e.readBlocks(t, want, 4096, 4096, 4096, 4096, 4096)
		if n != 2 || !errors.Is(err, mast.ErrChanged) {
			t.Errorf("etag %q: %d buffers, %v; want 2 and ErrChanged", want, n, err)
		}
	}

	// The object really replaced (same size, other bytes) between the
	// first GET, which breaks off, and the resumption.
	for _, want := range []string{etag, ""} {
		e := s3Faulty(t, Config{})
		v2 := randomBytes(78, len(e.data))
		var gets atomic.Int32
		e.proxy.SetRules(
			faultproxy.Rule{Match: func(r *http.Request) bool {
				if r.Method == http.MethodGet && gets.Add(1) == 2 {
					e.s3.put(t, e.key, v2)
				}
				return false
			}},
			faultproxy.Rule{Fault: faultproxy.ResetMidBody, Match: getObject, Count: 1, CutAt: 3*4096 + 1})
		n, err := e.readBlocks(t, want, 0, 4096, 4096, 4096, 4096, 4096)
		if n != 3 || !errors.Is(err, mast.ErrChanged) {
			t.Errorf("replaced, etag %q: %d buffers, %v; want 3 and ErrChanged", want, n, err)
		}
		if st := e.c.Stats(); st.Errors != 0 {
			t.Errorf("a changed object counted as an error: %+v", st)
		}
		// ReadAt broken by a reset, then replaced: the same.
		gets.Store(0)
		e.s3.put(t, e.key, e.data)
		_, etag1, _ := e.c.Head(ctx, e.key)
		if want != "" {
			want = etag1
		}
		e.proxy.SetRules(
			faultproxy.Rule{Match: func(r *http.Request) bool {
				if r.Method == http.MethodGet && gets.Add(1) == 2 {
					e.s3.put(t, e.key, v2)
				}
				return false
			}},
			faultproxy.Rule{Fault: faultproxy.ResetMidBody, Match: getObject, Count: 1})
		p := make([]byte, 50_000)
		got, err := e.c.ReadAtETag(ctx, e.key, want, p, 1000)
		switch {
		case want != "" && (got != 0 || !errors.Is(err, mast.ErrChanged)):
			t.Errorf("ReadAtETag, replaced: n=%d, %v; want ErrChanged", got, err)
		case want == "" && err == nil && !bytes.Equal(p, v2[1000:1000+len(p)]):
			// An unpinned ReadAt retries the whole range: all of the
			// new version is right, never a splice.
			t.Errorf("ReadAt, replaced: not the new version's bytes")
		case err != nil && got != 0:
			t.Errorf("ReadAt, replaced: n=%d with %v", got, err)
		}
	}
}

// TestS3DownFallsBackToMAST: the bucket's endpoint resets every
// connection; the Source serves every read from the MAST download service
// (the real client against the emulator), byte-exact and promptly.
func TestS3DownFallsBackToMAST(t *testing.T) {
	cat := mastemu.Generate(7, 60, 6)
	emu := mastemu.New(mastemu.Options{Catalog: cat})
	hs := httptest.NewServer(emu)
	defer hs.Close()
	mc := mast.New(mast.Config{BaseURL: hs.URL, RetryBase: time.Millisecond, RetryCap: 5 * time.Millisecond})

	var prods []mastemu.ProductInfo
	objects := map[string][]byte{}
	want := map[string][]byte{}
	cat.EachProduct(func(_ string, p mastemu.ProductInfo) bool {
		if p.CloudKey == "" || p.Exclusive || p.Dynamic || p.Size < 100_000 || want[p.DataURI] != nil {
			return true
		}
		r, ok := cat.Open(p.DataURI)
		if !ok {
			t.Fatalf("Open(%s)", p.DataURI)
		}
		b, err := io.ReadAll(io.NewSectionReader(r, 0, r.Size()))
		if err != nil || int64(len(b)) != p.Size {
			t.Fatalf("%s: %d bytes, %v", p.DataURI, len(b), err)
		}
		prods = append(prods, p)
		objects[p.CloudKey] = b
		want[p.DataURI] = b
		return len(prods) < 2
	})
	if len(prods) < 2 {
		t.Fatal("fewer than 2 cloud products of 100 kB in the catalog")
	}
	f, _ := newFakeS3(t, objects, false)
	px := faultproxy.New(f.URL, 7)
	defer px.Close()
	c, err := New(fastS3(Config{Endpoint: px.URL(), Bucket: f.Bucket}))
	if err != nil {
		t.Fatal(err)
	}
	src := NewSource(c, NewLocator(mc, c, LocatorOptions{}), mc, nil)
	ctx := context.Background()
	check := func(name string, uri string, p []byte, off int64, n int, err error) {
		t.Helper()
		if err != nil || n != len(p) || !bytes.Equal(p, want[uri][off:off+int64(len(p))]) {
			t.Fatalf("%s %s at %d: n=%d, %v (right bytes: %v)", name, uri, off, n, err,
				n <= len(p) && bytes.Equal(p[:n], want[uri][off:off+int64(n)]))
		}
	}

	// Healthy: the first product is located and read from the bucket.
	a, b := prods[0], prods[1]
	etag := src.ETag(ctx, a.DataURI)
	if etag == "" {
		t.Fatal("no ETag: the product is not located")
	}
	p := make([]byte, 10_000)
	n, err := src.ReadAtVersion(ctx, a.DataURI, p, 100, a.Size, etag)
	check("healthy", a.DataURI, p, 100, n, err)
	downloads := emu.Stats().Requests[mastemu.EndpointDownload]
	if st := src.Stats(); st.S3Reads != 1 || downloads != 0 {
		t.Fatalf("healthy: %+v, %d downloads", st, downloads)
	}

	// Down: reads of the located product and of one never located come
	// from MAST.
	px.SetRules(faultproxy.Rule{Fault: faultproxy.Down})
	start := time.Now()
	n, err = src.ReadAtVersion(ctx, a.DataURI, p, 5000, a.Size, etag)
	check("down", a.DataURI, p, 5000, n, err)
	bufs := [][]byte{make([]byte, 4096), make([]byte, 4096), make([]byte, 1000)}
	var filled []int
	if err := src.ReadBlocks(ctx, a.DataURI, 8192, a.Size, etag, bufs, func(i int) { filled = append(filled, i) }); err != nil {
		t.Fatalf("ReadBlocks, down: %v", err)
	}
	off := int64(8192)
	for i, buf := range bufs {
		check("ReadBlocks, down", a.DataURI, buf, off, len(buf), nil)
		off += int64(len(buf))
		if i >= len(filled) || filled[i] != i {
			t.Fatalf("filled %v", filled)
		}
	}
	n, err = src.ReadAtSize(ctx, b.DataURI, p, 0, b.Size)
	check("down, never located", b.DataURI, p, 0, n, err)
	n, err = src.ReadAtSize(ctx, b.DataURI, p[:77], b.Size-77, b.Size)
	check("down, never located", b.DataURI, p[:77], b.Size-77, n, err)
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("reads with the bucket down took %v", el)
	}
	if st := src.Stats(); st.S3Reads != 1 || st.Fallbacks < 1 {
		t.Errorf("down: %+v", st)
	}
	if got := emu.Stats().Requests[mastemu.EndpointDownload]; got < 5 {
		t.Errorf("%d MAST downloads for 5 reads", got)
	}
	if px.Stats()[faultproxy.Down] == 0 {
		t.Error("no request reached the dead bucket")
	}
	if st := c.Stats(); st.Errors == 0 || st.Retries == 0 {
		t.Errorf("client stats %+v: the failures were not retried or counted", st)
	}
}

// TestS3RandomFaultsNeverWrongBytes: 8% of all requests get a random
// fault; concurrent ReadAt, ReadAtETag and ReadBlocks calls at random
// ranges get the right bytes (retries absorb the faults) or an error,
// never other bytes.
func TestS3RandomFaultsNeverWrongBytes(t *testing.T) {
	kinds := append(faultproxy.BodyFaults(), faultproxy.Status500Burst, faultproxy.Status503Burst,
		faultproxy.TooManyRequests, faultproxy.SlowDown, faultproxy.Down, faultproxy.Stall)
	e := s3Faulty(t, Config{StallTimeout: 2 * time.Second}, faultproxy.RandomMix(0.08, kinds...))
	_, etag, err := e.c.Head(context.Background(), e.key)
	for err != nil {
		_, etag, err = e.c.Head(context.Background(), e.key)
	}
	size := int64(len(e.data))
	var wg sync.WaitGroup
	var failed, ops atomic.Int32
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 2))
			for i := range 80 {
				ops.Add(1)
				var err error
				switch i % 3 {
				case 0, 1:
					off := rng.Int64N(size)
					n := 1 + rng.Int64N(96<<10)
					v := ""
					if i%3 == 1 {
						v = etag
					}
					err = e.readAt(t, v, off, n)
					if err == io.EOF {
						err = nil
					}
				case 2:
					sizes := make([]int, 1+rng.IntN(6))
					total := int64(0)
					for j := range sizes {
						sizes[j] = 1 + rng.IntN(32<<10)
						total += int64(sizes[j])
					}
					v := ""
					if rng.IntN(2) == 0 {
						v = etag
					}
					_, err = e.readBlocks(t, v, rng.Int64N(size-total+1), sizes...)
				}
				if err != nil {
					failed.Add(1)
					t.Logf("op %d: %v", i, err)
				}
			}
		}()
	}
	wg.Wait()
	st := e.c.Stats()
	t.Logf("%d ops, %d requests, %d faults %v, %d retries, %d stalls, %d failed",
		ops.Load(), e.proxy.Requests(), e.proxy.Injected(), e.proxy.Stats(), st.Retries, st.Stalls, failed.Load())
	if e.wrong.Load() != 0 {
		t.Fatalf("%d WRONG answers", e.wrong.Load())
	}
	if e.proxy.Injected() < 10 {
		t.Errorf("only %d faults injected", e.proxy.Injected())
	}
	// With 8% faults and 3 attempts a failure is rare; a few are tolerated
	// (a retry quota, a loaded machine), wrong bytes never.
	if f := failed.Load(); f > ops.Load()/50 {
		t.Errorf("%d of %d reads failed", f, ops.Load())
	}
}
