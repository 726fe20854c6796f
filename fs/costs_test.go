package fs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mastfs/mastfs/mast"
	"github.com/mastfs/mastfs/mast/mastemu"
)

// costCatalog is Generate(1, 2950, 10), where obs_collection=TESS,GALEX,IUE
// selects exactly 1,000 observations with 10 products each: no product of
// theirs lacks a size (only HLA's do), none shares a file name (names start
// with the obs_id), and the products they share with an earlier
// observation of their collection are in the query too.
const (
	costSeed  = 1
	costNObs  = 2950
	costQuery = "obs_collection=TESS,GALEX,IUE"
)

// costFiles is what the 1,000-observation query must list: name → size.
func costFiles(t *testing.T, cat *mastemu.Catalog) map[string]int64 {
	t.Helper()
	var obsids []string
	for _, o := range cat.Observations() {
		switch o["obs_collection"] {
		case "TESS", "GALEX", "IUE":
			obsids = append(obsids, str(o["obsid"]))
		}
	}
	if len(obsids) != 1000 {
		t.Fatalf("%s selects %d observations of Generate(%d, %d, 10), want 1000: pick the catalog again", costQuery, len(obsids), costSeed, costNObs)
	}
	files := map[string]int64{}
	seen := map[string]bool{}
	for _, id := range obsids {
		for _, p := range cat.ProductsFor(id) {
			uri := str(p["dataURI"])
			if seen[uri] {
				continue
			}
			seen[uri] = true
			info, _ := cat.Product(uri)
			if info.Size < 0 {
				t.Fatalf("%s has no size: ls -l would have to download it", uri)
			}
			name := path.Base(info.Filename)
			if _, dup := files[name]; dup {
				t.Fatalf("file name %s is not unique", name)
			}
			files[name] = info.Size
		}
	}
	if len(files) != 10000 {
		t.Fatalf("%d unique products, want 10000", len(files))
	}
	return files
}

// requestsBeyond lists the archive requests in st other than those allowed.
func requestsBeyond(st mastemu.Stats, allowed map[string]int) []string {
	var extra []string
	for _, e := range st.Log {
		key := e.Endpoint
		if e.Service != "" {
			key = e.Service
			if e.Count {
				key += " (count)"
			}
		}
		if allowed[key] > 0 {
			allowed[key]--
			continue
		}
		extra = append(extra, key+" "+e.URI)
	}
	return extra
}

// TestListingCosts: on a 1,000-observation, 10,000-product query, `ls -l`
// costs one observation query, the column configuration and two product
// batches of 500 obsids, and nothing per file; `find -type f` counts
// exactly the products; `find`, a second `ls -l` and a stat of every file
// within the TTL cost nothing. With the cloud on (as --cloud=auto mounts),
// listing asks neither path_lookup nor S3 anything.
func TestListingCosts(t *testing.T) {
	cat := mastemu.Generate(costSeed, costNObs, 10)
	want := costFiles(t, cat)
	t.Run("mast", func(t *testing.T) {
		var batches batchRecorder
		m := mountForTest(t, mountConfig{catalog: cat, maxObs: 5000, ttl: 10 * time.Minute, wrap: batches.wrap})
		listingCosts(t, m, &batches, want)
	})
	t.Run("cloud", func(t *testing.T) {
		var batches batchRecorder
		m := mountForTest(t, mountConfig{catalog: cat, maxObs: 5000, ttl: 10 * time.Minute, wrap: batches.wrap,
			s3: func(key, uri string) bool { return false }})
		listingCosts(t, m, &batches, want)
		if st := m.S3.Client.Stats(); st.Heads+st.Gets != 0 {
			t.Errorf("listing asked S3: %+v", st)
		}
	})
}

// batchRecorder records how many obsids each Mast.Caom.Products request names.
type batchRecorder struct {
	mu    sync.Mutex
	sizes []int
}

func (b *batchRecorder) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/api/v0/invoke") {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			var req struct {
				Service string
				Params  struct{ Obsid string }
			}
			if form, err := url.ParseQuery(string(body)); err == nil &&
				json.Unmarshal([]byte(form.Get("request")), &req) == nil && req.Service == mast.ServiceProducts {
				b.mu.Lock()
				b.sizes = append(b.sizes, len(strings.Split(req.Params.Obsid, ",")))
				b.mu.Unlock()
			}
		}
		h.ServeHTTP(w, r)
	})
}

