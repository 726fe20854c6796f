package fs

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mastfs/mastfs/mast"
	"github.com/mastfs/mastfs/mast/mastemu"
)

// Bounds of TestBoundedMillionObservations: what listing a query that
// matches 10^6 observations may cost under the default --max-observations.
const (
	boundedObs       = 1_000_000
	boundedMaxBytes  = 32 << 20  // archive answer bytes (10^6 rows are about 1 GB)
	boundedHeapPeak  = 200 << 20 // Go heap in use above the baseline, at any sample
	boundedHeapAfter = 64 << 20  // ... and after a GC once the listing is done
)

// countingWriter counts the body bytes the archive sends.
type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w countingWriter) Write(b []byte) (int, error) {
	w.n.Add(int64(len(b)))
	return w.ResponseWriter.Write(b)
}

func (w countingWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// heapSampler records the peak HeapInuse while it runs.
type heapSampler struct {
	stop chan struct{}
	done sync.WaitGroup
	peak atomic.Uint64
}

func sampleHeap(every time.Duration) *heapSampler {
	h := &heapSampler{stop: make(chan struct{})}
	h.done.Add(1)
	go func() {
		defer h.done.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > h.peak.Load() {
				h.peak.Store(ms.HeapInuse)
			}
			select {
			case <-h.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return h
}

func (h *heapSampler) Stop() uint64 {
	close(h.stop)
	h.done.Wait()
	return h.peak.Load()
}

func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// millionArchive sits in front of the emulator and answers every
// observation query (Mast.Caom.Filtered) as MAST would for a query that
// matches 10^6 observations: rowsFiltered 10^6, the page asked for (rows
// made on the fly), and COUNT_BIG(*) 10^6. Everything else (columnsconfig,
// products, downloads) is the emulator's. It stands in for
// mastemu.Generate(seed, 10^6, n), which never returns (see
// TestBoundedGeneratedCatalog).
type millionArchive struct {
	next http.Handler
	mu   sync.Mutex
	// pages asked of the observation query, and count queries.
	pages  []int
	counts int
}

func (a *millionArchive) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/api/v0/invoke" {
		a.next.ServeHTTP(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(body))
	var env struct {
		Service  string `json:"service"`
		PageSize int    `json:"pagesize"`
		Page     int    `json:"page"`
		Params   struct {
			Columns string `json:"columns"`
		} `json:"params"`
	}
	if err := json.Unmarshal([]byte(form.Get("request")), &env); err != nil || env.Service != mast.ServiceFiltered {
		r.Body = io.NopCloser(bytes.NewReader(body))
		a.next.ServeHTTP(w, r)
		return
	}
	const total = boundedObs
	w.Header().Set("Content-Type", "application/json")
	if env.Params.Columns == "COUNT_BIG(*)" {
		a.mu.Lock()
		a.counts++
		a.mu.Unlock()
		fmt.Fprintf(w, `{"status": "COMPLETE", "msg": "", "data": [{"Column1": %d}], "fields": [{"name": "Column1", "type": "string"}], "paging": {"page": 1, "pageSize": 1, "pagesFiltered": 1, "rows": 1, "rowsFiltered": 1, "rowsTotal": 1}}`, total)
		return
	}
	a.mu.Lock()
	a.pages = append(a.pages, env.Page)
	a.mu.Unlock()
	size, page := max(env.PageSize, 1), max(env.Page, 1)
	first := min((page-1)*size, total)
	n := min(size, total-first)
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString(`{"status": "COMPLETE", "msg": "", "data": [`)
	for i := first; i < first+n; i++ {
		if i > first {
			bw.WriteString(", ")
		}
		fmt.Fprintf(bw, `{"intentType": "science", "obs_collection": "HST", "instrument_name": "ACS/WFC", "obs_id": "j%08d", "target_name": "T%d", "s_ra": %g, "s_dec": %g, "proposal_id": "%d", "calib_level": 3, "t_min": %g, "obsid": %d}`,
			i, i%997, float64(i%360000)/1000, float64(i%180000)/1000-90, 10000+i%5000, 50000+float64(i)/100, 2000000000+i)
	}
	fmt.Fprintf(bw, `], "fields": [{"name": "intentType", "type": "string"}, {"name": "obs_collection", "type": "string"}, {"name": "instrument_name", "type": "string"}, {"name": "obs_id", "type": "string"}, {"name": "target_name", "type": "string"}, {"name": "s_ra", "type": "float"}, {"name": "s_dec", "type": "float"}, {"name": "proposal_id", "type": "string"}, {"name": "calib_level", "type": "int"}, {"name": "t_min", "type": "float"}, {"name": "obsid", "type": "string"}], "paging": {"page": %d, "pageSize": %d, "pagesFiltered": %d, "rows": %d, "rowsFiltered": %d, "rowsTotal": %d}}`,
		page, size, (total+size-1)/size, n, total, total)
	bw.Flush()
}

// boundedRun lists dir (a query over the limit) and reads its
// TOO_MANY_OBSERVATIONS.txt and .count, sampling the heap throughout, and
// checks the answers and the heap bounds. It returns the bytes the archive
// sent meanwhile.
func boundedRun(t *testing.T, dir string, total int64, sent *atomic.Int64) {
	t.Helper()
	sent.Store(0)
	base := heapAfterGC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	sampler := sampleHeap(2 * time.Millisecond)

	listStart := time.Now()
	names := listDir(t, dir)
	listTook := time.Since(listStart)
	want := append([]string{tooManyName}, dotfileNames...)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Fatalf("listing is %q, want %q", names, want)
	}
	text, err := os.ReadFile(dir + "/" + tooManyName)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(text), fmt.Sprintf("matches %d observations", total)) || !strings.Contains(string(text), "is 5000") {
		t.Fatalf("%s says:\n%s", tooManyName, text)
	}
	if count, err := os.ReadFile(dir + "/.count"); err != nil || string(count) != fmt.Sprintf("%d\n", total) {
		t.Fatalf(".count = %q, %v", count, err)
	}
	if _, err := os.ReadFile(dir + "/.observations.csv"); !errors.Is(err, syscall.EFBIG) {
		t.Fatalf(".observations.csv over the limit: %v, want EFBIG", err)
	}

	peak := sampler.Stop()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	afterGC := heapAfterGC()
	t.Logf("%d observations: listing took %v; the archive sent %d bytes; heap baseline %d MiB, peak +%d MiB, after GC +%d MiB; allocated %d MiB",
		total, listTook.Round(time.Millisecond), sent.Load(),
		base>>20, (int64(peak)-int64(base))>>20, (int64(afterGC)-int64(base))>>20, (after.TotalAlloc-before.TotalAlloc)>>20)
	if b := sent.Load(); b > boundedMaxBytes {
		t.Errorf("the archive sent %d bytes, bound %d", b, boundedMaxBytes)
	}
	if d := int64(peak) - int64(base); d > boundedHeapPeak {
		t.Errorf("heap in use peaked %d MiB above the baseline, bound %d MiB", d>>20, boundedHeapPeak>>20)
	}
	if d := int64(afterGC) - int64(base); d > boundedHeapAfter {
		t.Errorf("heap in use after GC is %d MiB above the baseline, bound %d MiB", d>>20, boundedHeapAfter>>20)
	}
}

