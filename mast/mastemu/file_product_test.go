package mastemu

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

func TestAddFileProduct(t *testing.T) {
	c := Recorded()
	obsid := "2003520266"
	dir := t.TempDir()
	want := make([]byte, 3*2880+123)
	for i := range want {
		want[i] = byte(i*7 + i>>9)
	}
	path := filepath.Join(dir, "real.fits")
	if err := os.WriteFile(path, want, 0o644); err != nil {
		t.Fatal(err)
	}
	info, err := c.AddFileProduct(obsid, map[string]any{
		"dataURI": "mast:HST/product/o6au01msq_real.fits", "size": 5, "cloudKey": "/hst/public/o6au/o6au01msq/o6au01msq_real.fits",
	}, path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != int64(len(want)) || info.Length != info.Size || info.Filename != "o6au01msq_real.fits" ||
		info.CloudKey != "hst/public/o6au/o6au01msq/o6au01msq_real.fits" || info.OwnerObsID != obsid {
		t.Fatalf("AddFileProduct info %+v", info)
	}
	if got := productBytes(t, c, info.DataURI); !bytes.Equal(got, want) {
		t.Fatal("Open does not give the file's bytes")
	}
	if c.CloudObjects()[info.CloudKey] != info.DataURI {
		t.Fatal("file product missing from CloudObjects")
	}
	prods := c.ProductsFor(obsid)
	if last := prods[len(prods)-1]; last["dataURI"] != info.DataURI || last["size"] != int64(len(want)) {
		t.Fatalf("listed as %v", last)
	}
	_, ts := startServer(t, Options{Catalog: c})
	resp, body := get(t, downloadURL(ts.URL, info.DataURI), "Range", "bytes=2870-2889")
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, want[2870:2890]) ||
		resp.Header.Get("Content-Type") != "application/fits" {
		t.Fatalf("ranged GET: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	resp, body = get(t, downloadURL(ts.URL, info.DataURI))
	if resp.StatusCode != 200 || !bytes.Equal(body, want) {
		t.Fatalf("GET: %d, %d bytes", resp.StatusCode, len(body))
	}

	if _, err := c.AddFileProduct(obsid, map[string]any{"dataURI": info.DataURI}, path); err == nil {
		t.Fatal("duplicate dataURI accepted")
	}
	if _, err := c.AddFileProduct(obsid, map[string]any{"dataURI": "mast:HST/product/o6au01msq_none.fits"}, filepath.Join(dir, "none")); err == nil {
		t.Fatal("missing file accepted")
	}
	if _, err := c.AddFileProduct(obsid, map[string]any{"dataURI": "mast:HST/product/o6au01msq_dir.fits"}, dir); err == nil {
		t.Fatal("directory accepted")
	}
	// A file that shrinks under the catalog gives an error, not short content.
	if err := os.Truncate(path, 100); err != nil {
		t.Fatal(err)
	}
	r, _ := c.Open(info.DataURI)
	if _, err := io.ReadAll(r); err == nil {
		t.Fatal("read of a shrunk file succeeded")
	}
}
