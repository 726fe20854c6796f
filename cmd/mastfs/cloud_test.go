package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/mastfs/mastfs/mast"
	"github.com/mastfs/mastfs/mast/mastemu"
)

// TestMountCloudFlags runs the binary with --s3-endpoint/--s3-bucket/
// --cloud against gofakes3, with garbage AWS credentials in its
// environment: .cloud-uris.txt lists the products whose objects are in the
// bucket, S3 requests are unsigned, and --cloud off asks nothing.
func TestMountCloudFlags(t *testing.T) {
	requireFUSE(t)
	bin := buildBinary(t)
	cat := mastemu.Recorded()
	// An HLA cgi product: its URI has ?, = and &, which the download URL
	// must quote (astroquery issue #1892).
	hla, err := cat.AddProduct("2003738726", map[string]any{
		"dataURI":         "mast:HLA/url/cgi-bin/fitscut.cgi?red=hst_04819_65_wfpc2_f814w_pc&blue=hst_04819_65_wfpc2_f555w_pc&size=ALL&format=fits",
		"productFilename": "hst_04819_65_wfpc2_f814w_pc_fitscut.fits",
		"size":            2880 * 3,
	})
	if err != nil {
		t.Fatal(err)
	}
	emu := mastemu.New(mastemu.Options{Catalog: cat})
	hs := httptest.NewServer(emu)
	defer hs.Close()

	const bucket = "mastbucket"
	be := s3mem.New()
	if err := be.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	keyOf := map[string]string{}
	for key, uri := range cat.CloudObjects() {
		keyOf[uri] = key
		r, _ := cat.Open(uri)
		if r.Size() > 4<<20 {
			continue // not in this bucket: HEAD must say so
		}
		_, err := be.PutObject(bucket, key, map[string]string{"Last-Modified": time.Now().UTC().Format(http.TimeFormat)}, r, r.Size(), nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	var auth []string
	s3h := gofakes3.New(be, gofakes3.WithLogger(gofakes3.DiscardLog())).Server()
	s3srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = append(auth, r.Method+" "+r.URL.Path+" auth="+r.Header.Get("Authorization"))
		mu.Unlock()
		s3h.ServeHTTP(w, r)
	}))
	defer s3srv.Close()

	run := func(t *testing.T, cloudMode string) (string, func()) {
		mnt := t.TempDir()
		cmd := exec.Command(bin, "mount", "--mast-url", hs.URL, "--resolver-url", hs.URL+"/Santa-war/query",
			"--s3-endpoint", s3srv.URL, "--s3-bucket", bucket, "--cloud", cloudMode, mnt)
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=AKIAGARBAGE", "AWS_SECRET_ACCESS_KEY=garbage",
			"AWS_SESSION_TOKEN=garbage", "AWS_PROFILE=no-such-profile")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("mastfs stderr:\n%s", stderr.String())
			}
		})
		waitMounted(t, mnt)
		return mnt, func() { stopAndWait(t, cmd, mnt) }
	}

	t.Run("auto", func(t *testing.T) {
		mnt, stop := run(t, "auto")
		defer stop()
		dir := filepath.Join(mnt, "obsid", "2003738726")
		f, err := os.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		names, err := f.Readdirnames(-1)
		f.Close()
		if err != nil || len(names) == 0 {
			t.Fatalf("ls %s: %v %v", dir, names, err)
		}
		var want strings.Builder
		skipped := 0
		fromS3 := ""
		for _, n := range names {
			uri, err := xattr(filepath.Join(dir, n), "user.mast.dataURI")
			if err != nil {
				t.Fatal(err)
			}
			key, ok := keyOf[uri]
			if !ok {
				continue
			}
			if _, err := be.HeadObject(bucket, key); err != nil {
				skipped++
				continue
			}
			fmt.Fprintf(&want, "s3://%s/%s\n", bucket, key)
			if info, _ := cat.Product(uri); !info.Exclusive && fromS3 == "" {
				fromS3 = n
			}
		}
		got, err := os.ReadFile(filepath.Join(dir, ".cloud-uris.txt"))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want.String() || want.Len() == 0 {
			t.Fatalf(".cloud-uris.txt:\n%s\nwant:\n%s", got, want.String())
		}
		t.Logf("%d products in the bucket, %d placed by path_lookup but absent", strings.Count(want.String(), "\n"), skipped)
		// Bytes of a product in the bucket come from S3, not from MAST.
		uri, _ := xattr(filepath.Join(dir, fromS3), "user.mast.dataURI")
		b, err := os.ReadFile(filepath.Join(dir, fromS3))
		if err != nil || !bytes.Equal(b, readAll(t, cat, uri)) {
			t.Fatalf("%s: %v or bytes differ", fromS3, err)
		}
		for _, e := range emu.Stats().Log {
			if e.Endpoint == mastemu.EndpointDownload && e.URI == uri {
				t.Fatalf("%s is in the bucket but was downloaded from MAST", uri)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if len(auth) == 0 {
			t.Fatal("no S3 request reached the bucket")
		}
		for _, a := range auth {
			if !strings.HasSuffix(a, " auth=") || !strings.Contains(a, "/"+bucket+"/") {
				t.Fatalf("S3 request signed or not path-style: %s", a)
			}
		}
	})
	t.Run("off", func(t *testing.T) {
		mu.Lock()
		auth = nil
		mu.Unlock()
		emu.ResetStats()
		mnt, stop := run(t, "off")
		defer stop()
		got, err := os.ReadFile(filepath.Join(mnt, "obsid", "2003738726", ".cloud-uris.txt"))
		if err != nil || len(got) != 0 {
			t.Fatalf(".cloud-uris.txt with --cloud off: %q, %v", got, err)
		}
		if n := emu.Stats().Requests[mastemu.EndpointPathLookup]; n != 0 {
			t.Fatalf("%d path_lookup requests with --cloud off", n)
		}
		// .curl.sh of the binary fetches every public product of the
		// directory, the HLA cgi one included, byte-exact.
		script, err := os.ReadFile(filepath.Join(mnt, "obsid", "2003738726", ".curl.sh"))
		if err != nil {
			t.Fatal(err)
		}
		// The emulator forgives an unquoted "&" in the uri parameter; MAST
		// does not (it drops what follows), so check the URL itself.
		wantURL := mast.New(mast.Config{BaseURL: hs.URL}).DownloadURL(hla.DataURI)
		if !strings.Contains(wantURL, "%26blue%3D") || !bytes.Contains(script, []byte("'"+wantURL+"'")) {
			t.Fatalf(".curl.sh does not fetch %s:\n%s", wantURL, script)
		}
		if u, err := xattr(filepath.Join(mnt, "obsid", "2003738726", hla.Filename), "user.mast.url"); err != nil || u != wantURL {
			t.Fatalf("user.mast.url = %q, %v; want %s", u, err, wantURL)
		}
		work := t.TempDir()
		os.WriteFile(filepath.Join(work, "get.sh"), script, 0o644)
		sh := exec.Command("sh", "get.sh")
		sh.Dir = work
		sh.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + work}
		out, err := sh.CombinedOutput()
		if err != nil {
			t.Logf("script output:\n%s", out)
		}
		target := filepath.Join(work, "mastDownload", hla.ObsCollection, hla.ObsID, hla.Filename)
		b, rerr := os.ReadFile(target)
		if rerr != nil || !bytes.Equal(b, readAll(t, cat, hla.DataURI)) {
			t.Fatalf("HLA cgi product via .curl.sh: %v (script: %v)\n%s", rerr, err, script)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(auth) != 0 {
			t.Fatalf("S3 requests with --cloud off: %v", auth)
		}
	})
	t.Run("only", func(t *testing.T) {
		// --cloud only lists exactly the products whose object is in the
		// bucket; .products.csv agrees.
		mnt, stop := run(t, "only")
		defer stop()
		dir := filepath.Join(mnt, "obsid", "2003738726")
		var want []string
		for _, row := range cat.ProductsFor("2003738726") {
			uri, _ := row["dataURI"].(string)
			key, ok := keyOf[uri]
			if !ok || hasName(want, uri) {
				continue
			}
			if _, err := be.HeadObject(bucket, key); err == nil {
				want = append(want, uri)
			}
		}
		f, err := os.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		names, err := f.Readdirnames(-1)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, n := range names {
			if strings.HasPrefix(n, ".") {
				continue
			}
			uri, err := xattr(filepath.Join(dir, n), "user.mast.dataURI")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, uri)
		}
		sort.Strings(got)
		sort.Strings(want)
		if len(want) == 0 || strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("--cloud only lists %v, want %v", got, want)
		}
		csv, err := os.ReadFile(filepath.Join(dir, ".products.csv"))
		if err != nil {
			t.Fatal(err)
		}
		if rows := strings.Count(strings.TrimRight(string(csv), "\n"), "\n"); rows != len(want) {
			t.Fatalf(".products.csv has %d rows, want %d", rows, len(want))
		}
	})
}

func hasName(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
