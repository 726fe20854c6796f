package cloud

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mastfs/mastfs/mast"
	"github.com/mastfs/mastfs/mast/mastemu"
)

var _ PathLookuper = (*mast.Client)(nil)
var _ ObjectHeader = (*Client)(nil)

// fakePaths is a path_lookup that places uri "u<i>" at key "k/<i>" for the
// URIs in placed, records its batches and can be held or made to fail.
type fakePaths struct {
	placed map[string]string
	hold   chan struct{} // when set, every call waits for it to close
	fail   atomic.Int32  // fail this many calls

	mu      sync.Mutex
	batches [][]string
}

func (f *fakePaths) PathLookup(ctx context.Context, uris []string) (map[string]string, error) {
	f.mu.Lock()
	f.batches = append(f.batches, append([]string(nil), uris...))
	f.mu.Unlock()
	if f.hold != nil {
		select {
		case <-f.hold:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if f.fail.Load() > 0 {
		f.fail.Add(-1)
		return nil, fmt.Errorf("%w: path_lookup: 503", mast.ErrServer)
	}
	out := map[string]string{}
	for _, u := range uris {
		if k, ok := f.placed[u]; ok {
			out[u] = k
		}
	}
	return out, nil
}

func (f *fakePaths) calls() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]string(nil), f.batches...)
}

func (f *fakePaths) looked() map[string]int {
	n := map[string]int{}
	for _, b := range f.calls() {
		for _, u := range b {
			n[u]++
		}
	}
	return n
}

// locatorFixture: n URIs; path_lookup places those with i%10 != 0; of
// those, the bucket lacks those with i%10 == 5.
func locatorFixture(t *testing.T, n int) (*fakePaths, *fakeS3, []string, map[string]string) {
	t.Helper()
	paths := &fakePaths{placed: map[string]string{}}
	objects := map[string][]byte{}
	want := map[string]string{}
	var uris []string
	for i := 0; i < n; i++ {
		u := fmt.Sprintf("mast:HST/product/u%03d.fits", i)
		uris = append(uris, u)
		if i%10 == 0 {
			continue
		}
		key := fmt.Sprintf("hst/public/u%03d/u%03d.fits", i, i)
		paths.placed[u] = key
		if i%10 == 5 {
			continue
		}
		objects[key] = []byte(strings.Repeat("x", i+1))
		want[u] = key
	}
	s3, _ := newFakeS3(t, objects, false)
	return paths, s3, uris, want
}