func (b *batchRecorder) get() []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]int(nil), b.sizes...)
}

func listingCosts(t *testing.T, m *mounted, batches *batchRecorder, want map[string]int64) {
	dir := m.Path("criteria", costQuery)
	if st := m.Emu.Stats(); len(st.Log) != 0 {
		t.Fatalf("mounting made requests: %v", st.Requests)
	}

	start := time.Now()
	out, err := exec.Command("ls", "-l", dir).Output()
	lsCold := time.Since(start)
	if err != nil {
		t.Fatalf("ls -l: %v", err)
	}
	st := m.Emu.Stats()
	t.Logf("ls -l of %d files, cold: %v; requests %v, invoke services %v, count queries %v",
		len(want), lsCold.Round(time.Millisecond), st.Requests, st.Services, st.CountQueries)
	if st.Services[mast.ServiceFiltered] != 1 || st.Services[mast.ServiceProducts] != 2 {
		t.Errorf("ls -l: %d observation queries and %d product requests, want 1 and 2",
			st.Services[mast.ServiceFiltered], st.Services[mast.ServiceProducts])
	}
	if extra := requestsBeyond(st, map[string]int{mast.ServiceFiltered: 1, mast.ServiceProducts: 2,
		mastemu.EndpointColumnsConfig: 1}); len(extra) > 0 {
		t.Errorf("ls -l made %d more requests, e.g. %v", len(extra), extra[:min(5, len(extra))])
	}
	if got := batches.get(); len(got) != 2 || got[0] != 500 || got[1] != 500 {
		t.Errorf("product batches of %v obsids, want 500 and 500", got)
	}
	checkLsOutput(t, out, want)

	m.Emu.ResetStats()
	start = time.Now()
	out, err = exec.Command("sh", "-c", `find "$1" -type f | wc -l`, "sh", dir).Output()
	findTime := time.Since(start)
	if err != nil {
		t.Fatalf("find: %v", err)
	}
	t.Logf("find -type f | wc -l: %q in %v", strings.TrimSpace(string(out)), findTime.Round(time.Millisecond))
	if strings.TrimSpace(string(out)) != "10000" {
		t.Errorf("find -type f | wc -l printed %q, want 10000", out)
	}

	start = time.Now()
	out, err = exec.Command("ls", "-l", dir).Output()
	lsWarm := time.Since(start)
	if err != nil {
		t.Fatalf("second ls -l: %v", err)
	}
	checkLsOutput(t, out, want)
	start = time.Now()
	for name, size := range want {
		fi, err := os.Stat(dir + "/" + name)
		if err != nil || fi.Size() != size {
			t.Fatalf("stat %s: %v, size %d, want %d", name, err, fi.Size(), size)
		}
	}
	statTime := time.Since(start)
	t.Logf("second ls -l: %v; stat of %d files: %v", lsWarm.Round(time.Millisecond), len(want), statTime.Round(time.Millisecond))
	if st := m.Emu.Stats(); len(st.Log) != 0 {
		t.Errorf("find, a second ls -l and %d stats within the TTL made %d requests: %v %v", len(want), len(st.Log), st.Requests, st.Services)
	}
}

// checkLsOutput checks `ls -l` lines against name → size.
func checkLsOutput(t *testing.T, out []byte, want map[string]int64) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "total ") {
		t.Fatalf("ls -l output does not start with a total: %.200s", out)
	}
	got := map[string]int64{}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) < 9 || !strings.HasPrefix(f[0], "-r--r--r--") {
			t.Fatalf("ls -l line %q", l)
		}
		size, err := strconv.ParseInt(f[4], 10, 64)
		if err != nil {
			t.Fatalf("ls -l line %q: %v", l, err)
		}
		got[f[8]] = size
	}
	if len(got) != len(want) {
		t.Fatalf("ls -l lists %d files, want %d", len(got), len(want))
	}
	for name, size := range want {
		if got[name] != size {
			t.Fatalf("ls -l: %s has size %d, want %d", name, got[name], size)
		}
	}
}

