package mast_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mastfs/mastfs/faultproxy"
	"github.com/mastfs/mastfs/mast"
	"github.com/mastfs/mastfs/mast/mastemu"
	"github.com/mastfs/mastfs/retry"
)

// These tests put faultproxy between the client and the emulator. Each
// names the fault it injects; all of them check that a read gives exactly
// the product's bytes, or an error, never other bytes.

const faultToken = "fault-secret-token-7731"

type faultEnv struct {
	c     *mast.Client
	proxy *faultproxy.Proxy
	emu   *mastemu.Server
	cat   *mastemu.Catalog
	prod  mastemu.ProductInfo // a public product of known length
	data  []byte              // its bytes
	logs  *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// fastRetries keeps backoff short; tests that need the defaults set them.
func fastRetries(cfg mast.Config) mast.Config {
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
	if cfg.Token == "" {
		cfg.Token = faultToken
	}
	return cfg
}

func faulty(t *testing.T, opts mastemu.Options, cfg mast.Config, rules ...faultproxy.Rule) *faultEnv {
	t.Helper()
	if opts.Catalog == nil {
		opts.Catalog = mastemu.Generate(5, 60, 4)
	}
	if opts.Token == "" {
		opts.Token = faultToken
	}
	emu := mastemu.New(opts)
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	p := faultproxy.New(srv.URL, 42)
	t.Cleanup(p.Close)
	p.SetRules(rules...)
	env := &faultEnv{proxy: p, emu: emu, cat: opts.Catalog, logs: &syncBuffer{}}
	cfg = fastRetries(cfg)
	cfg.BaseURL = p.URL()
	cfg.ResolverURL = p.URL() + "/Santa-war/query"
	cfg.Logger = slog.New(slog.NewTextHandler(env.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	env.c = mast.New(cfg)
	prod, ok := env.cat.FindProduct(func(p mastemu.ProductInfo) bool {
		return !p.Exclusive && !p.Dynamic && p.Size >= 200_000
	})
	if !ok {
		t.Fatal("no product of 200 kB in the catalog")
	}
	env.prod = prod
	sr, _ := env.cat.Open(prod.DataURI)
	env.data, _ = io.ReadAll(sr)
	if int64(len(env.data)) != prod.Length {
		t.Fatalf("product %s: %d bytes, want %d", prod.DataURI, len(env.data), prod.Length)
	}
	t.Cleanup(func() {
		if strings.Contains(env.logs.String(), faultToken) {
			t.Errorf("token in the logs")
		}
	})
	return env
}

// readAt reads n bytes at off and checks them: right bytes or an error,
// and the bytes given with an error are right too.
func (e *faultEnv) readAt(t *testing.T, off, n int64) error {
	t.Helper()
	p := make([]byte, n)
	got, err := e.c.ReadAt(context.Background(), e.prod.DataURI, p, off)
	if !bytes.Equal(p[:got], e.data[off:off+int64(got)]) {
		t.Fatalf("ReadAt(%d, %d): WRONG BYTES (n=%d, err=%v)", off, n, got, err)
	}
	if err == nil && int64(got) != n {
		t.Fatalf("ReadAt(%d, %d): short read %d without error", off, n, got)
	}
	if err != nil && strings.Contains(err.Error(), faultToken) {
		t.Fatalf("token in error: %v", err)
	}
	return err
}

// open reads the whole product with Open and checks the bytes.
func (e *faultEnv) open(t *testing.T) error {
	t.Helper()
	rc, err := e.c.Open(context.Background(), e.prod.DataURI)
	if err != nil {
		return err
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if !bytes.Equal(got, e.data[:len(got)]) {
		t.Fatalf("Open: WRONG BYTES (%d bytes, err=%v)", len(got), err)
	}
	if err == nil && len(got) != len(e.data) {
		t.Fatalf("Open: %d bytes without error, want %d", len(got), len(e.data))
	}
	return err
}

var download = faultproxy.PathContains("/Download/file")

// burst injects fault into the first n requests of each operation and
// checks every operation still succeeds with the right answer.
func burst(t *testing.T, fault faultproxy.Fault, n int) {
	e := faulty(t, mastemu.Options{}, mast.Config{})
	ctx := context.Background()
	rule := faultproxy.Rule{Fault: fault, Count: n, RetryAfter: -1}
	ops := []struct {
		name string
		run  func() error
	}{
		{"ReadAt", func() error { return e.readAt(t, 1000, 100_000) }},
		{"Open", func() error { return e.open(t) }},
		{"Head", func() error {
			info, err := e.c.Head(ctx, e.prod.DataURI)
			if err == nil && info.Size != e.prod.Length {
				t.Errorf("Head size %d, want %d", info.Size, e.prod.Length)
			}
			return err
		}},
		{"Count", func() error {
			_, err := e.c.Count(ctx, mast.Query{Criteria: []mast.Criterion{lits("obs_collection", "HST")}})
			return err
		}},
		{"Products", func() error {
			_, err := e.c.Products(ctx, []string{e.prod.OwnerObsID})
			return err
		}},
		{"Resolve", func() error { _, _, err := e.c.Resolve(ctx, "M101", ""); return err }},
		{"PathLookup", func() error { _, err := e.c.PathLookup(ctx, []string{e.prod.DataURI}); return err }},
		{"BundleScript", func() error { _, err := e.c.BundleScript(ctx, []string{e.prod.DataURI}); return err }},
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
			got := e.c.Stats().Retries - before
			// net/http itself resends an idempotent request once when a
			// reused connection closes before any answer (Down).
			if got != int64(n) && !(fault == faultproxy.Down && got >= 1 && got < int64(n)) {
				t.Errorf("%d retries, want %d", got, n)
			}
		})
	}
}

func TestRetry500Burst(t *testing.T) { burst(t, faultproxy.Status500Burst, 2) }

func TestRetry503Burst(t *testing.T) { burst(t, faultproxy.Status503Burst, 3) }

func TestRetryDownBurst(t *testing.T) { burst(t, faultproxy.Down, 3) }

func TestRetry429RetryAfter(t *testing.T) {
	for _, fault := range []faultproxy.Fault{faultproxy.TooManyRequests, faultproxy.SlowDown} {
		t.Run(fault.String(), func(t *testing.T) {
			// Backoff alone would wait ≤ 5ms: the 1s is the server's.
			e := faulty(t, mastemu.Options{}, mast.Config{},
				faultproxy.Rule{Fault: fault, Count: 1, RetryAfter: time.Second})
			start := time.Now()
			if err := e.readAt(t, 0, 5000); err != nil {
				t.Fatal(err)
			}
			if el := time.Since(start); el < time.Second || el > 10*time.Second {
				t.Errorf("took %v, want about the 1s Retry-After", el)
			}
			if e.c.Stats().Retries != 1 || e.proxy.Requests() != 2 {
				t.Errorf("retries %d, proxy requests %d", e.c.Stats().Retries, e.proxy.Requests())
			}
		})
	}
}

func TestRetryAfterIsCappedByContext(t *testing.T) {
	e := faulty(t, mastemu.Options{}, mast.Config{},
		faultproxy.Rule{Fault: faultproxy.TooManyRequests, RetryAfter: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := e.c.ReadAt(ctx, e.prod.DataURI, make([]byte, 10), 0)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("%v after %v", err, time.Since(start))
	}
}

func TestResetMidBody(t *testing.T) {
	e := faulty(t, mastemu.Options{}, mast.Config{},
		faultproxy.Rule{Fault: faultproxy.ResetMidBody, Match: download, Count: 2})
	if err := e.readAt(t, 3000, 150_000); err != nil {
		t.Fatal(err)
	}
	e.proxy.SetRules(faultproxy.Rule{Fault: faultproxy.ResetMidBody, Match: download, Count: 2})
	if err := e.open(t); err != nil {
		t.Fatal(err)
	}
	if n := e.proxy.Stats()[faultproxy.ResetMidBody]; n != 4 || e.c.Stats().Retries != 4 {
		t.Errorf("%d resets, %d retries", n, e.c.Stats().Retries)
	}
	// Resets forever: partial bytes are kept (all right), and the read
	// ends with an ErrServer error once a retry gains nothing.
	e.proxy.SetRules(faultproxy.Rule{Fault: faultproxy.ResetMidBody, Match: download})
	if err := e.readAt(t, 0, 1000); !errors.Is(err, mast.ErrServer) {
		t.Errorf("always reset: %v", err)
	}
}

func TestStallDetected(t *testing.T) {
	e := faulty(t, mastemu.Options{}, mast.Config{StallTimeout: 200 * time.Millisecond},
		faultproxy.Rule{Fault: faultproxy.Stall, Match: download, Count: 1})
	start := time.Now()
	if err := e.readAt(t, 0, 100_000); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 200*time.Millisecond || el > 10*time.Second {
		t.Errorf("stall resolved after %v", el)
	}
	if e.c.Stats().Retries < 1 {
		t.Errorf("%d retries", e.c.Stats().Retries)
	}

	// A stall before the first body byte, on every attempt: a prompt
	// ErrServer error wrapping retry.ErrStalled.
	e.proxy.SetRules(faultproxy.Rule{Fault: faultproxy.Stall, Match: download, CutAt: -1})
	start = time.Now()
	err := e.readAt(t, 0, 1000)
	if !errors.Is(err, mast.ErrServer) || !errors.Is(err, retry.ErrStalled) {
		t.Errorf("always stalled: %v", err)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("gave up after %v", el)
	}

	// Open: a stall mid-stream resumes.
	e.proxy.SetRules(faultproxy.Rule{Fault: faultproxy.Stall, Match: download, Count: 1})
	if err := e.open(t); err != nil {
		t.Fatal(err)
	}
}

func TestTruncatedBody(t *testing.T) {
	e := faulty(t, mastemu.Options{}, mast.Config{},
		faultproxy.Rule{Fault: faultproxy.Truncate, Match: download, Count: 2})
	if err := e.readAt(t, 77, 120_000); err != nil {
		t.Fatal(err)
	}
	e.proxy.SetRules(faultproxy.Rule{Fault: faultproxy.Truncate, Match: download, Count: 2})
	if err := e.open(t); err != nil {
		t.Fatal(err)
	}
	// JSON answers are retried too.
	e.proxy.SetRules(faultproxy.Rule{Fault: faultproxy.Truncate, Match: faultproxy.PathContains("/invoke"), Count: 2})
	if _, err := e.c.Products(context.Background(), []string{e.prod.OwnerObsID}); err != nil {
		t.Fatal(err)
	}
	// Truncated on every attempt: an error, never a short read.
	e.proxy.SetRules(faultproxy.Rule{Fault: faultproxy.Truncate, Match: download, CutAt: -1})
	if err := e.readAt(t, 0, 1000); !errors.Is(err, mast.ErrServer) {
		t.Errorf("always truncated: %v", err)
	}
}

func TestWrongContentRange(t *testing.T) {
	e := faulty(t, mastemu.Options{}, mast.Config{},
		faultproxy.Rule{Fault: faultproxy.WrongContentRange, Match: download, Count: 2})
	if err := e.readAt(t, 5000, 50_000); err != nil {
		t.Fatal(err)
	}
	if e.c.Stats().Retries != 2 {
		t.Errorf("%d retries", e.c.Stats().Retries)
	}
	// Always wrong: the body is never copied.
	e.proxy.SetRules(faultproxy.Rule{Fault: faultproxy.WrongContentRange, Match: download})
	p := make([]byte, 1000)
	n, err := e.c.ReadAt(context.Background(), e.prod.DataURI, p, 5000)
	if n != 0 || !errors.Is(err, mast.ErrServer) {
		t.Errorf("always wrong: n=%d, %v", n, err)
	}
	// A resumed Open checks the range it gets as well.
	e.proxy.SetRules(
		faultproxy.Rule{Fault: faultproxy.ResetMidBody, Match: download, Count: 1},
		faultproxy.Rule{Fault: faultproxy.WrongContentRange, Match: faultproxy.Ranged, Count: 1})
	if err := e.open(t); err != nil {
		t.Fatal(err)
	}
}

func TestIgnoredRange200(t *testing.T) {
	e := faulty(t, mastemu.Options{}, mast.Config{},
		faultproxy.Rule{Fault: faultproxy.IgnoreRange, Match: download})
	for _, off := range []int64{0, 1, 4096, e.prod.Length - 10} {
		if err := e.readAt(t, off, min(10_000, e.prod.Length-off)); err != nil {
			t.Fatalf("off %d: %v", off, err)
		}
	}
	// Past the end: io.EOF with the bytes there are.
	p := make([]byte, 100)
	n, err := e.c.ReadAt(context.Background(), e.prod.DataURI, p, e.prod.Length-40)
	if n != 40 || err != io.EOF || !bytes.Equal(p[:40], e.data[e.prod.Length-40:]) {
		t.Errorf("across the end: %d, %v", n, err)
	}
	// Open resumes with a Range the server ignores: it skips to the
	// resume point in the whole body.
	e.proxy.SetRules(
		faultproxy.Rule{Fault: faultproxy.ResetMidBody, Match: download, Count: 1},
		faultproxy.Rule{Fault: faultproxy.IgnoreRange, Match: download})
	if err := e.open(t); err != nil {
		t.Fatal(err)
	}
}

func TestMastDown(t *testing.T) {
	e := faulty(t, mastemu.Options{}, mast.Config{}, faultproxy.Rule{Fault: faultproxy.Down})
	ctx := context.Background()
	check := func(name string, err error, start time.Time) {
		t.Helper()
		if !errors.Is(err, mast.ErrServer) {
			t.Errorf("%s: %v, want ErrServer", name, err)
		}
		if err != nil && strings.Contains(err.Error(), faultToken) {
			t.Errorf("%s: token in %v", name, err)
		}
		if el := time.Since(start); el > 5*time.Second {
			t.Errorf("%s: took %v", name, el)
		}
	}
	before := e.proxy.Requests()
	start := time.Now()
	_, err := e.c.ReadAt(ctx, e.prod.DataURI, make([]byte, 100), 0)
	check("ReadAt", err, start)
	if n := e.proxy.Requests() - before; n != mast.DefaultRetries {
		t.Errorf("%d attempts, want %d", n, mast.DefaultRetries)
	}
	start = time.Now()
	_, err = e.c.Head(ctx, e.prod.DataURI)
	check("Head", err, start)
	start = time.Now()
	_, err = e.c.Open(ctx, e.prod.DataURI)
	check("Open", err, start)
	start = time.Now()
	_, err = e.c.Count(ctx, mast.Query{Criteria: []mast.Criterion{lits("obs_collection", "HST")}})
	check("Count", err, start)

	// Nothing listening at all, with the default backoff.
	e.proxy.Close()
	c := mast.New(mast.Config{BaseURL: e.proxy.URL(), Token: faultToken})
	start = time.Now()
	_, err = c.ReadAt(ctx, e.prod.DataURI, make([]byte, 100), 0)
	check("closed port", err, start)
	if c.Stats().Retries != mast.DefaultRetries-1 {
		t.Errorf("%d retries", c.Stats().Retries)
	}
}

func TestNoRetryOn4xx(t *testing.T) {
	e := faulty(t, mastemu.Options{}, mast.Config{})
	ctx := context.Background()
	// 404: a product the archive does not have.
	_, err := e.c.ReadAt(ctx, "mast:HST/product/no_such_file.fits", make([]byte, 10), 0)
	if !errors.Is(err, mast.ErrNotFound) {
		t.Errorf("404: %v", err)
	}
	// 401: an exclusive product with the wrong token.
	excl, ok := e.cat.FindProduct(func(p mastemu.ProductInfo) bool { return p.Exclusive && p.Size > 0 })
	if ok {
		c := mast.New(fastRetries(mast.Config{BaseURL: e.proxy.URL(), Token: "wrong"}))
		if _, err := c.ReadAt(ctx, excl.DataURI, make([]byte, 10), 0); !errors.Is(err, mast.ErrUnauthorized) {
			t.Errorf("401: %v", err)
		}
	}
	if e.proxy.Requests() != 1+map[bool]int64{true: 1}[ok] || e.c.Stats().Retries != 0 {
		t.Errorf("%d requests, %d retries: 4xx retried", e.proxy.Requests(), e.c.Stats().Retries)
	}

	// 400 and 404 from a plain server, for every kind of request.
	for _, code := range []int{400, 404, 405, 410, 501} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			var hits atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				w.WriteHeader(code)
			}))
			defer srv.Close()
			c := mast.New(fastRetries(mast.Config{BaseURL: srv.URL, ResolverURL: srv.URL + "/r"}))
			if _, err := c.ReadAt(ctx, "mast:X/a", make([]byte, 10), 0); err == nil {
				t.Error("ReadAt: no error")
			}
			if _, err := c.Products(ctx, []string{"1"}); err == nil {
				t.Error("Products: no error")
			}
			if _, err := c.Open(ctx, "mast:X/a"); err == nil {
				t.Error("Open: no error")
			}
			if hits.Load() != 3 || c.Stats().Retries != 0 {
				t.Errorf("%d requests, %d retries for 3 calls", hits.Load(), c.Stats().Retries)
			}
		})
	}
}

