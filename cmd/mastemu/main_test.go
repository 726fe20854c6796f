package main

import (
	"bytes"
	"io"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mastfs/mastfs/mast/mastemu"
)

func TestExportMatchesServedBytes(t *testing.T) {
	dir := t.TempDir()
	fits := filepath.Join(dir, "real_drz.fits")
	want := bytes.Repeat([]byte("0123456789"), 2880)
	if err := os.WriteFile(fits, want, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--big", "1MiB", "--rand", "2MiB", "--files", "2", "--file-size", "64KiB", "--fits", fits}
	var out, errb bytes.Buffer
	if err := run(append(args, "--export", filepath.Join(dir, "export")), &out, &errb); err != nil {
		t.Fatal(err, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 5 {
		t.Fatalf("manifest:\n%s", out.String())
	}
	var o options
	o.obsid, o.big, o.rand, o.files, o.fileSize, o.fits = "2003738726", 1<<20, 2<<20, 2, 64<<10, multiFlag{fits}
	cat, prods, err := buildCatalog(o)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(handler(mastemu.New(mastemu.Options{Catalog: cat})))
	defer ts.Close()
	for i, line := range lines {
		f := strings.Split(line, "\t")
		p := prods[i]
		if len(f) != 4 || f[0] != p.CloudKey || f[2] != p.DataURI || f[3] != "obsid/2003738726/"+p.Filename ||
			!strings.HasPrefix(p.CloudKey, "hst/public/u9o4/u9o40504m/") {
			t.Fatalf("manifest line %q for %+v", line, p)
		}
		exported, err := os.ReadFile(filepath.Join(dir, "export", f[0]))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := ts.Client().Get(ts.URL + "/api/v0.1/Download/file?uri=" + url.QueryEscape(p.DataURI))
		if err != nil {
			t.Fatal(err)
		}
		served, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !bytes.Equal(exported, served) || int64(len(served)) != p.Size {
			t.Fatalf("%s: exported %d bytes, served %d, size %d", p.CloudKey, len(exported), len(served), p.Size)
		}
		if p.Filename == "real_drz.fits" && !bytes.Equal(served, want) {
			t.Fatal("file product is not the file's bytes")
		}
	}
	resp, err := ts.Client().Get(ts.URL + "/_mastemu/stats")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"download_bytes":`) {
		t.Fatalf("stats: %s", b)
	}
}

func TestFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--obsid", "42", "--manifest"},
		{"--big", "lots", "--manifest"},
		{"--fits", "/nonexistent.fits", "--manifest"},
		{"extra"},
	} {
		if err := run(args, io.Discard, io.Discard); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}