// TestConcurrentFirstLookupsOneQuery: 16 goroutines looking up products of
// a query nobody has listed yet cause one observation query and one product
// request (single flight), even while the archive is slow.
func TestConcurrentFirstLookupsOneQuery(t *testing.T) {
	cat := mastemu.Generate(7, 400, 6)
	prop, nObs := cat.BusiestProposal("HST")
	want := expectedFiles(cat, "HST", prop, nil)
	if len(want) < 16 {
		t.Fatalf("proposal %s has %d products, want 16 or more", prop, len(want))
	}
	m := mountForTest(t, mountConfig{catalog: cat, wrap: func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(50 * time.Millisecond) // every request in flight long enough to overlap
			h.ServeHTTP(w, r)
		})
	}})
	dir := m.Path("criteria", "obs_collection=HST", "proposal_id="+prop)
	names := sortedKeys(want)
	gate := make(chan struct{})
	errs := make([]error, 16)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			name := names[i*len(names)/16]
			if i%4 == 3 {
				_, errs[i] = os.ReadDir(dir)
				return
			}
			fi, err := os.Stat(dir + "/" + name)
			if err == nil && !fi.Mode().IsRegular() {
				err = fmt.Errorf("%s is not a regular file", name)
			}
			errs[i] = err
		}()
	}
	close(gate)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	st := m.Emu.Stats()
	t.Logf("16 concurrent first lookups (%d observations): services %v, requests %v", nObs, st.Services, st.Requests)
	if st.Services[mast.ServiceFiltered] != 1 || st.Services[mast.ServiceProducts] != 1 || st.Requests[mastemu.EndpointColumnsConfig] != 1 {
		t.Fatalf("want one observation query, one product request, one column config: services %v, requests %v", st.Services, st.Requests)
	}
}

// TestTooManyObservations: over --max-observations a query directory lists
// only its dotfiles and TOO_MANY_OBSERVATIONS.txt (count, limit, how to
// narrow), costs one request, .count works and .observations.csv is EFBIG.
func TestTooManyObservations(t *testing.T) {
	cat := mastemu.Generate(7, 400, 6)
	const limit = 100
	var nImages int
	for _, o := range cat.Observations() {
		if o["dataproduct_type"] == "image" {
			nImages++
		}
	}
	if nImages <= limit {
		t.Fatalf("%d images, want more than %d", nImages, limit)
	}
	m := mountForTest(t, mountConfig{catalog: cat, maxObs: limit})
	dir := m.Path("criteria", "dataproduct_type=image")

	got := listDir(t, dir)
	wantNames := append([]string{tooManyName}, dotfileNames...)
	sort.Strings(wantNames)
	if strings.Join(got, ",") != strings.Join(wantNames, ",") {
		t.Fatalf("listing %v, want %v", got, wantNames)
	}
	if !strings.Contains(strings.Join(got, ","), ".count") {
		t.Fatalf("listing %v has no .count", got)
	}
	st := m.Emu.Stats()
	if st.Services[mast.ServiceFiltered] != 1 || st.Services[mast.ServiceProducts] != 0 {
		t.Errorf("a directory over the limit cost %v, want one observation query and no products", st.Services)
	}

	text, err := os.ReadFile(dir + "/" + tooManyName)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{strconv.Itoa(nImages), strconv.Itoa(limit), "--max-observations", "criteria/dataproduct_type=image/instrument_name="} {
		if !bytes.Contains(text, []byte(want)) {
			t.Errorf("%s does not say %q:\n%s", tooManyName, want, text)
		}
	}
	if fi, err := os.Stat(dir + "/" + tooManyName); err != nil || fi.Size() != int64(len(text)) {
		t.Errorf("stat %s: %v, size %d, want %d", tooManyName, err, fi.Size(), len(text))
	}

	count, err := os.ReadFile(dir + "/.count")
	if err != nil || string(count) != strconv.Itoa(nImages)+"\n" {
		t.Errorf(".count = %q, %v; want %d", count, err, nImages)
	}
	// A fresh directory over the limit: .count is one count query alone.
	m.Emu.ResetStats()
	count, err = os.ReadFile(m.Path("criteria", "dataproduct_type=image,spectrum", ".count"))
	st = m.Emu.Stats()
	if err != nil || strings.TrimSpace(string(count)) == "" || st.CountQueries[mast.ServiceFiltered] != 1 || len(st.Services) != 0 {
		t.Errorf(".count of an unlisted query: %q, %v; count queries %v, other services %v", count, err, st.CountQueries, st.Services)
	}

	if _, ok := queryFiles[".observations.csv"]; !ok {
		t.Log(".observations.csv is not registered yet: not checked")
		return
	}
	_, err = os.ReadFile(dir + "/.observations.csv")
	if !errors.Is(err, syscall.EFBIG) {
		t.Errorf(".observations.csv over the limit: %v, want EFBIG", err)
	}
}
