package fs

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/mastfs/mastfs/cloud"
	"github.com/mastfs/mastfs/mast"
	"github.com/mastfs/mastfs/mast/mastemu"
)

// testS3 is the in-process public bucket of a test mount.
type testS3 struct {
	Backend *s3mem.Backend // nil on versitygw
	VGW     *versityGW     // set on versitygw (mountConfig.versitygw)
	URL     string
	Client  *cloud.Client
	Locator *cloud.Locator
	Source  *cloud.Source // S3 first, MAST (the test's client) otherwise
	// Keys maps each key put into the bucket to its data URI.
	Keys map[string]string
}

// startS3 serves the catalog's cloud objects for which keep is true from
// gofakes3 (bytes from Catalog.Open) and builds the mount's cloud client,
// locator (path_lookup through the archive client, HEADs to this S3) and
// S3-first source.
// startS3 serves the kept cloud objects from gofakes3; front, when set,
// is given the server's URL and returns the one the client uses (a fault
// proxy in front of it).
func startS3(t testing.TB, cat *mastemu.Catalog, keep func(key, uri string) bool, client *mast.Client, logger *slog.Logger, front func(string) string) *testS3 {
	t.Helper()
	s := &testS3{Backend: s3mem.New(), Keys: map[string]string{}}
	if err := s.Backend.CreateBucket(cloud.DefaultBucket); err != nil {
		t.Fatal(err)
	}
	for key, uri := range cat.CloudObjects() {
		if !keep(key, uri) {
			continue
		}
		r, ok := cat.Open(uri)
		if !ok {
			t.Fatalf("catalog has no bytes for %s", uri)
		}
		_, err := s.Backend.PutObject(cloud.DefaultBucket, key, map[string]string{
			"Content-Type":  "application/octet-stream",
			"Last-Modified": time.Now().UTC().Format(http.TimeFormat),
		}, r, r.Size(), nil)
		if err != nil {
			t.Fatal(err)
		}
		s.Keys[key] = uri
	}
	hs := httptest.NewServer(gofakes3.New(s.Backend, gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	t.Cleanup(hs.Close)
	s.URL = hs.URL
	if front != nil {
		s.URL = front(hs.URL)
	}
	var err error
	s.Client, err = cloud.New(cloud.Config{Endpoint: s.URL, Logger: logger, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s.Locator = cloud.NewLocator(client, s.Client, cloud.LocatorOptions{Logger: logger})
	s.Source = cloud.NewSource(s.Client, s.Locator, client, logger)
	return s
}

// lookupRecorder counts the URIs of every path_lookup request.
type lookupRecorder struct {
	mu      sync.Mutex
	batches []int
}

func (l *lookupRecorder) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "path_lookup") {
			l.mu.Lock()
			l.batches = append(l.batches, len(r.URL.Query()["uri"]))
			l.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	})
}

func (l *lookupRecorder) get() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]int(nil), l.batches...)
}

