package fs

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"math/rand"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/mastfs/mastfs/faultproxy"
	"github.com/mastfs/mastfs/mast/mastemu"
)

// faultFiles lists the n largest products of the cloud fixture's
// directory, with their expected bytes; some are in the bucket, some only
// at MAST.
func faultFiles(t *testing.T, f *cloudFixture, m *mounted, n int) (paths []string, want [][]byte) {
	t.Helper()
	type file struct {
		name string
		data []byte
	}
	var files []file
	for name, uri := range f.want {
		if info, ok := f.cat.Product(uri); !ok || info.Exclusive || info.Dynamic {
			continue // EACCES without a token; no size to range-read
		}
		files = append(files, file{name, productBytes(t, f.cat, uri)})
	}
	sort.Slice(files, func(i, j int) bool {
		if len(files[i].data) != len(files[j].data) {
			return len(files[i].data) > len(files[j].data)
		}
		return files[i].name < files[j].name
	})
	inCloud := 0
	for _, fl := range files[:n] {
		paths = append(paths, m.Path(append(append([]string{}, f.dirPath...), fl.name)...))
		want = append(want, fl.data)
		if _, ok := f.keyOf[f.want[fl.name]]; ok && f.want[fl.name] != f.dropped {
			inCloud++
		}
	}
	if inCloud == 0 || inCloud == n {
		t.Logf("note: %d of the %d files are in the bucket", inCloud, n)
	}
	return paths, want
}

// TestWrongBytesUnderRandomFaults is the wrong-byte test: 10,000 random
// O_DIRECT reads (so that every read reaches mastfs, and most reach a
// backend) of known products while both MAST and S3 fault at random. Every
// read is either exactly the expected bytes (md5) or EIO within
// --read-timeout; never anything else.
func TestWrongBytesUnderRandomFaults(t *testing.T) {
	f := newCloudFixture(t)
	const readTimeout = 5 * time.Second
	m := mountForTest(t, mountConfig{catalog: f.cat, s3: f.keep, faults: true, faultSeed: 42,
		readTimeout: readTimeout, cacheBytes: 4 << 20, blockSize: 64 << 10})
	dir := m.Path(f.dirPath...)
	if _, err := os.ReadDir(dir); err != nil { // list before faults start
		t.Fatal(err)
	}
	paths, want := faultFiles(t, f, m, 8)
	// Every kind but ChangeETag (a replaced object is ESTALE by design,
	// TestETagChangeUnderOpenFile).
	mix := faultproxy.RandomMix(0.08, faultproxy.Status500Burst, faultproxy.Status503Burst, faultproxy.TooManyRequests,
		faultproxy.SlowDown, faultproxy.ResetMidBody, faultproxy.Stall, faultproxy.Truncate,
		faultproxy.WrongContentRange, faultproxy.IgnoreRange, faultproxy.Down)
	for _, p := range []*faultproxy.Proxy{m.MastFaults, m.S3Faults} {
		p.SetRules(mix)
	}
	reads := 10000
	if testing.Short() {
		reads = 1000
	}
	var ok, eio, wrong, other, slow atomic.Int64
	var wg sync.WaitGroup
	const workers = 8
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := rand.New(rand.NewSource(int64(w)))
			fhs := make([]*os.File, len(paths))
			for i, p := range paths {
				fh, err := os.OpenFile(p, os.O_RDONLY|syscall.O_DIRECT, 0)
				if err != nil {
					t.Error(err)
					return
				}
				defer fh.Close()
				fhs[i] = fh
			}
			// O_DIRECT wants aligned buffers and offsets.
			buf := alignedBuffer(256 << 10)
			for i := w; i < reads; i += workers {
				k := r.Intn(len(paths))
				size := len(want[k])
				off := int64(r.Intn(max(size/4096, 1))) * 4096
				n := min(4096*(1+r.Intn(48)), size-int(off))
				start := time.Now()
				got, err := fhs[k].ReadAt(buf[:alignUp(n)], off)
				elapsed := time.Since(start)
				if got > n {
					got = n
				}
				switch {
				case err == nil || got == n:
					if md5.Sum(buf[:n]) == md5.Sum(want[k][off:off+int64(n)]) {
						ok.Add(1)
					} else {
						wrong.Add(1)
						t.Errorf("wrong bytes: %s at %d+%d", paths[k], off, n)
					}
				case errors.Is(err, syscall.EIO):
					eio.Add(1)
					if elapsed > readTimeout+2*time.Second {
						slow.Add(1)
						t.Errorf("EIO after %v, read timeout %v", elapsed, readTimeout)
					}
				default:
					other.Add(1)
					t.Errorf("read %s at %d+%d: %v (got %d)", paths[k], off, n, err, got)
				}
			}
		}(w)
	}
	wg.Wait()
	requests := m.MastFaults.Requests() + m.S3Faults.Requests()
	injected := m.MastFaults.Injected() + m.S3Faults.Injected()
	t.Logf("%d reads: %d byte-exact, %d EIO, %d wrong, %d other errors; backend requests %d, faulted %d (%.1f%%); MAST %v, S3 %v",
		reads, ok.Load(), eio.Load(), wrong.Load(), other.Load(), requests, injected,
		100*float64(injected)/float64(max(requests, 1)), m.MastFaults.Stats(), m.S3Faults.Stats())
	if wrong.Load() != 0 || other.Load() != 0 || slow.Load() != 0 {
		t.Fatalf("%d wrong, %d non-EIO failures, %d EIO past the read timeout", wrong.Load(), other.Load(), slow.Load())
	}
	if float64(injected) < 0.05*float64(requests) {
		t.Fatalf("only %d of %d requests faulted: under the 5%% the test promises", injected, requests)
	}
	if ok.Load() < int64(reads)*9/10 {
		t.Fatalf("only %d of %d reads succeeded: retries are not working", ok.Load(), reads)
	}
}

