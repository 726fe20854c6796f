package fs

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mastfs/mastfs/cloud"
	"github.com/mastfs/mastfs/mast/mastemu"
)

// cloudOnlyNames are the fixture's file names whose object is in the bucket.
func (f *cloudFixture) cloudOnlyNames() []string {
	var out []string
	for name, uri := range f.want {
		if _, ok := f.keyOf[uri]; ok && uri != f.dropped {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// checkCloudOnly: with --cloud only the directory, find, .products.csv,
// .curl.sh and .cloud-uris.txt all show exactly the products whose object
// is in the bucket (not the one path_lookup places but whose object is
// missing), located in path_lookup batches of at most 40.
func checkCloudOnly(t *testing.T, f *cloudFixture, m *mounted, rec *lookupRecorder) {
	t.Helper()
	want := f.cloudOnlyNames()
	if len(want) == 0 || len(want) == len(f.want) {
		t.Fatalf("fixture: %d of %d in the bucket", len(want), len(f.want))
	}
	dir := m.Path(f.dirPath...)
	names := readdirOrder(t, dir)
	var files []string
	for _, n := range names {
		if !strings.HasPrefix(n, ".") {
			files = append(files, n)
		}
	}
	sort.Strings(files)
	if strings.Join(files, "\n") != strings.Join(want, "\n") {
		t.Fatalf("--cloud only lists %d files, want the %d in the bucket:\ngot  %v\nwant %v", len(files), len(want), files, want)
	}
	for _, n := range rec.get() {
		if n > cloud.PathLookupBatch {
			t.Fatalf("path_lookup batch of %d URIs", n)
		}
	}
	if len(rec.get()) < (len(f.want)+cloud.PathLookupBatch-1)/cloud.PathLookupBatch {
		t.Fatalf("path_lookup batches %v for %d products", rec.get(), len(f.want))
	}
	// A hidden product is not there by name either.
	for name, uri := range f.want {
		if _, ok := f.keyOf[uri]; !ok || uri == f.dropped {
			if _, err := os.Stat(dir + "/" + name); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("hidden %s: stat err %v, want ENOENT", name, err)
			}
			break
		}
	}
	// uri/<dataURI> hides them too, and shows the others.
	for name, uri := range f.want {
		_, placed := f.keyOf[uri]
		_, err := os.Stat(m.Path("uri", uri))
		if hidden := !placed || uri == f.dropped; hidden != errors.Is(err, os.ErrNotExist) || !hidden && err != nil {
			t.Fatalf("uri/%s (%s): hidden=%v, stat err %v", uri, name, hidden, err)
		}
	}
	out, err := exec.Command("find", dir, "-type", "f", "!", "-name", ".*").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := len(strings.Fields(string(out))); got != len(want) {
		t.Fatalf("find shows %d files, want %d", got, len(want))
	}
	csv, err := os.ReadFile(dir + "/.products.csv")
	if err != nil {
		t.Fatal(err)
	}
	if rows := strings.Count(strings.TrimRight(string(csv), "\n"), "\n"); rows != len(want) {
		t.Fatalf(".products.csv has %d rows, want %d", rows, len(want))
	}
	for name, uri := range f.want {
		if _, ok := f.keyOf[uri]; (!ok || uri == f.dropped) && strings.Contains(string(csv), uri+",") {
			t.Fatalf(".products.csv holds hidden %s (%s)", name, uri)
		}
	}
	script, err := os.ReadFile(dir + "/.curl.sh")
	if err != nil {
		t.Fatal(err)
	}
	for name := range f.want {
		hidden := !hasString(want, name)
		if in := strings.Contains(string(script), "/"+name); in == hidden && !strings.Contains(name, "~") {
			t.Fatalf(".curl.sh: %s present=%v, hidden=%v", name, in, hidden)
		}
	}
	uris, err := os.ReadFile(dir + "/.cloud-uris.txt")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(strings.Fields(string(uris))); n != len(want) {
		t.Fatalf(".cloud-uris.txt has %d lines, want %d", n, len(want))
	}
	// Every listed file reads.
	got, err := os.ReadFile(dir + "/" + want[0])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, productBytes(t, f.cat, f.want[want[0]])) {
		t.Fatalf("%s: wrong bytes", want[0])
	}
}

// TestCloudOnlyHides: --cloud only on gofakes3.
func TestCloudOnlyHides(t *testing.T) {
	f := newCloudFixture(t)
	rec := &lookupRecorder{}
	m := mountForTest(t, mountConfig{catalog: f.cat, s3: f.keep, wrap: rec.wrap, cloudOnly: true})
	checkCloudOnly(t, f, m, rec)
}

// largestInBucket is the fixture's biggest product held in the bucket.
func (f *cloudFixture) largestInBucket(t *testing.T) (name, uri, key string, size int64) {
	t.Helper()
	for n, u := range f.want {
		info, _ := f.cat.Product(u)
		k, placed := f.keyOf[u]
		if !placed || u == f.dropped || info.Exclusive || info.Size <= 0 {
			continue
		}
		if info.Size > size || info.Size == size && n < name {
			name, uri, key, size = n, u, k, info.Size
		}
	}
	if name == "" {
		t.Fatal("fixture: no product in the bucket")
	}
	return name, uri, key, size
}

// fadviseRandom turns off the kernel's readahead on f, so that a test knows
// which reads reach mastfs.
func fadviseRandom(t *testing.T, f *os.File) {
	t.Helper()
	const posixFadvRandom = 1
	if _, _, e := syscall.Syscall6(syscall.SYS_FADVISE64, f.Fd(), 0, 0, posixFadvRandom, 0, 0); e != 0 {
		t.Fatalf("fadvise: %v", e)
	}
}

// checkReplacedUnderOpenFile: the object of an open product is replaced by
// other bytes of the same size. A read of a block not yet cached gives
// ESTALE, never the new bytes; a new open reads the new version whole.
func checkReplacedUnderOpenFile(t *testing.T, f *cloudFixture, m *mounted, replace func(key string, data []byte)) {
	t.Helper()
	name, uri, key, size := f.largestInBucket(t)
	const bs = 16 << 10
	if size < 4*bs {
		t.Fatalf("fixture: largest product %s is %d bytes", name, size)
	}
	path := m.Path(append(append([]string{}, f.dirPath...), name)...)
	old := productBytes(t, f.cat, uri)
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	fadviseRandom(t, fh)
	buf := make([]byte, 4096)
	if _, err := fh.ReadAt(buf, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf, old[:4096]) {
		t.Fatal("first read: wrong bytes")
	}
	fresh := make([]byte, size)
	for i := range fresh {
		fresh[i] = old[i] ^ 0x5a
	}
	replace(key, fresh)
	_, err = fh.ReadAt(buf, size-4096)
	if !errors.Is(err, syscall.ESTALE) {
		t.Fatalf("read after the object was replaced: err %v (new bytes: %v); want ESTALE", err, bytes.Equal(buf, fresh[size-4096:]))
	}
	fh.Close()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("new open after the change: %v", err)
	}
	if !bytes.Equal(got, fresh) {
		t.Fatalf("new open: %d bytes, new version: %v, old version: %v", len(got), bytes.Equal(got, fresh), bytes.Equal(got, old))
	}
}