// counting wraps a handler, counting the body bytes it sends.
func counting(sent *atomic.Int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(countingWriter{ResponseWriter: w, n: sent}, r)
	})
}

// TestBoundedMillionObservations: under the default --max-observations
// (5000), listing a query that matches 10^6 observations shows
// TOO_MANY_OBSERVATIONS.txt and the dotfiles after one page of limit+1
// rows (never the 10^6 rows, about 250 MB here), .count answers, no
// product is asked for, and the Go heap stays within the stated bounds.
func TestBoundedMillionObservations(t *testing.T) {
	if testing.Short() {
		t.Skip("a 10^6-observation query")
	}
	var sent atomic.Int64
	arch := &millionArchive{}
	m := mountForTest(t, mountConfig{wrap: func(h http.Handler) http.Handler {
		arch.next = h
		return counting(&sent, arch)
	}})
	dir := m.Path("criteria", "s_ra=0..360")
	if _, err := os.Stat(dir); err != nil { // warms the column configuration
		t.Fatal(err)
	}
	m.Emu.ResetStats()
	boundedRun(t, dir, boundedObs, &sent)
	arch.mu.Lock()
	pages, counts := arch.pages, arch.counts
	arch.mu.Unlock()
	if !slices.Equal(pages, []int{1}) {
		t.Errorf("observation pages asked: %v, want [1]", pages)
	}
	if counts > 1 {
		t.Errorf("%d count queries", counts)
	}
	if st := m.Emu.Stats(); st.Services[mast.ServiceProducts] != 0 {
		t.Errorf("%d product requests for a refused query", st.Services[mast.ServiceProducts])
	}
}

// boundedGeneratedObs is the largest catalog mastemu.Generate builds: with
// 10^6 observations it never returns (its proposal-id loop runs out of
// GALEX ids, 999, at about 250,000 observations, and of shared HST/HLA ids,
// 12000, at about 720,000; reported).
const boundedGeneratedObs = 200_000

// TestBoundedGeneratedCatalog: the same bounds over the emulator's own
// generated catalog, where the emulator runs the query.
func TestBoundedGeneratedCatalog(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a large catalog")
	}
	requireFUSE(t)
	start := time.Now()
	cat := mastemu.Generate(1, boundedGeneratedObs, 10)
	t.Logf("generated %d observations in %v", cat.Len(), time.Since(start).Round(time.Millisecond))
	var sent atomic.Int64
	m := mountForTest(t, mountConfig{catalog: cat, wrap: func(h http.Handler) http.Handler { return counting(&sent, h) }})
	dir := m.Path("criteria", "s_ra=0..360")
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
	m.Emu.ResetStats()
	boundedRun(t, dir, int64(cat.Len()), &sent)
	st := m.Emu.Stats()
	if n := st.Services[mast.ServiceFiltered]; n != 1 {
		t.Errorf("%d Mast.Caom.Filtered row requests, want 1 (one page of limit+1 rows)", n)
	}
	if n := st.Services[mast.ServiceProducts]; n != 0 {
		t.Errorf("%d product requests for a refused query", n)
	}
	if len(st.Log) > 3 {
		t.Errorf("%d requests: %+v", len(st.Log), st.Log)
	}
}