// TestOpenCannotResumeWithoutLength: a generated product (no length) that
// breaks after bytes were handed out cannot be resumed safely: an error.
func TestOpenCannotResumeWithoutLength(t *testing.T) {
	e := faulty(t, mastemu.Options{}, mast.Config{})
	dyn, ok := e.cat.FindProduct(func(p mastemu.ProductInfo) bool { return p.Dynamic && !p.Exclusive && p.Length > 4096 })
	if !ok {
		t.Skip("no dynamic product")
	}
	sr, _ := e.cat.Open(dyn.DataURI)
	want, _ := io.ReadAll(sr)
	e.proxy.SetRules(faultproxy.Rule{Fault: faultproxy.ResetMidBody, Match: download, Count: 1, CutAt: 1000})
	rc, err := e.c.Open(context.Background(), dyn.DataURI)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if !bytes.Equal(got, want[:len(got)]) {
		t.Fatal("WRONG BYTES")
	}
	if len(got) != 1000 || !errors.Is(err, mast.ErrServer) {
		t.Errorf("%d bytes, %v", len(got), err)
	}
	// Before the first byte, a plain retry is safe.
	e.proxy.SetRules(faultproxy.Rule{Fault: faultproxy.ResetMidBody, Match: download, Count: 1, CutAt: -1})
	rc, err = e.c.Open(context.Background(), dyn.DataURI)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if got, err := io.ReadAll(rc); err != nil || !bytes.Equal(got, want) {
		t.Errorf("%d bytes, %v", len(got), err)
	}
}