func alignedBuffer(n int) []byte {
	b := make([]byte, n+4096)
	off := 0
	if r := int(uintptrOf(b) % 4096); r != 0 {
		off = 4096 - r
	}
	return b[off : off+n]
}

func alignUp(n int) int { return (n + 4095) &^ 4095 }

func uintptrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }

// TestS3DownFallsBackToMAST: with every S3 request failing (connection
// refused or closed), products in the bucket still read byte-exact, from
// the MAST download service.
func TestS3DownFallsBackToMAST(t *testing.T) {
	f := newCloudFixture(t)
	m := mountForTest(t, mountConfig{catalog: f.cat, s3: f.keep, faults: true})
	m.S3Faults.SetRules(faultproxy.Rule{Fault: faultproxy.Down})
	paths, want := faultFiles(t, f, m, 4)
	for i, p := range paths {
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if !bytes.Equal(got, want[i]) {
			t.Fatalf("%s: wrong bytes with S3 down", p)
		}
	}
	if m.S3Faults.Injected() == 0 {
		t.Fatal("no S3 request was refused: the test did not exercise the bucket")
	}
	if n := m.Emu.Stats().Requests[mastemu.EndpointDownload]; n == 0 {
		t.Fatalf("no Download/file request: bytes did not come from MAST (%v)", m.Emu.Stats().Requests)
	}
}

// TestMastDownServesCachedElseEIO: once MAST is down, a listing within
// --query-ttl and blocks in the cache are still served; a new query and
// bytes nobody fetched get a clean EIO, promptly.
func TestMastDownServesCachedElseEIO(t *testing.T) {
	f := newCloudFixture(t)
	m := mountForTest(t, mountConfig{catalog: f.cat, faults: true, readTimeout: 10 * time.Second, ttl: time.Hour})
	dir := m.Path(f.dirPath...)
	before, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	paths, want := faultFiles(t, f, m, 2)
	readDirect := func(p string) ([]byte, error) {
		fh, err := os.OpenFile(p, os.O_RDONLY|syscall.O_DIRECT, 0)
		if err != nil {
			return nil, err
		}
		defer fh.Close()
		var out bytes.Buffer
		buf := alignedBuffer(1 << 20)
		for {
			n, err := fh.Read(buf)
			out.Write(buf[:n])
			if n == 0 || err != nil {
				if err != nil && err.Error() != "EOF" {
					return out.Bytes(), err
				}
				return out.Bytes(), nil
			}
		}
	}
	// Cache the first product's blocks (O_DIRECT: through mastfs, not the page cache).
	if got, err := readDirect(paths[0]); err != nil || !bytes.Equal(got, want[0]) {
		t.Fatalf("warm-up read: %v", err)
	}

	m.MastFaults.SetRules(faultproxy.Rule{Fault: faultproxy.Down})
	after, err := os.ReadDir(dir)
	if err != nil || len(after) != len(before) {
		t.Fatalf("listing within the TTL with MAST down: %d entries, %v; want %d", len(after), err, len(before))
	}
	if got, err := readDirect(paths[0]); err != nil || !bytes.Equal(got, want[0]) {
		t.Fatalf("cached product with MAST down: %v", err)
	}
	start := time.Now()
	_, err = readDirect(paths[1])
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("uncached product with MAST down: %v, want EIO", err)
	}
	_, err = os.ReadDir(m.Path("criteria", "obs_collection=HST", "proposal_id=99999"))
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("new query with MAST down: %v, want EIO", err)
	}
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Fatalf("EIO took %v", elapsed)
	}
	if !strings.Contains(m.Logs(), "read failed") {
		t.Fatal("no log line says why the read failed")
	}
}

