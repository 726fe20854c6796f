package mastemu

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"image/jpeg"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

func findProduct(t *testing.T, c *Catalog, what string, pred func(ProductInfo) bool) ProductInfo {
	t.Helper()
	p, ok := c.FindProduct(pred)
	if !ok {
		t.Fatalf("catalog has no %s product", what)
	}
	return p
}

func publicFITS(p ProductInfo) bool {
	return strings.HasSuffix(p.Filename, ".fits") && !p.Dynamic && !p.Exclusive && p.Size > 3*2880
}

func TestRangedDownloads(t *testing.T) {
	c := generated()
	_, ts := startServer(t, Options{Catalog: c})
	p := findProduct(t, c, "public FITS", publicFITS)
	whole := productBytes(t, c, p.DataURI)
	if int64(len(whole)) != p.Size {
		t.Fatalf("content %d bytes, catalog size %d", len(whole), p.Size)
	}
	u := downloadURL(ts.URL, p.DataURI)

	resp, body := do(t, http.MethodHead, u)
	if resp.StatusCode != 200 || resp.ContentLength != p.Size || resp.Header.Get("Accept-Ranges") != "bytes" || len(body) != 0 {
		t.Fatalf("HEAD: %d len %d Accept-Ranges %q", resp.StatusCode, resp.ContentLength, resp.Header.Get("Accept-Ranges"))
	}
	resp, body = get(t, u)
	if resp.StatusCode != 200 || !bytes.Equal(body, whole) {
		t.Fatalf("GET: %d, %d bytes", resp.StatusCode, len(body))
	}
	// The trailing-slash spelling of the astropy docs.
	resp, body = get(t, strings.Replace(u, "/file?", "/file/?", 1))
	if resp.StatusCode != 200 || !bytes.Equal(body, whole) {
		t.Fatalf("GET file/: %d", resp.StatusCode)
	}
	size := p.Size
	for _, rc := range []struct {
		rng        string
		start, end int64
	}{
		{"bytes=100-199", 100, 199},
		{"bytes=2870-2889", 2870, 2889}, // across header and data
		{fmt.Sprintf("bytes=%d-", size-10), size - 10, size - 1},
		{"bytes=-7", size - 7, size - 1},
		{fmt.Sprintf("bytes=%d-%d", size-5, size+100), size - 5, size - 1},
	} {
		resp, body := get(t, u, "Range", rc.rng)
		want := fmt.Sprintf("bytes %d-%d/%d", rc.start, rc.end, size)
		if resp.StatusCode != http.StatusPartialContent || resp.Header.Get("Content-Range") != want ||
			!bytes.Equal(body, whole[rc.start:rc.end+1]) || resp.ContentLength != rc.end-rc.start+1 {
			t.Errorf("%s: %d %q (want %q), %d bytes", rc.rng, resp.StatusCode, resp.Header.Get("Content-Range"), want, len(body))
		}
	}
	resp, _ = get(t, u, "Range", fmt.Sprintf("bytes=%d-", size))
	if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable || resp.Header.Get("Content-Range") != fmt.Sprintf("bytes */%d", size) {
		t.Errorf("out of range: %d %q", resp.StatusCode, resp.Header.Get("Content-Range"))
	}
	for _, uri := range []string{"mast:HST/product/does_not_exist.fits", "", "mast:HLA/url/cgi-bin/getdata.cgi?filename=nope_drz.fits"} {
		if resp, _ := get(t, downloadURL(ts.URL, uri)); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%q: %d, want 404", uri, resp.StatusCode)
		}
	}
}

func TestIgnoreRangeAndNoContentLength(t *testing.T) {
	c := generated()
	p := findProduct(t, c, "public FITS", publicFITS)
	whole := productBytes(t, c, p.DataURI)

	_, ts := startServer(t, Options{Catalog: c, IgnoreRange: true})
	resp, body := get(t, downloadURL(ts.URL, p.DataURI), "Range", "bytes=10-19")
	if resp.StatusCode != 200 || !bytes.Equal(body, whole) || resp.Header.Get("Content-Range") != "" {
		t.Fatalf("IgnoreRange: %d, %d bytes", resp.StatusCode, len(body))
	}

	_, ts = startServer(t, Options{Catalog: c, OmitContentLength: true})
	for _, m := range []string{http.MethodHead, http.MethodGet} {
		resp, body := do(t, m, downloadURL(ts.URL, p.DataURI))
		if resp.StatusCode != 200 || resp.ContentLength != -1 || resp.Header.Get("Content-Length") != "" {
			t.Fatalf("%s without length: %d, ContentLength %d", m, resp.StatusCode, resp.ContentLength)
		}
		if m == http.MethodGet && (!bytes.Equal(body, whole) || len(resp.TransferEncoding) == 0) {
			t.Fatalf("GET without length: %d bytes, Transfer-Encoding %v", len(body), resp.TransferEncoding)
		}
	}
	// Small bodies too: the server must not measure them.
	small := findProduct(t, c, "small text", func(p ProductInfo) bool {
		return strings.HasSuffix(p.Filename, ".txt") && p.Size < 1000 && !p.Exclusive
	})
	if resp, _ := get(t, downloadURL(ts.URL, small.DataURI)); resp.ContentLength != -1 {
		t.Fatalf("small GET has Content-Length %d", resp.ContentLength)
	}
}