func sameMap(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestLocatorBatchesAndHEADFiltering(t *testing.T) {
	paths, s3, uris, want := locatorFixture(t, 100)
	c := s3.client(t)
	loc := NewLocator(paths, c, LocatorOptions{})
	ctx := context.Background()
	// Duplicates and empty strings are asked once / not at all.
	got, err := loc.Locate(ctx, append(append([]string{""}, uris...), uris[:7]...))
	if err != nil {
		t.Fatal(err)
	}
	if !sameMap(got, want) {
		t.Fatalf("Locate found %d URIs, want %d:\n got %v\nwant %v", len(got), len(want), got, want)
	}
	calls := paths.calls()
	if len(calls) != 3 {
		t.Fatalf("%d path_lookup calls, want 3 (40+40+20)", len(calls))
	}
	for _, b := range calls {
		if len(b) > PathLookupBatch {
			t.Fatalf("path_lookup batch of %d URIs", len(b))
		}
	}
	for u, n := range paths.looked() {
		if n != 1 {
			t.Fatalf("%s looked up %d times", u, n)
		}
	}
	if h := c.Stats().Heads; h != 90 {
		t.Fatalf("%d HEADs, want 90 (one per placed key)", h)
	}
	// Learned once: nothing is asked again.
	got, err = loc.Locate(ctx, uris)
	if err != nil || !sameMap(got, want) {
		t.Fatalf("second Locate: %v, %v", got, err)
	}
	if len(paths.calls()) != 3 || c.Stats().Heads != 90 {
		t.Fatalf("second Locate asked again: %d lookups, %d HEADs", len(paths.calls()), c.Stats().Heads)
	}
	// Cached answers, sizes and ETags.
	for i, u := range uris {
		key, found, known := loc.Cached(u)
		if !known || found != (want[u] != "") || key != want[u] {
			t.Fatalf("Cached(%s) = %q, %v, %v", u, key, found, known)
		}
		if l, ok, _ := loc.CachedLocation(u); ok && (l.Size != int64(i+1) || l.ETag == "") {
			t.Fatalf("CachedLocation(%s) = %+v", u, l)
		}
	}
	if _, _, known := loc.Cached("mast:never/asked.fits"); known {
		t.Fatal("Cached knows a URI nobody asked for")
	}
}

func TestLocatorSharesWork(t *testing.T) {
	paths, s3, uris, want := locatorFixture(t, 120)
	paths.hold = make(chan struct{})
	loc := NewLocator(paths, s3.client(t), LocatorOptions{})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Overlapping subsets, in different orders.
			sub := append([]string(nil), uris[g*5:]...)
			if g%2 == 1 {
				sort.Sort(sort.Reverse(sort.StringSlice(sub)))
			}
			got, err := loc.Locate(context.Background(), sub)
			if err != nil {
				errs <- err
				return
			}
			for _, u := range sub {
				if got[u] != want[u] {
					errs <- fmt.Errorf("goroutine %d: %s -> %q, want %q", g, u, got[u], want[u])
					return
				}
			}
		}()
	}
	time.Sleep(50 * time.Millisecond) // let every caller register
	close(paths.hold)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for u, n := range paths.looked() {
		if n != 1 {
			t.Fatalf("%s looked up %d times by concurrent callers", u, n)
		}
	}
	if len(paths.looked()) != len(uris) {
		t.Fatalf("%d URIs looked up, want %d", len(paths.looked()), len(uris))
	}
	for _, b := range paths.calls() {
		if len(b) > PathLookupBatch {
			t.Fatalf("batch of %d", len(b))
		}
	}
}

func TestLocatorFailuresAreNotKept(t *testing.T) {
	paths, s3, uris, want := locatorFixture(t, 50)
	paths.fail.Store(1)
	c := s3.client(t)
	loc := NewLocator(paths, c, LocatorOptions{})
	ctx := context.Background()
	if _, err := loc.Locate(ctx, uris); !errors.Is(err, mast.ErrServer) {
		t.Fatalf("Locate with a failing path_lookup: %v", err)
	}
	if _, _, known := loc.Cached(uris[1]); known {
		t.Fatal("a failed lookup was kept")
	}
	got, err := loc.Locate(ctx, uris)
	if err != nil || !sameMap(got, want) {
		t.Fatalf("retry: %v, %v", got, err)
	}
}