// readdirOrder lists a directory in the order the filesystem gives.
func readdirOrder(t *testing.T, dir string) []string {
	t.Helper()
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func cloudGetxattr(path, name string) (string, error) {
	buf := make([]byte, 4096)
	n, err := syscall.Getxattr(path, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

func cloudListxattr(t *testing.T, path string) []string {
	t.Helper()
	buf := make([]byte, 1<<16)
	n, err := syscall.Listxattr(path, buf)
	if err != nil {
		t.Fatalf("listxattr %s: %v", path, err)
	}
	var out []string
	for _, s := range strings.Split(string(buf[:n]), "\x00") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func hasString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func pathLookupCount(m *mounted) int {
	n := 0
	for _, e := range m.Emu.Stats().Log {
		if e.Endpoint == mastemu.EndpointPathLookup {
			n++
		}
	}
	return n
}

// cloudFixture is a generated catalog, a query directory of it with more
// than two path_lookup batches of products, some in the cloud and some not,
// and one cloud product whose object is missing from the bucket.
type cloudFixture struct {
	cat     *mastemu.Catalog
	dirPath []string          // mount-relative
	want    map[string]string // file name -> data URI
	keyOf   map[string]string // data URI -> cloud key (path_lookup's answer)
	dropped string            // data URI placed by path_lookup, object absent
}

func newCloudFixture(t *testing.T) *cloudFixture {
	t.Helper()
	cat := mastemu.Generate(1, 400, 6)
	const prop = "12689" // 116 unique products, 83 of them in the cloud
	f := &cloudFixture{cat: cat, dirPath: []string{"criteria", "obs_collection=HST", "proposal_id=" + prop},
		want: expectedFiles(cat, "HST", prop, nil), keyOf: map[string]string{}}
	for key, uri := range cat.CloudObjects() {
		f.keyOf[uri] = key
	}
	var inCloud []string
	for _, uri := range f.want {
		if _, ok := f.keyOf[uri]; ok {
			inCloud = append(inCloud, uri)
		}
	}
	sort.Strings(inCloud)
	if len(f.want) <= 2*cloud.PathLookupBatch || len(inCloud) < 10 || len(inCloud) == len(f.want) {
		t.Fatalf("fixture: %d products, %d in the cloud; want > %d, some in and some out", len(f.want), len(inCloud), 2*cloud.PathLookupBatch)
	}
	f.dropped = inCloud[len(inCloud)/2]
	return f
}

// keep puts into the bucket the listed cloud products but the dropped one.
func (f *cloudFixture) keep(key, uri string) bool {
	if uri == f.dropped {
		return false
	}
	for _, u := range f.want {
		if u == uri {
			return true
		}
	}
	return false
}

// TestCloudURIsFile: .cloud-uris.txt lists, in listing order, exactly the
// listed products whose object is in the bucket (path_lookup alone is not
// enough: the dropped product's object is missing), with path_lookup in
// batches of at most 40; afterwards user.mast.cloud_uri is known without
// any further request.
func TestCloudURIsFile(t *testing.T) {
	f := newCloudFixture(t)
	rec := &lookupRecorder{}
	m := mountForTest(t, mountConfig{catalog: f.cat, s3: f.keep, wrap: rec.wrap})
	dir := m.Path(f.dirPath...)
	names := readdirOrder(t, dir)
	if len(names) != len(f.want) {
		t.Fatalf("listing has %d files, want %d", len(names), len(f.want))
	}
	if n := pathLookupCount(m); n != 0 || m.S3.Client.Stats().Heads != 0 {
		t.Fatalf("listing made %d path_lookup requests and %d HEADs; want none", n, m.S3.Client.Stats().Heads)
	}

	var want strings.Builder
	inBucket := 0
	for _, name := range names {
		uri := f.want[name]
		if key, ok := f.keyOf[uri]; ok && uri != f.dropped {
			fmt.Fprintf(&want, "s3://stpubdata/%s\n", key)
			inBucket++
		}
	}
	got, err := os.ReadFile(dir + "/.cloud-uris.txt")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want.String() {
		t.Fatalf(".cloud-uris.txt:\n%s\nwant (%d lines):\n%s", got, inBucket, want.String())
	}
	if droppedKey := f.keyOf[f.dropped]; strings.Contains(string(got), droppedKey) {
		t.Fatalf(".cloud-uris.txt lists %s, whose object is not in the bucket", droppedKey)
	}

	// path_lookup: every listed URI once, in batches of at most 40.
	batches := rec.get()
	total := 0
	for _, n := range batches {
		if n > 40 || n == 0 {
			t.Fatalf("path_lookup batch of %d URIs (batches %v)", n, batches)
		}
		total += n
	}
	wantBatches := (len(f.want) + 39) / 40
	if total != len(f.want) || len(batches) != wantBatches {
		t.Fatalf("path_lookup batches %v: %d URIs in %d requests, want %d in %d", batches, total, len(batches), len(f.want), wantBatches)
	}
	if n := pathLookupCount(m); n != wantBatches {
		t.Fatalf("emulator log has %d path_lookup requests, want %d", n, wantBatches)
	}
	cloudCount := 0
	for _, uri := range f.want {
		if _, ok := f.keyOf[uri]; ok {
			cloudCount++
		}
	}
	if h := m.S3.Client.Stats().Heads; h != int64(cloudCount) {
		t.Fatalf("%d HEADs, want %d (one per placed product)", h, cloudCount)
	}

	// The xattr is known now: no more requests, for get or list.
	heads := m.S3.Client.Stats().Heads
	for _, name := range names {
		uri := f.want[name]
		file := dir + "/" + name
		v, err := cloudGetxattr(file, "user.mast.cloud_uri")
		attrs := cloudListxattr(t, file)
		key, placed := f.keyOf[uri]
		if placed && uri != f.dropped {
			if err != nil || v != "s3://stpubdata/"+key {
				t.Fatalf("%s: user.mast.cloud_uri = %q, %v; want s3://stpubdata/%s", name, v, err, key)
			}
			if !hasString(attrs, "user.mast.cloud_uri") {
				t.Fatalf("%s: listxattr lacks user.mast.cloud_uri: %v", name, attrs)
			}
		} else {
			if !errors.Is(err, syscall.ENODATA) {
				t.Fatalf("%s (not in the bucket): user.mast.cloud_uri = %q, %v; want ENODATA", name, v, err)
			}
			if hasString(attrs, "user.mast.cloud_uri") {
				t.Fatalf("%s (not in the bucket): listxattr names user.mast.cloud_uri", name)
			}
		}
	}
	if n := pathLookupCount(m); n != wantBatches || m.S3.Client.Stats().Heads != heads {
		t.Fatalf("xattrs after .cloud-uris.txt asked again: %d path_lookups, %d HEADs", n, m.S3.Client.Stats().Heads-heads)
	}
}

// TestCloudURIXattrLazy: ls -l and listxattr of every file cost no cloud
// request; getxattr of user.mast.cloud_uri resolves that one product.
func TestCloudURIXattrLazy(t *testing.T) {
	f := newCloudFixture(t)
	m := mountForTest(t, mountConfig{catalog: f.cat, s3: f.keep})
	dir := m.Path(f.dirPath...)
	if out, err := exec.Command("ls", "-l", dir).CombinedOutput(); err != nil {
		t.Fatalf("ls -l: %v\n%s", err, out)
	}
	names := readdirOrder(t, dir)
	for _, name := range names {
		attrs := cloudListxattr(t, dir+"/"+name)
		if hasString(attrs, "user.mast.cloud_uri") {
			t.Fatalf("%s: cloud_uri listed before anything was resolved", name)
		}
		if !hasString(attrs, "user.mast.url") {
			t.Fatalf("%s: listxattr %v lacks user.mast.url", name, attrs)
		}
	}
	if n := pathLookupCount(m); n != 0 || m.S3.Client.Stats().Heads != 0 {
		t.Fatalf("ls -l and listxattr made %d path_lookup requests and %d HEADs", n, m.S3.Client.Stats().Heads)
	}
	var inCloud, notInCloud string
	for _, name := range names {
		uri := f.want[name]
		if _, ok := f.keyOf[uri]; ok && uri != f.dropped && inCloud == "" {
			inCloud = name
		}
		if _, ok := f.keyOf[uri]; !ok && notInCloud == "" {
			notInCloud = name
		}
	}
	v, err := cloudGetxattr(dir+"/"+inCloud, "user.mast.cloud_uri")
	if want := "s3://stpubdata/" + f.keyOf[f.want[inCloud]]; err != nil || v != want {
		t.Fatalf("%s: user.mast.cloud_uri = %q, %v; want %s", inCloud, v, err, want)
	}
	if n, h := pathLookupCount(m), m.S3.Client.Stats().Heads; n != 1 || h != 1 {
		t.Fatalf("one getxattr made %d path_lookups and %d HEADs, want 1 and 1", n, h)
	}
	if !hasString(cloudListxattr(t, dir+"/"+inCloud), "user.mast.cloud_uri") {
		t.Fatal("listxattr does not name cloud_uri once it is known")
	}
	if _, err := cloudGetxattr(dir+"/"+notInCloud, "user.mast.cloud_uri"); !errors.Is(err, syscall.ENODATA) {
		t.Fatalf("%s (not in the cloud): %v, want ENODATA", notInCloud, err)
	}
	// The dropped product: placed by path_lookup, no object.
	for name, uri := range f.want {
		if uri == f.dropped {
			if _, err := cloudGetxattr(dir+"/"+name, "user.mast.cloud_uri"); !errors.Is(err, syscall.ENODATA) {
				t.Fatalf("%s (object missing): %v, want ENODATA", name, err)
			}
		}
	}
}

// TestCloudReadsS3First: a product held in the cloud is read from the
// bucket (no MAST download), byte-exact; the product whose object is
// missing, and one not in the cloud, come from MAST.
func TestCloudReadsS3First(t *testing.T) {
	f := newCloudFixture(t)
	m := mountForTest(t, mountConfig{catalog: f.cat, s3: f.keep})
	dir := m.Path(f.dirPath...)
	downloads := func(uri string) int {
		n := 0
		for _, e := range m.Emu.Stats().Log {
			if e.Endpoint == mastemu.EndpointDownload && e.URI == uri {
				n++
			}
		}
		return n
	}
	var fromS3, notInCloud, dropped string
	for name, uri := range f.want {
		info, _ := f.cat.Product(uri)
		_, placed := f.keyOf[uri]
		switch {
		case uri == f.dropped:
			dropped = name
		case info.Exclusive || info.Size < 0:
		case placed && (fromS3 == "" || name < fromS3):
			fromS3 = name
		case !placed && (notInCloud == "" || name < notInCloud):
			notInCloud = name
		}
	}
	if fromS3 == "" || notInCloud == "" || dropped == "" {
		t.Fatalf("fixture: %q %q %q", fromS3, notInCloud, dropped)
	}
	got, err := os.ReadFile(dir + "/" + fromS3)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, productBytes(t, f.cat, f.want[fromS3])) {
		t.Fatalf("%s: bytes from S3 differ from the archive's", fromS3)
	}
	if n := downloads(f.want[fromS3]); n != 0 {
		t.Fatalf("%s is in the bucket but was downloaded from MAST %d times", fromS3, n)
	}
	if m.S3.Client.Stats().Gets == 0 || m.S3.Source.Stats().S3Reads == 0 {
		t.Fatalf("no S3 read: %+v %+v", m.S3.Client.Stats(), m.S3.Source.Stats())
	}
	// .mastfs/stats.json counts the bucket's bytes under bytes.s3.
	var st struct {
		Bytes    map[string]int64 `json:"bytes"`
		Requests map[string]int64 `json:"requests"`
	}
	raw, err := os.ReadFile(m.Path(".mastfs", "stats.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	if st.Bytes["s3"] < int64(len(got)) || st.Bytes["s3"] != m.S3.Client.Stats().Bytes || st.Requests["s3.GetObject"] == 0 {
		t.Fatalf("stats.json bytes.s3 = %d, GetObject = %d; read %d bytes from S3 (client counted %d)",
			st.Bytes["s3"], st.Requests["s3.GetObject"], len(got), m.S3.Client.Stats().Bytes)
	}
	for _, name := range []string{dropped, notInCloud} {
		got, err := os.ReadFile(dir + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, productBytes(t, f.cat, f.want[name])) {
			t.Fatalf("%s: bytes differ from the archive's", name)
		}
		if downloads(f.want[name]) == 0 {
			t.Fatalf("%s is not in the bucket but no MAST download was made", name)
		}
	}
}

// TestCloudOff: without a locator .cloud-uris.txt is empty and there is no
// cloud_uri xattr, and nothing asks path_lookup.
func TestCloudOff(t *testing.T) {
	f := newCloudFixture(t)
	m := mountForTest(t, mountConfig{catalog: f.cat})
	dir := m.Path(f.dirPath...)
	got, err := os.ReadFile(dir + "/.cloud-uris.txt")
	if err != nil || len(got) != 0 {
		t.Fatalf(".cloud-uris.txt with the cloud off: %q, %v; want empty", got, err)
	}
	for name, uri := range f.want {
		if _, ok := f.keyOf[uri]; !ok {
			continue
		}
		if _, err := cloudGetxattr(dir+"/"+name, "user.mast.cloud_uri"); !errors.Is(err, syscall.ENODATA) {
			t.Fatalf("%s: cloud_uri with the cloud off: %v", name, err)
		}
		break
	}
	if n := pathLookupCount(m); n != 0 {
		t.Fatalf("%d path_lookup requests with the cloud off", n)
	}
}

// TestCloudFilesOverTheLimit: over --max-observations nothing is listed,
// so the files about listed products refuse (EFBIG, as the tables do).
func TestCloudFilesOverTheLimit(t *testing.T) {
	f := newCloudFixture(t)
	m := mountForTest(t, mountConfig{catalog: f.cat, s3: f.keep, maxObs: 2})
	dir := m.Path(f.dirPath...)
	for _, name := range []string{".curl.sh", ".cloud-uris.txt"} {
		if _, err := os.ReadFile(dir + "/" + name); !errors.Is(err, syscall.EFBIG) {
			t.Errorf("%s over the limit: %v, want EFBIG", name, err)
		}
	}
	if n := pathLookupCount(m); n != 0 {
		t.Fatalf("%d path_lookup requests over the limit", n)
	}
}

// TestCurlScriptDownloads runs .curl.sh with sh and curl against the
// emulator: every listed product lands byte-exact at
// mastDownload/<obs_collection>/<obs_id>/<file>; exclusive products need
// $MAST_API_TOKEN, which is never written into the script.
func TestCurlScriptDownloads(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed to run .curl.sh")
	}
	const token = "tok-curl-9c1d7e55"
	cat := mastemu.Generate(1, 400, 6)
	const prop = "10778" // 81 products, 6 exclusive
	// A product whose name would break naive quoting.
	var ownerObsID string
	for _, o := range cat.Observations() {
		if str(o["obs_collection"]) == "HST" && str(o["proposal_id"]) == prop && str(o["dataRights"]) == "PUBLIC" {
			ownerObsID = str(o["obsid"])
			break
		}
	}
	nasty, err := cat.AddProduct(ownerObsID, map[string]any{
		"dataURI":         "mast:HST/product/odd/it's $(touch PWNED) \"q\" `id`.txt",
		"productFilename": "it's $(touch PWNED) \"q\" `id`.txt",
		"size":            1234,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Small products only, to keep the test quick; the directory is an @ filter.
	want := expectedFiles(cat, "HST", prop, func(p mastemu.ProductInfo) bool { return p.Size >= 0 && p.Size < 600000 })
	m := mountForTest(t, mountConfig{catalog: cat, token: token, emu: mastemu.Options{Token: token}})
	dir := m.Path("criteria", "obs_collection=HST", "proposal_id="+prop, "@size=<600000")
	names := listDir(t, dir)
	if len(names) != len(want) {
		t.Fatalf("listing %v, want %d files", names, len(want))
	}
	exclusive := 0
	for _, uri := range want {
		if info, _ := cat.Product(uri); info.Exclusive {
			exclusive++
		}
	}
	if exclusive == 0 || len(want) < 10 {
		t.Fatalf("fixture: %d products, %d exclusive", len(want), exclusive)
	}
	if _, ok := want[nasty.Filename]; !ok {
		t.Fatalf("the odd product is not listed: %v", sortedKeys(want))
	}

	script, err := os.ReadFile(dir + "/.curl.sh")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(script, []byte(token)) {
		t.Fatal(".curl.sh contains the token")
	}
	if !bytes.HasPrefix(script, []byte("#!/bin/sh\n")) {
		t.Fatalf(".curl.sh does not start with #!/bin/sh:\n%s", script)
	}
	work := t.TempDir()
	scriptPath := filepath.Join(work, "get.sh")
	if err := os.WriteFile(scriptPath, script, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("sh", "-n", scriptPath).CombinedOutput(); err != nil {
		t.Fatalf("sh -n: %v\n%s", err, out)
	}

	run := func(t *testing.T, env ...string) (string, error) {
		cwd := t.TempDir()
		cmd := exec.Command("sh", scriptPath)
		cmd.Dir = cwd
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + cwd}, env...)
		out, err := cmd.CombinedOutput()
		if _, serr := os.Stat(filepath.Join(cwd, "PWNED")); serr == nil {
			t.Fatal("the script ran a command substitution from a product name")
		}
		if err != nil {
			t.Logf("script output:\n%s", out)
		}
		return cwd, err
	}
	check := func(t *testing.T, cwd string, withToken bool) {
		n := 0
		filepath.WalkDir(filepath.Join(cwd, "mastDownload"), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				n++
			}
			return nil
		})
		wantN := 0
		for _, uri := range want {
			info, _ := cat.Product(uri)
			target := filepath.Join(cwd, "mastDownload", info.ObsCollection, info.ObsID, filepath.Base(info.Filename))
			got, err := os.ReadFile(target)
			if info.Exclusive && !withToken {
				if err == nil {
					t.Errorf("%s: exclusive product downloaded without the token", target)
				}
				continue
			}
			wantN++
			if err != nil {
				t.Errorf("%s: %v", uri, err)
				continue
			}
			if !bytes.Equal(got, productBytes(t, cat, uri)) {
				t.Errorf("%s: bytes differ from the archive's (%d vs %d)", target, len(got), info.Length)
			}
		}
		if n != wantN {
			t.Errorf("mastDownload holds %d files, want %d", n, wantN)
		}
	}

	t.Run("with token", func(t *testing.T) {
		cwd, err := run(t, "MAST_API_TOKEN="+token)
		if err != nil {
			t.Fatalf("sh .curl.sh: %v", err)
		}
		check(t, cwd, true)
	})
	t.Run("without token", func(t *testing.T) {
		cwd, err := run(t)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Fatalf("sh .curl.sh without the token: %v; want exit status 1 (exclusive files fail)", err)
		}
		check(t, cwd, false)
	})
}

// TestDownloadPaths: astroquery's layout, safe components, and products that
// would share a path told apart.
func TestDownloadPaths(t *testing.T) {
	row := func(coll, obsID, file string) mast.Row {
		return mast.Row{"obs_collection": coll, "obs_id": obsID, "productFilename": file}
	}
	files := []*product{
		{URI: "mast:HST/product/a_flt.fits", Row: row("HST", "U9O40504M", "a_flt.fits")},
		{URI: "mast:HST/product/dir/b.fits", Row: row("HST", "U9O40504M", "sub/dir/b.fits")},
		{URI: "mast:X/1/same.txt", Row: row("X", "o1", "same.txt")},
		{URI: "mast:X/2/same.txt", Row: row("X", "o1", "same.txt")},
		{URI: "mast:Y/evil", Row: row("..", "../../etc", "..")},
		{URI: "mast:Z/z.fits", Row: row("", "", "")},
	}
	got := downloadPaths(files)
	want := []string{
		"mastDownload/HST/U9O40504M/a_flt.fits",
		"mastDownload/HST/U9O40504M/b.fits",
		"mastDownload/X/o1/same~" + cloudSha8("mast:X/1/same.txt") + ".txt",
		"mastDownload/X/o1/same~" + cloudSha8("mast:X/2/same.txt") + ".txt",
		"mastDownload/_/.._.._etc/evil",
		"mastDownload/_/_/z.fits",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("downloadPaths:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, p := range got {
		if strings.Contains("/"+p+"/", "/../") {
			t.Fatalf("%s climbs out of mastDownload", p)
		}
	}
}

func cloudSha8(s string) string {
	sum := sha1.Sum([]byte(s))
	return hex.EncodeToString(sum[:])[:8]
}