// TestInterruptDuringStall: while the backend stalls, `timeout 1 cat` of a
// product returns promptly, and another reader of the same blocks is not
// affected: it gets the right bytes once the shared fetch recovers.
func TestInterruptDuringStall(t *testing.T) {
	f := newCloudFixture(t)
	m := mountForTest(t, mountConfig{catalog: f.cat, faults: true, readTimeout: 20 * time.Second})
	paths, want := faultFiles(t, f, m, 1)
	// The first download request stalls for 3 s (the MAST client's stall
	// timeout is 1 s here: it gives up on it and asks again).
	m.MastFaults.SetRules(faultproxy.Rule{Match: faultproxy.PathContains("Download/file"), Fault: faultproxy.Stall,
		StallFor: 3 * time.Second, CutAt: -1, Count: 1})
	other := make(chan error, 1)
	go func() {
		time.Sleep(100 * time.Millisecond) // after cat, on the same blocks
		got, err := os.ReadFile(paths[0])
		if err == nil && !bytes.Equal(got, want[0]) {
			err = errors.New("wrong bytes")
		}
		other <- err
	}()
	start := time.Now()
	out, err := exec.Command("timeout", "1", "cat", paths[0]).CombinedOutput()
	elapsed := time.Since(start)
	if err == nil {
		t.Logf("cat finished before the timeout (%v): %d bytes", elapsed, len(out))
	}
	// The stall lasts 3 s: returning well before it ends is returning
	// because of the interrupt (1 s, plus process start-up under load).
	if elapsed > 2500*time.Millisecond {
		t.Fatalf("timeout 1 cat took %v during a 3 s stall", elapsed)
	}
	select {
	case err := <-other:
		if err != nil {
			t.Fatalf("the other reader: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the other reader hung")
	}
	if m.MastFaults.Stats()[faultproxy.Stall] != 1 {
		t.Fatalf("stalls injected: %v", m.MastFaults.Stats())
	}
}

// TestReadTimeoutGivesEIO: a backend that stalls longer than
// --read-timeout gives the read EIO at the timeout, not a hang.
func TestReadTimeoutGivesEIO(t *testing.T) {
	f := newCloudFixture(t)
	m := mountForTest(t, mountConfig{catalog: f.cat, faults: true, readTimeout: time.Second})
	paths, _ := faultFiles(t, f, m, 1)
	// Every download stalls before its body; the client's stall timeout
	// (1 s) and retries would take longer than the read may.
	m.MastFaults.SetRules(faultproxy.Rule{Match: faultproxy.PathContains("Download/file"), Fault: faultproxy.Stall,
		StallFor: 5 * time.Second, CutAt: -1})
	start := time.Now()
	_, err := os.ReadFile(paths[0])
	elapsed := time.Since(start)
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("read during a long stall: %v, want EIO", err)
	}
	if elapsed < 900*time.Millisecond || elapsed > 3*time.Second {
		t.Fatalf("EIO after %v; want about the 1 s read timeout", elapsed)
	}
	if !strings.Contains(m.Logs(), "read timed out") {
		t.Fatal("the log does not say the read timed out")
	}
	st, _ := readStats(t, m)
	if st.Process.ReadTimeouts == 0 {
		t.Fatal("stats.json counts no read timeout")
	}
}

// panickyLocator panics in every Locate, as a bug in a handler would.
type panickyLocator struct{ CloudLocator }

