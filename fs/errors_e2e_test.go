package fs

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/mastfs/mastfs/mast/mastemu"
)

// TestArchiveFailureIsEIO: when the archive fails, a new query gets EIO and
// a log line, while a listing cached within the TTL is still served.
func TestArchiveFailureIsEIO(t *testing.T) {
	var down atomic.Bool
	m := mountForTest(t, mountConfig{wrap: func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if down.Load() {
				http.Error(w, "maintenance", http.StatusServiceUnavailable)
				return
			}
			h.ServeHTTP(w, r)
		})
	}})
	cached := m.Path("criteria", "proposal_id=8880")
	before := listDir(t, cached)
	down.Store(true)
	if got := listDir(t, cached); strings.Join(got, ",") != strings.Join(before, ",") || len(got) == 0 {
		t.Fatalf("cached listing not served while the archive is down: %v", got)
	}
	_, err := os.ReadDir(m.Path("criteria", "proposal_id=5371"))
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("listing a new query while the archive is down: %v, want EIO", err)
	}
	if !strings.Contains(m.Logs(), "503") && !strings.Contains(m.Logs(), "server error") {
		t.Fatal("no log line says why the query failed")
	}
	down.Store(false)
	if got := listDir(t, m.Path("criteria", "proposal_id=5371")); len(got) == 0 {
		t.Fatal("failures were cached: the query still fails after the archive came back")
	}
}

// TestChangedProductIsESTALE: a product whose length changed since it was
// listed gives ESTALE, never bytes of the new version.
func TestChangedProductIsESTALE(t *testing.T) {
	cat := mastemu.Recorded()
	info, err := cat.AddProduct("2003520266", map[string]any{
		"dataURI": "mast:HST/product/o6au01msq_reproc_raw.fits", "productFilename": "o6au01msq_reproc_raw.fits",
		"size": int64(2880 * 400),
	})
	if err != nil {
		t.Fatal(err)
	}
	var changed atomic.Bool
	m := mountForTest(t, mountConfig{catalog: cat, wrap: func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if changed.Load() && strings.Contains(r.URL.RawQuery, "o6au01msq_reproc_raw") && r.Method == http.MethodGet {
				// The reprocessed product is one block longer.
				w.Header().Set("Content-Range", fmt.Sprintf("bytes 0-0/%d", info.Size+2880))
				w.Header().Set("Content-Length", "1")
				w.WriteHeader(http.StatusPartialContent)
				w.Write([]byte{0})
				return
			}
			h.ServeHTTP(w, r)
		})
	}})
	f, err := os.Open(m.Path("criteria", "proposal_id=8880", "o6au01msq_reproc_raw.fits"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.ReadAt(make([]byte, 100), 0); err != nil {
		t.Fatal(err)
	}
	changed.Store(true)
	// A block not read yet, far from the first.
	_, err = f.ReadAt(make([]byte, 100), info.Size-200)
	if !errors.Is(err, syscall.ESTALE) {
		t.Fatalf("read of a changed product: %v, want ESTALE", err)
	}
}