func TestDynamicProducts(t *testing.T) {
	c := generated()
	_, ts := startServer(t, Options{Catalog: c})
	p := findProduct(t, c, "dynamic", func(p ProductInfo) bool { return p.Dynamic && !p.Exclusive })
	whole := productBytes(t, c, p.DataURI)
	if int64(len(whole)) != p.Length || p.Length <= 0 {
		t.Fatalf("Length %d, content %d", p.Length, len(whole))
	}
	for _, m := range []string{http.MethodHead, http.MethodGet} {
		resp, body := do(t, m, downloadURL(ts.URL, p.DataURI), "Range", "bytes=0-9")
		if resp.StatusCode != 200 || resp.ContentLength != -1 || resp.Header.Get("Accept-Ranges") != "" {
			t.Fatalf("%s dynamic: %d ContentLength %d Accept-Ranges %q", m, resp.StatusCode, resp.ContentLength, resp.Header.Get("Accept-Ranges"))
		}
		if m == http.MethodGet && !bytes.Equal(body, whole) {
			t.Fatalf("dynamic body %d bytes, want %d", len(body), len(whole))
		}
	}
	// astroquery 0.4.6 does not escape the URI: the query is then
	// uri=mast:HLA/url/cgi-bin/getdata.cgi?filename=...
	resp, body := get(t, ts.URL+"/api/v0.1/Download/file?uri="+p.DataURI)
	if resp.StatusCode != 200 || !bytes.Equal(body, whole) {
		t.Fatalf("unescaped URI: %d", resp.StatusCode)
	}
	// ... and an HLA URI with its own "&" arrives split.
	rc := Recorded()
	_, ts = startServer(t, Options{Catalog: rc})
	q := "mast:HLA/url/cgi-bin/fitscut.cgi?red=hst_05371_cs_wfpc2_f814w_wf&size=ALL&format=fits"
	if _, err := rc.AddProduct("2007372631", map[string]any{"dataURI": q, "productFilename": "fitscut.fits", "size": 2880 * 3}); err != nil {
		t.Fatal(err)
	}
	if resp, _ := get(t, ts.URL+"/api/v0.1/Download/file?uri="+q); resp.StatusCode != 200 || resp.ContentLength != 2880*3 {
		t.Fatalf("unescaped URI with &: %d %d", resp.StatusCode, resp.ContentLength)
	}
}

func TestExclusiveAccess(t *testing.T) {
	c := generated()
	p := findProduct(t, c, "exclusive", func(p ProductInfo) bool { return p.Exclusive && !p.Dynamic })
	pub := findProduct(t, c, "public", publicFITS)
	_, ts := startServer(t, Options{Catalog: c, Token: "tok123"})
	u := downloadURL(ts.URL, p.DataURI)
	for _, hdr := range [][]string{nil, {"Authorization", "token wrong"}, {"Cookie", "mast_token=wrong"}} {
		for _, m := range []string{http.MethodHead, http.MethodGet} {
			if resp, _ := do(t, m, u, hdr...); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s %v: %d, want 401", m, hdr, resp.StatusCode)
			}
		}
	}
	for _, hdr := range [][]string{{"Authorization", "token tok123"}, {"Authorization", "Bearer tok123"}, {"Cookie", "mast_token=tok123"}} {
		if resp, body := get(t, u, hdr...); resp.StatusCode != 200 || int64(len(body)) != p.Size {
			t.Errorf("%v: %d, %d bytes", hdr, resp.StatusCode, len(body))
		}
	}
	if resp, _ := get(t, downloadURL(ts.URL, pub.DataURI)); resp.StatusCode != 200 {
		t.Errorf("public product without token: %d", resp.StatusCode)
	}
	_, noTok := startServer(t, Options{Catalog: c})
	if resp, _ := get(t, downloadURL(noTok.URL, p.DataURI), "Authorization", "token "); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no configured token: %d, want 401", resp.StatusCode)
	}
}

