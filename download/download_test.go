package download

import (
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	mfs "github.com/mastfs/mastfs/fs"
	"github.com/mastfs/mastfs/mast"
	"github.com/mastfs/mastfs/mast/mastemu"
)

const testObsid = "2003738726"

// setup serves the recorded catalog plus an exclusive-access product and
// returns the catalog, the server and a client with the given token.
func setup(t *testing.T, token string) (*mastemu.Catalog, *mastemu.Server, *mast.Client) {
	t.Helper()
	cat := mastemu.Recorded()
	if _, err := cat.AddProduct(testObsid, map[string]any{
		"dataURI": "mast:HST/product/secret_raw.fits", "size": 57600, "dataRights": "EXCLUSIVE_ACCESS",
	}); err != nil {
		t.Fatal(err)
	}
	emu := mastemu.New(mastemu.Options{Catalog: cat, Token: "the-right-token"})
	hs := httptest.NewServer(emu)
	t.Cleanup(hs.Close)
	c := mast.New(mast.Config{BaseURL: hs.URL, ResolverURL: hs.URL + "/Santa-war/query", Token: token})
	return cat, emu, c
}

func emuBytes(t *testing.T, cat *mastemu.Catalog, uri string) []byte {
	t.Helper()
	r, ok := cat.Open(uri)
	if !ok {
		t.Fatalf("no product %s", uri)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readManifest(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 || strings.Join(rows[0], ",") != "Local Path,Status,Message,URL" {
		t.Fatalf("manifest header %v", rows)
	}
	return rows[1:]
}

func evaluate(t *testing.T, c *mast.Client, path string) []mfs.Product {
	t.Helper()
	ps, err := mfs.Evaluate(context.Background(), c, path, 5000, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// TestDownloadBytesManifestAndErrors: every public product's bytes are the
// emulator's, under mastDownload/<coll>/<obs_id>/; the exclusive product
// without a token is an ERROR row with the URL; the token is not leaked.
func TestDownloadBytesManifestAndErrors(t *testing.T) {
	const wrong = "wrong-token-SHOULD-NOT-LEAK"
	cat, emu, c := setup(t, wrong)
	products := evaluate(t, c, "/mnt/mast/obsid/"+testObsid)
	dest := t.TempDir()
	opt := Options{Dest: dest, Jobs: 3, ChunkSize: 8192, Source: c, DownloadURL: c.DownloadURL, Token: wrong}
	items := Plan(products, opt)
	var out bytes.Buffer
	opt.Progress = Lines(&out)
	results := Run(context.Background(), items, opt)
	if err := WriteManifest(filepath.Join(dest, ManifestName), results, wrong); err != nil {
		t.Fatal(err)
	}
	rows := readManifest(t, filepath.Join(dest, ManifestName))
	if len(rows) != len(products) {
		t.Fatalf("%d manifest rows for %d products", len(rows), len(products))
	}
	errs := 0
	for i, row := range rows {
		it := items[i]
		if row[0] != it.Local || row[3] != c.DownloadURL(it.Product.URI) {
			t.Errorf("row %d = %v, want path %s", i, row, it.Local)
		}
		if !strings.HasPrefix(it.Local, filepath.Join(dest, "mastDownload", "HST", it.Product.ObsID)+"/") {
			t.Errorf("layout: %s", it.Local)
		}
		if it.Product.URI == "mast:HST/product/secret_raw.fits" {
			errs++
			if row[1] != Error || !strings.Contains(row[2], "401") {
				t.Errorf("exclusive product: %v, want ERROR with 401", row)
			}
			continue
		}
		if row[1] != Complete {
			t.Errorf("row %v, want COMPLETE", row)
			continue
		}
		got, err := os.ReadFile(it.Local)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, emuBytes(t, cat, it.Product.URI)) {
			t.Errorf("%s: bytes differ from the emulator's", it.Local)
		}
	}
	if errs != 1 {
		t.Fatalf("%d exclusive rows, want 1", errs)
	}
	man, _ := os.ReadFile(filepath.Join(dest, ManifestName))
	if strings.Contains(string(man), wrong) || strings.Contains(out.String(), wrong) {
		t.Fatal("the token leaked into the manifest or output")
	}
	if !strings.Contains(out.String(), "1 error(s)") {
		t.Errorf("output:\n%s", out.String())
	}

	// Rerun: everything complete is skipped without a byte fetched.
	emu.ResetStats()
	again := Run(context.Background(), items, opt)
	for _, e := range emu.Stats().Log {
		if e.Endpoint != "" && e.URI != "" && e.Status/100 == 2 {
			t.Errorf("rerun fetched %+v, want only the exclusive product's 401", e)
		}
	}
	if _, err := os.Stat(filepath.Join(dest, "mastDownload", "HST", "U9O40504M", "secret_raw.fits")); !os.IsNotExist(err) {
		t.Errorf("a failed download left a file behind (%v)", err)
	}
	for _, r := range again {
		if r.Status == Complete && r.Message != "already complete" {
			t.Errorf("rerun of %s: %+v", r.Local, r.Message)
		}
	}
}

// TestResumeFetchesOnlyMissingBytes: a truncated file is completed with a
// Range request for the rest; a file of unknown size is fetched whole.
func TestResumeFetchesOnlyMissingBytes(t *testing.T) {
	cat, emu, c := setup(t, "")
	if _, err := cat.AddProduct(testObsid, map[string]any{"dataURI": "mast:HST/product/big_raw.fits", "size": 3 << 20}); err != nil {
		t.Fatal(err)
	}
	products := evaluate(t, c, "obsid/"+testObsid+"/@productFilename=big_raw.fits")
	if len(products) != 1 {
		t.Fatalf("%d products", len(products))
	}
	dest := t.TempDir()
	opt := Options{Dest: dest, Jobs: 1, ChunkSize: 256 << 10, Source: c, DownloadURL: c.DownloadURL}
	items := Plan(products, opt)
	want := emuBytes(t, cat, products[0].URI)
	const have = 1234567
	if err := os.MkdirAll(filepath.Dir(items[0].Local), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(items[0].Local, want[:have], 0o644); err != nil {
		t.Fatal(err)
	}
	var dry bytes.Buffer
	DryRun(&dry, items)
	if !strings.Contains(dry.String(), "resume") || !strings.Contains(dry.String(), "1911161 bytes to fetch") {
		t.Errorf("dry run:\n%s", dry.String())
	}
	emu.ResetStats()
	r := Run(context.Background(), items, opt)[0]
	if r.Status != Complete || r.From != have || r.Fetched != int64(len(want)-have) {
		t.Fatalf("result %+v", r)
	}
	st := emu.Stats()
	if st.DownloadBytes != int64(len(want)-have) {
		t.Errorf("fetched %d bytes, want %d", st.DownloadBytes, len(want)-have)
	}
	if len(st.Log) == 0 || !strings.HasPrefix(st.Log[0].Range, "bytes=1234567-") {
		t.Errorf("first request %+v, want a Range from 1234567", st.Log)
	}
	got, _ := os.ReadFile(items[0].Local)
	if !bytes.Equal(got, want) {
		t.Fatal("resumed file differs from the emulator's bytes")
	}
}

// TestFlatDryRunAndUnknownSize: --flat puts files in DEST; a dry run
// writes nothing; a product of unknown size is fetched whole every time.
func TestFlatDryRunAndUnknownSize(t *testing.T) {
	cat, emu, c := setup(t, "")
	if _, err := cat.AddProduct(testObsid, map[string]any{"dataURI": "mast:HST/product/dyn_cat.txt", "size": nil, "length": 5000}); err != nil {
		t.Fatal(err)
	}
	products := evaluate(t, c, "obsid/"+testObsid+"/@mrp")
	dyn := evaluate(t, c, "obsid/"+testObsid+"/@productFilename=dyn_cat.txt")
	if len(dyn) != 1 || dyn[0].Size != -1 {
		t.Fatalf("dynamic product %+v", dyn)
	}
	products = append(products, dyn...)
	dest := t.TempDir()
	opt := Options{Dest: dest, Flat: true, Source: c, DownloadURL: c.DownloadURL}
	items := Plan(products, opt)
	var dry bytes.Buffer
	DryRun(&dry, items)
	if ents, _ := os.ReadDir(dest); len(ents) != 0 {
		t.Fatalf("dry run wrote %v", ents)
	}
	if !strings.Contains(dry.String(), "plus 1 of unknown size") || strings.Count(dry.String(), "fetch   ") != len(items) {
		t.Errorf("dry run:\n%s", dry.String())
	}
	for _, r := range Run(context.Background(), items, opt) {
		if r.Status != Complete || filepath.Dir(r.Local) != dest {
			t.Fatalf("flat: %+v", r)
		}
		got, _ := os.ReadFile(r.Local)
		if !bytes.Equal(got, emuBytes(t, cat, r.Product.URI)) {
			t.Fatalf("%s differs", r.Local)
		}
	}
	emu.ResetStats()
	Run(context.Background(), items, opt)
	if n := emu.Stats().DownloadBytes; n != 5000 {
		t.Errorf("rerun fetched %d bytes, want 5000 (only the product of unknown size)", n)
	}
}

// TestPlanSanitisesAndSeparatesCollisions: no component escapes DEST and
// two products on one path get the ~sha1 suffix.
func TestPlanSanitisesAndSeparatesCollisions(t *testing.T) {
	ps := []mfs.Product{
		{URI: "mast:A/x/a.fits", ObsCollection: "..", ObsID: "a/b", Filename: "../../etc/passwd"},
		{URI: "mast:A/y/same.fits", ObsCollection: "HST", ObsID: "O1", Filename: "same.fits"},
		{URI: "mast:A/z/same.fits", ObsCollection: "HST", ObsID: "O1", Filename: "same.fits"},
	}
	items := Plan(ps, Options{Dest: "/d"})
	if items[0].Local != "/d/mastDownload/_/a_b/passwd" {
		t.Errorf("sanitised: %s", items[0].Local)
	}
	if items[1].Local == items[2].Local || !strings.Contains(items[1].Local, "same~") {
		t.Errorf("collision: %s %s", items[1].Local, items[2].Local)
	}
}

// TestSkippedProducts: a product marked Skip (--cloud only, not in the
// cloud) is a SKIPPED row and is not fetched.
func TestSkippedProducts(t *testing.T) {
	_, emu, c := setup(t, "")
	products := evaluate(t, c, "obsid/"+testObsid+"/@mrp")
	dest := t.TempDir()
	opt := Options{Dest: dest, Source: c, DownloadURL: c.DownloadURL}
	items := Plan(products, opt)
	items[0].Skip = "Product not found in cloud"
	var dry bytes.Buffer
	DryRun(&dry, items)
	if !strings.Contains(dry.String(), "skip    "+items[0].Local+" (") || !strings.Contains(dry.String(), "not found in cloud") {
		t.Errorf("dry run:\n%s", dry.String())
	}
	emu.ResetStats()
	res := Run(context.Background(), items, opt)
	if res[0].Status != Skipped || res[0].Message != "Product not found in cloud" || res[1].Status != Complete {
		t.Fatalf("results %+v", res)
	}
	for _, e := range emu.Stats().Log {
		if e.URI == items[0].Product.URI {
			t.Fatalf("skipped product was requested: %+v", e)
		}
	}
	if _, err := os.Stat(items[0].Local); !os.IsNotExist(err) {
		t.Fatalf("skipped product on disk (%v)", err)
	}
}

// TestBarsReporter runs the terminal reporter (mpb) with parallel workers.
func TestBarsReporter(t *testing.T) {
	_, _, c := setup(t, "")
	products := evaluate(t, c, "obsid/"+testObsid)
	var out syncBuf
	opt := Options{Dest: t.TempDir(), Jobs: 4, ChunkSize: 64 << 10, Source: c, DownloadURL: c.DownloadURL, Progress: Bars(&out)}
	res := Run(context.Background(), Plan(products, opt), opt)
	if len(res) != len(products) {
		t.Fatal(len(res))
	}
	if s := out.String(); !strings.Contains(s, "total (") || !strings.Contains(s, "ERROR ") {
		t.Errorf("bars output:\n%s", s)
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