func (panickyLocator) Locate(ctx context.Context, uris []string) (map[string]string, error) {
	panic("injected bug in Locate")
}

// TestPanicInHandlerGivesEIO: a panic inside a FUSE operation fails that
// operation with EIO and is logged; the mount stays up and serves the rest.
func TestPanicInHandlerGivesEIO(t *testing.T) {
	f := newCloudFixture(t)
	m := mountForTest(t, mountConfig{catalog: f.cat, s3: f.keep,
		wrapCloud: func(l CloudLocator) CloudLocator { return panickyLocator{l} }})
	dir := m.Path(f.dirPath...)
	if _, err := os.ReadDir(dir); err != nil {
		t.Fatal(err)
	}
	// .cloud-uris.txt locates every listed product (Locate panics).
	_, err := os.ReadFile(dir + "/.cloud-uris.txt")
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("operation that panicked: %v, want EIO", err)
	}
	if !strings.Contains(m.Logs(), "injected bug in Locate") {
		t.Fatalf("the panic is not in the log")
	}
	// Still mounted and serving.
	paths, want := faultFiles(t, f, m, 1)
	got, err := os.ReadFile(paths[0])
	if err != nil || !bytes.Equal(got, want[0]) {
		t.Fatalf("read after the panic: %v", err)
	}
	st, _ := readStats(t, m)
	if st.Process.Panics == 0 {
		t.Fatal("stats.json counts no panic")
	}
}

// TestFakeETagAtOpenIsNotPinned: when the HEAD that gave an open its
// version lied (a changed ETag, once), the first read finds the object
// "changed"; the open has handed out nothing yet, so it adopts the
// archive's current version instead of failing with ESTALE.
func TestFakeETagAtOpenIsNotPinned(t *testing.T) {
	f := newCloudFixture(t)
	m := mountForTest(t, mountConfig{catalog: f.cat, s3: f.keep, faults: true})
	m.S3Faults.SetRules(faultproxy.Rule{Match: faultproxy.Method("HEAD"), Fault: faultproxy.ChangeETag, Count: 1})
	var path string
	var want []byte
	for name, uri := range f.want {
		if _, ok := f.keyOf[uri]; ok && uri != f.dropped {
			if info, ok := f.cat.Product(uri); ok && !info.Exclusive && !info.Dynamic {
				path, want = m.Path(append(append([]string{}, f.dirPath...), name)...), productBytes(t, f.cat, uri)
				break
			}
		}
	}
	if path == "" {
		t.Fatal("no plain product in the bucket")
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("first read after a lying HEAD: %v (bytes equal %v)", err, bytes.Equal(got, want))
	}
	if m.S3Faults.Stats()[faultproxy.ChangeETag] != 1 {
		t.Fatalf("the fault was not injected: %v", m.S3Faults.Stats())
	}
	if !strings.Contains(m.Logs(), "this open reads the current one") {
		t.Fatal("the log does not say the open adopted the current version")
	}
}

// TestUnsizedProductSurvivesTruncation: a product the archive sends
// without a length cannot be resumed where its body broke off; it is
// asked for again whole, and stat and read work on the first try.
func TestUnsizedProductSurvivesTruncation(t *testing.T) {
	cat := mastemu.Generate(1, 400, 6)
	info, ok := cat.FindProduct(func(p mastemu.ProductInfo) bool { return p.Dynamic && !p.Exclusive && p.Length > 1000 })
	if !ok {
		t.Fatal("no public product without a length in the catalog")
	}
	m := mountForTest(t, mountConfig{catalog: cat, faults: true})
	m.MastFaults.SetRules(faultproxy.Rule{Match: faultproxy.PathContains("Download/file"), Fault: faultproxy.Truncate, Count: 1})
	path := m.Path(append([]string{"uri"}, strings.Split(info.DataURI, "/")...)...)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatalf("stat after a truncated answer: %v", err)
	}
	want := productBytes(t, cat, info.DataURI)
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, want) || st.Size() != int64(len(want)) {
		t.Fatalf("read: %v, %d bytes (stat %d), want %d", err, len(got), st.Size(), len(want))
	}
	if m.MastFaults.Stats()[faultproxy.Truncate] != 1 {
		t.Fatalf("the fault was not injected: %v", m.MastFaults.Stats())
	}
}