var fitsCard = regexp.MustCompile(`^([A-Z0-9_-]{1,8}) *= +(.*?)(?: / .*)?$`)

// parseFITSHeader checks the primary header and returns its keywords.
func parseFITSHeader(t *testing.T, b []byte) map[string]string {
	t.Helper()
	if len(b) < 2880 {
		t.Fatalf("file of %d bytes", len(b))
	}
	kw := map[string]string{}
	for i := 0; ; i += 80 {
		if i >= 2880 {
			t.Fatal("no END card in the first header block")
		}
		card := string(b[i : i+80])
		if strings.TrimRight(card, " ") == "END" {
			break
		}
		m := fitsCard.FindStringSubmatch(strings.TrimRight(card, " "))
		if m == nil {
			t.Fatalf("card %d malformed: %q", i/80, card)
		}
		kw[m[1]] = strings.TrimSpace(m[2])
	}
	if !strings.HasPrefix(string(b), "SIMPLE  =                    T") {
		t.Fatalf("first card %q", b[:80])
	}
	return kw
}

func TestFITSValidity(t *testing.T) {
	c := generated()
	_, ts := startServer(t, Options{Catalog: c})
	plain := findProduct(t, c, "FITS", publicFITS)
	gz := findProduct(t, c, "gzip FITS", func(p ProductInfo) bool { return strings.HasSuffix(p.Filename, ".fits.gz") && !p.Exclusive })
	dir := t.TempDir()
	var files []string
	for _, p := range []ProductInfo{plain, gz} {
		_, body := get(t, downloadURL(ts.URL, p.DataURI))
		if int64(len(body)) != p.Size {
			t.Fatalf("%s: %d bytes, size %d", p.Filename, len(body), p.Size)
		}
		data := body
		if strings.HasSuffix(p.Filename, ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if data, err = io.ReadAll(zr); err != nil {
				t.Fatalf("gunzip %s: %v", p.Filename, err) // also checks CRC and length
			}
		}
		kw := parseFITSHeader(t, data)
		n1, _ := strconv.Atoi(kw["NAXIS1"])
		n2, _ := strconv.Atoi(kw["NAXIS2"])
		if kw["BITPIX"] != "16" || kw["NAXIS"] != "2" || len(data)%2880 != 0 || 2880+2*n1*n2 != len(data) {
			t.Fatalf("%s: header %v for %d bytes", p.Filename, kw, len(data))
		}
		f := filepath.Join(dir, p.Filename)
		if err := os.WriteFile(f, body, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	fv, err := exec.LookPath("fitsverify")
	if err != nil {
		t.Log("fitsverify not installed; header checked in Go only")
		return
	}
	for _, f := range files {
		out, err := exec.Command(fv, "-q", f).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "verification OK") {
			t.Errorf("fitsverify %s: %v\n%s", filepath.Base(f), err, out)
		}
	}
}

func TestJPEGAndText(t *testing.T) {
	c := generated()
	_, ts := startServer(t, Options{Catalog: c})
	jp := findProduct(t, c, "JPEG", func(p ProductInfo) bool { return strings.HasSuffix(p.Filename, ".jpg") && !p.Dynamic && !p.Exclusive })
	_, body := get(t, downloadURL(ts.URL, jp.DataURI))
	if _, err := jpeg.Decode(bytes.NewReader(body)); err != nil || int64(len(body)) != jp.Size {
		t.Fatalf("%s: %v, %d bytes of %d", jp.Filename, err, len(body), jp.Size)
	}
	txt := findProduct(t, c, "text", func(p ProductInfo) bool { return strings.HasSuffix(p.Filename, ".txt") && !p.Exclusive && !p.Dynamic })
	_, body = get(t, downloadURL(ts.URL, txt.DataURI))
	lines := strings.SplitAfter(string(body), "\n")
	if int64(len(body)) != txt.Size || !strings.HasPrefix(lines[1], "mastemu "+txt.Filename+" line 00000001") || len(lines[0]) != 80 {
		t.Fatalf("%s: %q", txt.Filename, lines[:2])
	}
}

func TestLargeProductStreams(t *testing.T) {
	c := Recorded()
	const size = 100 << 20
	big, err := c.AddProduct("2003738726", map[string]any{"dataURI": "mast:HST/product/u9o40504m_big.fits", "size": size})
	if err != nil {
		t.Fatal(err)
	}
	s, ts := startServer(t, Options{Catalog: c})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	resp, err := http.Get(downloadURL(ts.URL, big.DataURI))
	if err != nil {
		t.Fatal(err)
	}
	tail := make([]byte, 2880)
	n, err := io.Copy(io.Discard, io.LimitReader(resp.Body, size-2880))
	if err == nil {
		_, err = io.ReadFull(resp.Body, tail)
	}
	resp.Body.Close()
	runtime.ReadMemStats(&after)
	if err != nil || n != size-2880 {
		t.Fatalf("streamed %d bytes: %v", n, err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
		t.Errorf("serving 100 MiB allocated %d MiB: the product is being materialised", alloc>>20)
	}
	r, _ := c.Open(big.DataURI)
	want := make([]byte, 2880)
	r.ReadAt(want, size-2880)
	if !bytes.Equal(tail, want) {
		t.Fatal("tail bytes differ from Open")
	}
	if got := s.Stats().DownloadBytes; got != size {
		t.Errorf("DownloadBytes %d, want %d", got, size)
	}
}

func TestBundleScript(t *testing.T) {
	_, ts := startServer(t, Options{})
	uris := []string{"mast:HST/product/u9o40504m_c3m.fits", "mast:HST/product/u9o40504m_drz.fits", "mast:HST/product/unknown.fits"}
	resp, err := http.PostForm(ts.URL+"/api/v0.1/Download/bundle.sh", url.Values{"uri": uris})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	script := string(b)
	if resp.Header.Get("Content-Type") != "text/x-shellscript" || !strings.HasPrefix(script, "#!/bin/sh") {
		t.Fatalf("bundle.sh: %q\n%s", resp.Header.Get("Content-Type"), script)
	}
	var curls []string
	for _, l := range strings.Split(script, "\n") {
		if strings.HasPrefix(l, "curl ") {
			curls = append(curls, l)
		}
	}
	if len(curls) != 3 || !strings.Contains(curls[0], "--output 'mastDownload/HST/U9O40504M/u9o40504m_c3m.fits'") ||
		!strings.Contains(curls[0], "'"+ts.URL+"/api/v0.1/Download/file?bundle_name=mastDownload&uri=mast:HST/product/u9o40504m_c3m.fits'") {
		t.Fatalf("curl lines:\n%s", strings.Join(curls, "\n"))
	}
}

func TestPathLookup(t *testing.T) {
	_, ts := startServer(t, Options{})
	_, b := get(t, ts.URL+"/api/v0.1/path_lookup/?uri=mast:HST/product/u9o40504m_c3m.fits&uri=mast:HST/product/does_not_exist.fits&use_cloud_path=True")
	var got, want map[string]map[string]any
	json.Unmarshal(b, &got)
	json.Unmarshal(recordedFile("mast_relative_path.json"), &want)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("path_lookup %s\nwant %v", b, want)
	}
	// Generated: every cloud object is found at its key, others are 404.
	c := generated()
	_, ts = startServer(t, Options{Catalog: c})
	objs := c.CloudObjects()
	q := url.Values{"use_cloud_path": {"True"}}
	keyOf := map[string]string{}
	for key, uri := range objs {
		q.Add("uri", uri)
		keyOf[uri] = key
		if len(keyOf) == 30 {
			break
		}
	}
	notCloud := findProduct(t, c, "not in the cloud", func(p ProductInfo) bool { return p.CloudKey == "" })
	q.Add("uri", notCloud.DataURI)
	_, b = get(t, ts.URL+"/api/v0.1/path_lookup/?"+q.Encode())
	var res map[string]struct {
		StatusCode int     `json:"status_code"`
		Path       *string `json:"path"`
	}
	if err := json.Unmarshal(b, &res); err != nil || len(res) != 31 {
		t.Fatalf("%v: %d keys", err, len(res))
	}
	for uri, key := range keyOf {
		if e := res[uri]; e.StatusCode != 200 || e.Path == nil || *e.Path != "/"+key {
			t.Errorf("%s: %+v, want /%s", uri, e, key)
		}
	}
	if e := res[notCloud.DataURI]; e.StatusCode != 404 || e.Path != nil {
		t.Errorf("not in cloud: %+v", e)
	}
}