// TestETagChangeUnderOpenFile on gofakes3 (which ignores If-Match on GET:
// the answer's ETag is checked).
func TestETagChangeUnderOpenFile(t *testing.T) {
	f := newCloudFixture(t)
	m := mountForTest(t, mountConfig{catalog: f.cat, s3: f.keep, blockSize: 16 << 10})
	checkReplacedUnderOpenFile(t, f, m, func(key string, data []byte) {
		_, err := m.S3.Backend.PutObject(cloud.DefaultBucket, key, map[string]string{
			"Content-Type":  "application/octet-stream",
			"Last-Modified": time.Now().UTC().Format(http.TimeFormat),
		}, bytes.NewReader(data), int64(len(data)), nil)
		if err != nil {
			t.Fatal(err)
		}
	})
}

// cacheCounters reads the block cache's hits and misses from stats.json.
func cacheCounters(t *testing.T, m *mounted) (reads, fetched int64) {
	t.Helper()
	raw, err := os.ReadFile(m.Path(".mastfs", "stats.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st StatsSnapshot
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	return st.Cache.Hits + st.Cache.Misses, st.Cache.BytesFetched
}

// TestODirect: a second plain open is served from the page cache
// (FOPEN_KEEP_CACHE: no read reaches mastfs); every O_DIRECT read reaches
// mastfs (FOPEN_DIRECT_IO), served from the block cache the second time,
// and O_DIRECT opens do not drop the pages of plain ones.
func TestODirect(t *testing.T) {
	f := newCloudFixture(t)
	m := mountForTest(t, mountConfig{catalog: f.cat, s3: f.keep})
	name, uri, _, size := f.largestInBucket(t)
	path := m.Path(append(append([]string{}, f.dirPath...), name)...)
	want := productBytes(t, f.cat, uri)
	readAll := func(flags int) []byte {
		t.Helper()
		fh, err := os.OpenFile(path, os.O_RDONLY|flags, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		got, err := io.ReadAll(fh)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("flags %#x: %d bytes, want %d (%d)", flags, len(got), len(want), size)
		}
		return got
	}
	readAll(0)
	r1, f1 := cacheCounters(t, m)
	readAll(0)
	r2, f2 := cacheCounters(t, m)
	if r2 != r1 || f2 != f1 {
		t.Fatalf("second plain open: %d block reads, %d bytes fetched; want 0 (page cache)", r2-r1, f2-f1)
	}
	readAll(syscall.O_DIRECT)
	r3, f3 := cacheCounters(t, m)
	readAll(syscall.O_DIRECT)
	r4, f4 := cacheCounters(t, m)
	if r3 == r2 || r4 == r3 {
		t.Fatalf("O_DIRECT reads did not reach mastfs: block reads %d, %d", r3-r2, r4-r3)
	}
	if f4 != f3 {
		t.Fatalf("second O_DIRECT read fetched %d bytes from the backend; want 0 (block cache)", f4-f3)
	}
	// The O_DIRECT opens left the page cache alone.
	readAll(0)
	if r5, _ := cacheCounters(t, m); r5 != r4 {
		t.Fatalf("plain open after O_DIRECT opens: %d block reads; want 0 (page cache kept)", r5-r4)
	}
}

// TestVersityGW: a mount over versitygw, a real S3 server that enforces
// auth, with garbage AWS credentials in the environment: products in the
// bucket read byte-exact over unsigned S3 requests, a product whose object
// is missing fails over to MAST, a replaced object gives ESTALE under an
// open file, and --cloud only hides the products not in the bucket.
func TestVersityGW(t *testing.T) {
	requireFUSE(t)
	requireVersityGW(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAGARBAGEGARBAGE00")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "garbage")
	t.Setenv("AWS_SESSION_TOKEN", "garbage")
	t.Setenv("AWS_PROFILE", "garbage")
	f := newCloudFixture(t)

	t.Run("auto", func(t *testing.T) {
		m := mountForTest(t, mountConfig{catalog: f.cat, s3: f.keep, versitygw: true, blockSize: 16 << 10})
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
		name, uri, _, _ := f.largestInBucket(t)
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, productBytes(t, f.cat, uri)) {
			t.Fatalf("%s: bytes from versitygw differ", name)
		}
		if n := downloads(uri); n != 0 || m.S3.Source.Stats().S3Reads == 0 || m.S3.Client.Stats().Errors != 0 {
			t.Fatalf("%s: %d MAST downloads, S3 %+v %+v", name, n, m.S3.Source.Stats(), m.S3.Client.Stats())
		}
		var dropped string
		for n, u := range f.want {
			if u == f.dropped {
				dropped = n
			}
		}
		got, err = os.ReadFile(filepath.Join(dir, dropped))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, productBytes(t, f.cat, f.dropped)) || downloads(f.dropped) == 0 {
			t.Fatalf("%s (object missing): failover to MAST: %d downloads", dropped, downloads(f.dropped))
		}
	})
	t.Run("etag", func(t *testing.T) {
		m := mountForTest(t, mountConfig{catalog: f.cat, s3: f.keep, versitygw: true, blockSize: 16 << 10})
		checkReplacedUnderOpenFile(t, f, m, func(key string, data []byte) { m.S3.VGW.Put(t, key, data) })
	})
	t.Run("only", func(t *testing.T) {
		rec := &lookupRecorder{}
		m := mountForTest(t, mountConfig{catalog: f.cat, s3: f.keep, versitygw: true, cloudOnly: true, wrap: rec.wrap})
		checkCloudOnly(t, f, m, rec)
	})
}