// TestOpenResumeRefusesChangedETag: a product replaced between the first
// answer and the resumption is ErrChanged, not a splice of two versions.
func TestOpenResumeRefusesChangedETag(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 10_000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
	}))
	defer srv.Close()
	p := faultproxy.New(srv.URL, 1)
	defer p.Close()
	p.SetRules(
		faultproxy.Rule{Fault: faultproxy.ResetMidBody, Count: 1},
		faultproxy.Rule{Fault: faultproxy.ChangeETag})
	c := mast.New(fastRetries(mast.Config{BaseURL: p.URL()}))
	rc, err := c.Open(context.Background(), "mast:X/a.fits")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if !bytes.Equal(got, data[:len(got)]) || len(got) == len(data) || !errors.Is(err, mast.ErrChanged) {
		t.Errorf("%d bytes, %v", len(got), err)
	}
}

// TestRandomFaultsNeverWrongBytes: 5% of all requests get a random fault;
// concurrent readers at random offsets get the right bytes every time
// (retries absorb the faults) or an error, never other bytes.
func TestRandomFaultsNeverWrongBytes(t *testing.T) {
	kinds := append(faultproxy.BodyFaults(), faultproxy.Status500Burst, faultproxy.Status503Burst,
		faultproxy.TooManyRequests, faultproxy.SlowDown, faultproxy.Down, faultproxy.Stall)
	e := faulty(t, mastemu.Options{}, mast.Config{StallTimeout: 300 * time.Millisecond},
		faultproxy.RandomMix(0.05, kinds...))
	var wg sync.WaitGroup
	var failed atomic.Int32
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for range 50 {
				off := rng.Int64N(e.prod.Length - 1)
				n := min(1+rng.Int64N(64<<10), e.prod.Length-off)
				if err := e.readAt(t, off, n); err != nil {
					failed.Add(1)
					t.Logf("ReadAt(%d, %d): %v", off, n, err)
				}
			}
		}()
	}
	wg.Wait()
	if err := e.open(t); err != nil {
		t.Logf("Open: %v", err)
		failed.Add(1)
	}
	t.Logf("%d requests, %d faults %v, %d retries, %d failed reads",
		e.proxy.Requests(), e.proxy.Injected(), e.proxy.Stats(), e.c.Stats().Retries, failed.Load())
	if e.proxy.Injected() == 0 {
		t.Error("no fault injected")
	}
	if failed.Load() > 0 {
		t.Errorf("%d reads failed with 5%% faults and %d attempts", failed.Load(), mast.DefaultRetries)
	}
}

// slowTransport waits before handing a request on, as a request limiter
// with every slot taken does.
type slowTransport struct{ wait time.Duration }

func (s slowTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	time.Sleep(s.wait)
	return http.DefaultTransport.RoundTrip(r)
}

// TestWaitingForASlotIsNotAStall: time spent in an outer RoundTripper
// before the transport asks for a connection (mastfs's request limiter)
// does not count toward StallTimeout.
func TestWaitingForASlotIsNotAStall(t *testing.T) {
	e := faulty(t, mastemu.Options{}, mast.Config{StallTimeout: 100 * time.Millisecond,
		HTTPClient: &http.Client{Transport: slowTransport{300 * time.Millisecond}}})
	if err := e.readAt(t, 0, 1000); err != nil {
		t.Fatal(err)
	}
	if n := e.c.Stats().Retries; n != 0 {
		t.Fatalf("%d retries: a wait for a slot was taken for a stall", n)
	}
}
