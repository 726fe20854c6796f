package cloud

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mastfs/mastfs/mast"
)

var _ Fallback = (*mast.Client)(nil)

// fakeMAST serves products from a map and counts reads per URI.
type fakeMAST struct {
	data map[string][]byte
	mu   sync.Mutex
	n    map[string]int
}

func (f *fakeMAST) count(uri string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n[uri]
}

func (f *fakeMAST) ReadAt(ctx context.Context, uri string, p []byte, off int64) (int, error) {
	return f.ReadAtSize(ctx, uri, p, off, -1)
}

func (f *fakeMAST) ReadAtSize(_ context.Context, uri string, p []byte, off, _ int64) (int, error) {
	f.mu.Lock()
	f.n[uri]++
	f.mu.Unlock()
	b, ok := f.data[uri]
	if !ok {
		return 0, mast.ErrNotFound
	}
	if off >= int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *fakeMAST) Open(context.Context, string) (io.ReadCloser, error) {
	return nil, errors.New("not used")
}

func (f *fakeMAST) Head(context.Context, string) (mast.ObjectInfo, error) {
	return mast.ObjectInfo{}, errors.New("not used")
}

func TestSourceS3FirstWithFallback(t *testing.T) {
	inBucket := randomBytes(10, 300000)
	notInBucket := randomBytes(11, 5000)
	changed := randomBytes(12, 4000)
	broken := randomBytes(13, 6000)
	mastData := map[string][]byte{
		"mast:A/in.fits":      inBucket,
		"mast:A/absent.fits":  notInBucket, // path_lookup places it; no object
		"mast:A/nokey.fits":   notInBucket, // path_lookup does not place it
		"mast:A/changed.fits": changed,     // object of another size
		"mast:A/broken.fits":  broken,      // S3 answers 500 on GET
	}
	f, _ := newFakeS3(t, map[string][]byte{
		"a/in.fits":      inBucket,
		"a/changed.fits": changed[:3000],
		"a/broken.fits":  broken,
	}, false)
	// GETs of a/broken.fits fail; everything else goes to gofakes3.
	var brokenGets atomic.Int32
	inner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/a/broken.fits") {
			brokenGets.Add(1)
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		proxy(w, r, f.URL)
	}))
	defer inner.Close()
	c, err := New(Config{Endpoint: inner.URL, RetryMaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	paths := &fakePaths{placed: map[string]string{
		"mast:A/in.fits": "a/in.fits", "mast:A/absent.fits": "a/absent.fits",
		"mast:A/changed.fits": "a/changed.fits", "mast:A/broken.fits": "a/broken.fits",
	}}
	fm := &fakeMAST{data: mastData, n: map[string]int{}}
	src := NewSource(c, NewLocator(paths, c, LocatorOptions{}), fm, nil)
	ctx := context.Background()

	read := func(uri string, off int64, n int) []byte {
		t.Helper()
		p := make([]byte, n)
		size := int64(len(mastData[uri]))
		got, err := src.ReadAtSize(ctx, uri, p, off, size)
		if err != nil && err != io.EOF {
			t.Fatalf("%s: %v", uri, err)
		}
		if !bytes.Equal(p[:got], mastData[uri][off:off+int64(got)]) {
			t.Fatalf("%s: wrong bytes", uri)
		}
		return p[:got]
	}
	for _, off := range []int64{0, 1000, 250000, 299000} {
		read("mast:A/in.fits", off, 1000)
	}
	if fm.count("mast:A/in.fits") != 0 {
		t.Fatalf("a product in the bucket was read from MAST %d times", fm.count("mast:A/in.fits"))
	}
	if n := len(paths.calls()); n != 1 {
		t.Fatalf("%d path_lookups for repeated reads of one product, want 1", n)
	}
	for _, uri := range []string{"mast:A/absent.fits", "mast:A/nokey.fits", "mast:A/changed.fits", "mast:A/broken.fits"} {
		read(uri, 100, 500)
		if fm.count(uri) != 1 {
			t.Fatalf("%s: %d MAST reads, want 1", uri, fm.count(uri))
		}
	}
	if brokenGets.Load() == 0 {
		t.Fatal("the broken object was never tried on S3")
	}
	// After a failure, the product's reads skip S3 for a while.
	gets := brokenGets.Load()
	read("mast:A/broken.fits", 2000, 500)
	if brokenGets.Load() != gets || fm.count("mast:A/broken.fits") != 2 {
		t.Fatalf("a failed object was tried again at once (%d GETs, %d MAST reads)", brokenGets.Load()-gets, fm.count("mast:A/broken.fits"))
	}
	// A failing path_lookup: MAST, once per product for a while.
	paths.fail.Store(100)
	mastData["mast:A/new.fits"] = notInBucket
	lookups := len(paths.calls())
	read("mast:A/new.fits", 0, 100)
	read("mast:A/new.fits", 100, 100)
	if n := len(paths.calls()) - lookups; n != 1 || fm.count("mast:A/new.fits") != 2 {
		t.Fatalf("failing path_lookup: %d lookups, %d MAST reads; want 1 and 2", n, fm.count("mast:A/new.fits"))
	}
	paths.fail.Store(0)
	// ReadAt without a size uses the bucket too.
	p := make([]byte, 10)
	if n, err := src.ReadAt(ctx, "mast:A/in.fits", p, 5); n != 10 || err != nil || !bytes.Equal(p, inBucket[5:15]) {
		t.Fatalf("ReadAt: %d, %v", n, err)
	}
	st := src.Stats()
	if st.S3Reads != 5 || st.Fallbacks != 2 {
		t.Fatalf("stats %+v, want 5 S3 reads and 2 fallbacks (changed, broken)", st)
	}
	// A caller that gives up gets its error, not a fallback.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	before := fm.count("mast:A/in.fits")
	if _, err := src.ReadAtSize(cctx, "mast:A/in.fits", make([]byte, 10), 0, int64(len(inBucket))); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled read: %v", err)
	}
	if fm.count("mast:A/in.fits") != before {
		t.Fatal("a cancelled read fell back to MAST")
	}
}

// proxy forwards r to base (a tiny reverse proxy for fault injection).
func proxy(w http.ResponseWriter, r *http.Request, base string) {
	req, err := http.NewRequestWithContext(r.Context(), r.Method, base+r.URL.RequestURI(), nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	req.Header = r.Header.Clone()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}