func TestLocatorHEADErrors(t *testing.T) {
	// An S3 that answers 500 for one key and 403 for another.
	var broken atomic.Bool
	broken.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/k/500") && broken.Load():
			w.WriteHeader(http.StatusInternalServerError)
		case strings.HasSuffix(r.URL.Path, "/k/403"):
			w.WriteHeader(http.StatusForbidden)
		case strings.HasSuffix(r.URL.Path, "/k/404"):
			w.WriteHeader(http.StatusNotFound)
		default:
			w.Header().Set("Content-Length", "3")
			w.Header().Set("ETag", `"abc"`)
		}
	}))
	defer srv.Close()
	c, err := New(Config{Endpoint: srv.URL, RetryMaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	paths := &fakePaths{placed: map[string]string{"a": "k/500", "b": "k/403", "c": "k/404", "d": "k/ok"}}
	loc := NewLocator(paths, c, LocatorOptions{})
	got, err := loc.Locate(context.Background(), []string{"a", "b", "c", "d"})
	if !errors.Is(err, ErrS3) || !sameMap(got, map[string]string{"d": "k/ok"}) {
		t.Fatalf("Locate = %v, %v; want d only and an ErrS3 error", got, err)
	}
	if _, _, known := loc.Cached("a"); known {
		t.Fatal("a failed HEAD was kept")
	}
	for _, u := range []string{"b", "c"} {
		if _, found, known := loc.Cached(u); !known || found {
			t.Fatalf("%s: found %v known %v; want known not found", u, found, known)
		}
	}
	broken.Store(false)
	got, err = loc.Locate(context.Background(), []string{"a", "b", "c", "d"})
	if err != nil || !sameMap(got, map[string]string{"a": "k/500", "d": "k/ok"}) {
		t.Fatalf("retry: %v, %v", got, err)
	}
	if n := paths.looked()["a"]; n != 2 {
		t.Fatalf("a looked up %d times, want 2", n)
	}
	if n := paths.looked()["b"]; n != 1 {
		t.Fatalf("b looked up %d times, want 1", n)
	}
}

// TestLocatorInterruptedCaller: the caller that started the work goes away;
// another caller waiting for the same URIs still gets the answer.
func TestLocatorInterruptedCaller(t *testing.T) {
	paths, s3, uris, want := locatorFixture(t, 30)
	paths.hold = make(chan struct{})
	loc := NewLocator(paths, s3.client(t), LocatorOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		_, err := loc.Locate(ctx, uris)
		first <- err
	}()
	time.Sleep(20 * time.Millisecond)
	second := make(chan map[string]string, 1)
	go func() {
		got, err := loc.Locate(context.Background(), uris)
		if err != nil {
			t.Error(err)
		}
		second <- got
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted caller: %v", err)
	}
	close(paths.hold)
	if got := <-second; !sameMap(got, want) {
		t.Fatalf("waiting caller got %v", got)
	}
	if len(paths.calls()) != 1 {
		t.Fatalf("%d lookups, want 1", len(paths.calls()))
	}
}

// TestLocatorWithMASTClient: the real client against the emulator, and a
// bucket loaded from the catalog's cloud objects.
func TestLocatorWithMASTClient(t *testing.T) {
	cat := mastemu.Generate(7, 60, 6)
	emu := mastemu.New(mastemu.Options{Catalog: cat})
	hs := httptest.NewServer(emu)
	defer hs.Close()
	client := mast.New(mast.Config{BaseURL: hs.URL})

	objects := map[string][]byte{}
	want := map[string]string{}
	var dropped string
	for key, uri := range cat.CloudObjects() {
		if dropped == "" {
			dropped = uri // in path_lookup, not in the bucket
			continue
		}
		r, ok := cat.Open(uri)
		if !ok {
			t.Fatalf("Open(%s)", uri)
		}
		b := make([]byte, r.Size())
		if _, err := r.ReadAt(b, 0); err != nil {
			t.Fatal(err)
		}
		objects[key] = b
		want[uri] = key
	}
	var all []string
	cat.EachProduct(func(_ string, p mastemu.ProductInfo) bool {
		all = append(all, p.DataURI)
		return true
	})
	if len(want) < 50 || len(all) <= len(want)+1 {
		t.Fatalf("fixture too small: %d cloud objects of %d products", len(want), len(all))
	}
	s3, _ := newFakeS3(t, objects, false)
	loc := NewLocator(client, s3.client(t), LocatorOptions{})
	got, err := loc.Locate(context.Background(), all)
	if err != nil {
		t.Fatal(err)
	}
	if !sameMap(got, want) {
		t.Fatalf("Locate found %d, want %d", len(got), len(want))
	}
	if _, ok := got[dropped]; ok {
		t.Fatalf("%s has no object but was located", dropped)
	}
	uniq := map[string]bool{}
	for _, u := range all {
		uniq[u] = true
	}
	lookups := emu.Stats().Requests[mastemu.EndpointPathLookup]
	if wantN := (len(uniq) + PathLookupBatch - 1) / PathLookupBatch; lookups != wantN {
		t.Fatalf("%d path_lookup requests for %d URIs, want %d", lookups, len(uniq), wantN)
	}
}
