package fs

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mastfs/mastfs/throttle"
)

// leakCycles is the number of open/read/close cycles of TestLeakOpenReadClose.
const leakCycles = 10000

// TestLeakOpenReadClose: 10,000 open/read/close cycles over a few products
// (some read from S3, one placed by path_lookup but missing from the
// bucket, some from MAST's Download/file), by 8 workers, half of the opens
// O_DIRECT (every read reaches mastfs) with a block cache much smaller
// than the products, so the backends are asked again and again, mixing
// sequential reads (read-ahead) and random preads, every byte checked.
// Afterwards, once the HTTP clients' idle connections are closed, the
// goroutines and the open descriptors of the process are back to their
// level after a warm-up (within a small margin), goleak finds no goroutine
// that was not there then, and no backend request holds a throttle slot.
func TestLeakOpenReadClose(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 FUSE open/read/close cycles take about half a minute")
	}
	f := newCloudFixture(t)
	lim := throttle.New(16)
	newTransport := func() *http.Transport {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 16
		t.Cleanup(tr.CloseIdleConnections)
		return tr
	}
	mastTr, s3Tr := newTransport(), newTransport()
	m := mountForTest(t, mountConfig{
		catalog:    f.cat,
		s3:         f.keep,
		mastHTTP:   &http.Client{Transport: lim.Transport(mastTr)},
		s3HTTP:     lim.Client(&http.Client{Transport: s3Tr}),
		blockSize:  64 << 10,
		cacheBytes: 2 << 20,
	})
	dir := m.Path(f.dirPath...)

	// A few products: from S3, the one absent from the bucket (S3 404,
	// then MAST), and from MAST only; the larger the better.
	type prod struct {
		name string
		data []byte
		how  string
	}
	var cloudNames, mastNames []string
	for name, uri := range f.want {
		info, _ := f.cat.Product(uri)
		if info.Exclusive || info.Size < 64<<10 || info.Size > 4<<20 || uri == f.dropped {
			continue
		}
		if _, ok := f.keyOf[uri]; ok {
			cloudNames = append(cloudNames, name)
		} else {
			mastNames = append(mastNames, name)
		}
	}
	sort.Strings(cloudNames)
	sort.Strings(mastNames)
	var prods []prod
	add := func(name, how string) {
		r, ok := f.cat.Open(f.want[name])
		if !ok {
			t.Fatalf("no bytes for %s", name)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		prods = append(prods, prod{name: name, data: b, how: how})
	}
	for _, n := range cloudNames[:min(3, len(cloudNames))] {
		add(n, "s3")
	}
	for name, uri := range f.want {
		if info, _ := f.cat.Product(uri); uri == f.dropped && !info.Exclusive && info.Size > 0 {
			add(name, "s3-missing")
		}
	}
	for _, n := range mastNames[:min(2, len(mastNames))] {
		add(n, "mast")
	}
	if len(prods) < 4 {
		t.Fatalf("fixture: only %d products fit (%d in the cloud, %d not)", len(prods), len(cloudNames), len(mastNames))
	}
	for _, p := range prods {
		t.Logf("product %s: %d bytes, %s", p.name, len(p.data), p.how)
	}

	cycle := func(rng *rand.Rand, buf []byte, i int) error {
		p := prods[i%len(prods)]
		path := filepath.Join(dir, p.name)
		flags := os.O_RDONLY
		direct := i%2 == 0
		if direct {
			flags |= syscall.O_DIRECT
		}
		file, err := os.OpenFile(path, flags, 0)
		if err != nil {
			return err
		}
		defer file.Close()
		size := int64(len(p.data))
		if i%4 < 2 {
			// Sequential: up to 160 KiB from an aligned offset, in 32 KiB
			// reads (read-ahead opens its window).
			off := rng.Int64N(max(size/4096, 1)) * 4096
			end := min(size, off+160<<10)
			for pos := off; pos < end; {
				n, err := file.ReadAt(buf[:32<<10], pos)
				if n == 0 && err != nil {
					if err == io.EOF {
						break
					}
					return fmt.Errorf("%s: read at %d: %w", p.name, pos, err)
				}
				if !bytes.Equal(buf[:n], p.data[pos:pos+int64(n)]) {
					return fmt.Errorf("%s: wrong bytes at %d (%s, direct %v)", p.name, pos, p.how, direct)
				}
				pos += int64(n)
			}
			return nil
		}
		// Random preads of 4-64 KiB, a few past the end.
		for k := 0; k < 4; k++ {
			off := rng.Int64N(size/4096+2) * 4096
			n := (1 + rng.IntN(16)) * 4096
			got, err := file.ReadAt(buf[:n], off)
			if err != nil && err != io.EOF {
				return fmt.Errorf("%s: pread %d at %d: %w", p.name, n, off, err)
			}
			want := p.data[min(off, size):min(off+int64(n), size)]
			if !bytes.Equal(buf[:got], want) {
				return fmt.Errorf("%s: pread %d at %d: %d bytes, wrong (%s, direct %v)", p.name, n, off, got, p.how, direct)
			}
		}
		return nil
	}
	run := func(cycles int, seed uint64) {
		t.Helper()
		var next atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(seed, uint64(w)))
				buf := alignedBuffer(64 << 10) // O_DIRECT: aligned buffers and offsets
				for {
					i := int(next.Add(1)) - 1
					if i >= cycles {
						return
					}
					if err := cycle(rng, buf, i); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}

	// quiesce closes the idle connections of both clients and waits until
	// the goroutine count stops falling (at most 10 s).
	quiesce := func(floor int) (goroutines, fds int) {
		deadline := time.Now().Add(10 * time.Second)
		last, stable := -1, 0
		for time.Now().Before(deadline) {
			mastTr.CloseIdleConnections()
			s3Tr.CloseIdleConnections()
			runtime.GC()
			g := runtime.NumGoroutine()
			if g <= floor {
				break
			}
			if g == last {
				if stable++; stable >= 10 {
					break
				}
			} else {
				last, stable = g, 0
			}
			time.Sleep(50 * time.Millisecond)
		}
		return runtime.NumGoroutine(), countFDs(t)
	}

	run(400, 1) // warm-up: listing, locating, connections, go-fuse readers
	baseG, baseFD := quiesce(0)
	ignore := goleak.IgnoreCurrent()
	s0, l0 := m.S3.Client.Stats(), lim.Stats()
	t.Logf("baseline after warm-up: %d goroutines, %d open fds", baseG, baseFD)

	start := time.Now()
	run(leakCycles, 2)
	elapsed := time.Since(start)
	s1, l1 := m.S3.Client.Stats(), lim.Stats()
	busyG, busyFD := runtime.NumGoroutine(), countFDs(t)
	const marginG, marginFD = 4, 2
	endG, endFD := quiesce(baseG + marginG)
	t.Logf("%d cycles in %v: %d S3 GETs, %d backend requests (at most %d at once, %d waits); right after: %d goroutines, %d fds; quiescent: %d goroutines (baseline %d), %d fds (baseline %d)",
		leakCycles, elapsed.Round(time.Millisecond), s1.Gets-s0.Gets, l1.Acquired-l0.Acquired, l1.MaxInFlight, l1.Waits-l0.Waits,
		busyG, busyFD, endG, baseG, endFD, baseFD)
	if s1.Gets == s0.Gets || l1.Acquired-l0.Acquired < int64(s1.Gets-s0.Gets)+10 {
		t.Fatalf("the cycles hardly reached the backends: %d S3 GETs, %d requests in all", s1.Gets-s0.Gets, l1.Acquired-l0.Acquired)
	}
	if st := lim.Stats(); st.InFlight != 0 {
		t.Errorf("%d backend requests still hold a throttle slot (a response body not closed)", st.InFlight)
	}
	if endG > baseG+marginG {
		t.Errorf("goroutines: %d after the cycles, %d after the warm-up (margin %d)", endG, baseG, marginG)
	}
	if endFD > baseFD+marginFD {
		t.Errorf("open fds: %d after the cycles, %d after the warm-up (margin %d):\n%s", endFD, baseFD, marginFD, fdTargets(t))
	}
	// go-fuse starts and ends request readers as the load varies: their
	// number is part of the count above, not who they are.
	// A fetch that outlived its reader (prefetch) may hand its connection
	// back to the idle pool after quiesce closed the idle ones: close them
	// again until nothing started by the cycles is left, or time runs out.
	var leaked error
	for deadline := time.Now().Add(15 * time.Second); ; {
		mastTr.CloseIdleConnections()
		s3Tr.CloseIdleConnections()
		leaked = goleak.Find(ignore, goleak.IgnoreAnyFunction("github.com/hanwen/go-fuse/v2/fuse.(*Server).loop"))
		if leaked == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if leaked != nil {
		t.Errorf("goroutines started during the cycles are still running: %v", leaked)
	}
}

// countFDs is the number of open descriptors of the process.
func countFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents) - 1 // the directory's own
}

// fdTargets lists what the open descriptors point at, for a failure.
func fdTargets(t *testing.T) string {
	ents, _ := os.ReadDir("/proc/self/fd")
	var b bytes.Buffer
	for _, e := range ents {
		l, _ := os.Readlink("/proc/self/fd/" + e.Name())
		fmt.Fprintf(&b, "  %s -> %s\n", e.Name(), l)
	}
	return b.String()
}
