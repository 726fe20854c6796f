// Command soak is the reliability soak of mastfs (issue "Reliability and
// security"). It is not part of CI: it needs root, /dev/fuse, fusermount3
// and minutes of wall time.
//
//	go run ./bench/soak [-duration 10m] [-clients 8] [-faults 0.01] [-out bench/soak/results]
//
// It starts, all on 127.0.0.1 and in this process:
//
//   - the MAST emulator (mast/mastemu) over a generated catalog
//     (mastemu.Generate(-seed, -obs, -prods)) plus a few large products:
//     three held in the bucket, one at MAST only, and one whose path_lookup
//     names a bucket key the bucket does not hold (S3 404, MAST fallback);
//   - an in-memory S3 server (gofakes3) holding the catalog's cloud objects;
//   - one faultproxy.Proxy in front of each, faulting a fraction -faults of
//     all requests with every fault kind (faultproxy.AllFaults; Stall with
//     a bounded StallFor of -stall);
//
// then builds the mastfs binary, mounts it on a temporary directory
// (--cloud auto --cache-size 256MiB --query-ttl 30s --log-level warn, with
// --metrics-addr for the Go runtime's goroutine count) and runs -clients
// clients for -duration. Each client repeatedly picks one operation:
//
//   - list: readdir of a query directory (obsid/<id>/, obsid/<id>/@mrp/,
//     criteria/obs_collection=C/proposal_id=P/); an obsid/<id>/ listing must
//     have one entry per distinct dataURI of the catalog;
//   - stat: stat of a known file (size must be the catalog's) and getxattr
//     user.mast.dataURI (must be the catalog's);
//   - seq: a whole-file sequential read, in chunks of 4 KiB .. 1 MiB;
//   - rand: 8..32 preads of random ranges (1 B .. 1 MiB) of one file, mostly
//     a large product.
//
// Every byte read is compared with the emulator's bytes for that dataURI and
// offset (mastemu.Catalog.Open); a wrong byte is counted, never tolerated.
// Failures are counted by errno (EIO is what a fault may legitimately turn
// into once mastfs's retries are spent; any other errno is suspicious) and
// by anomaly (short read, wrong size, wrong listing). After each file
// operation the client drops the file's pages from the kernel page cache
// (fadvise DONTNEED) so that the next read reaches mastfs.
//
// Every -sample the sampler records the daemon's VmRSS, Threads and open fds
// (/proc/PID), its goroutines and heap (go_goroutines and
// go_memstats_heap_inuse_bytes from --metrics-addr; .mastfs/stats.json has
// no goroutine count), its block cache bytes and retries, the faults
// injected, and ops/s by kind.
//
// Results in -out: samples.tsv (one row per sample), summary.json (ops/s by
// kind, errors by errno, wrong bytes, RSS/goroutines/threads/fds
// start/end/max, least-squares slopes over the second half, the verdict),
// soak.png (gnuplot: RSS, goroutines and threads, ops/s over time),
// soak.gp (the gnuplot script) and mastfs-log-tail.txt (the last lines of
// the daemon's warn-level log). See docs/reliability.md.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"golang.org/x/sys/unix"

	"github.com/mastfs/mastfs/faultproxy"
	"github.com/mastfs/mastfs/mast/mastemu"
)

const bucket = "stpubdata"

type config struct {
	duration   time.Duration
	clients    int
	faults     float64
	out        string
	seed       int64
	nObs       int
	prods      int
	stall      time.Duration
	sample     time.Duration
	cacheSize  string
	maxObject  int64
	bigMiB     string
	keep       bool
	readTO     time.Duration
	drainWait  time.Duration
	mastfsBin  string
	hangAfter  time.Duration
	logTail    int
	workParent string
}

func main() {
	var c config
	flag.DurationVar(&c.duration, "duration", 10*time.Minute, "how long the clients run")
	flag.IntVar(&c.clients, "clients", 8, "concurrent clients")
	flag.Float64Var(&c.faults, "faults", 0.01, "fraction of requests faulted by each proxy (MAST and S3)")
	flag.StringVar(&c.out, "out", "bench/soak/results", "results directory")
	flag.Int64Var(&c.seed, "seed", 1, "seed of the catalog, the proxies and the clients")
	flag.IntVar(&c.nObs, "obs", 150, "observations of the generated catalog")
	flag.IntVar(&c.prods, "prods", 6, "products per generated observation")
	flag.DurationVar(&c.stall, "stall", 3*time.Second, "StallFor of the Stall fault")
	flag.DurationVar(&c.sample, "sample", 5*time.Second, "sampling interval")
	flag.StringVar(&c.cacheSize, "cache-size", "256MiB", "mastfs --cache-size")
	flag.Int64Var(&c.maxObject, "max-object", 8<<20, "generated cloud objects larger than this stay at MAST only (bucket memory)")
	flag.StringVar(&c.bigMiB, "big", "16,32,64", "sizes in MiB of the large products held in the bucket")
	flag.BoolVar(&c.keep, "keep", false, "keep the work directory (binary, log)")
	flag.DurationVar(&c.readTO, "read-timeout", 60*time.Second, "mastfs --read-timeout, passed only if the binary has that flag")
	flag.DurationVar(&c.drainWait, "drain", 120*time.Second, "how long to wait for in-flight operations after -duration before calling them hung")
	flag.StringVar(&c.mastfsBin, "mastfs", "", "use this mastfs binary instead of building ./cmd/mastfs")
	flag.DurationVar(&c.hangAfter, "hang", 60*time.Second, "an operation running longer than this is reported as slow")
	flag.IntVar(&c.logTail, "log-tail", 200, "lines of the mastfs log kept in the results")
	flag.Parse()
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s soak: %s\n", time.Now().UTC().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// ---------------------------------------------------------------- archive

// archive is the catalog and what the clients may do with it.
type archive struct {
	cat       *mastemu.Catalog
	dirs      []queryDir
	big       []string // mount paths of the large products
	bigURI    map[string]string
	emuURL    string
	s3URL     string
	s3Objects int
	s3Bytes   int64
}

type queryDir struct {
	path string
	// want is the number of distinct dataURIs the listing must have
	// (-1: not checked).
	want int
}

func buildArchive(c config) (*archive, []func(), error) {
	cat := mastemu.Generate(c.seed, c.nObs, c.prods)
	a := &archive{cat: cat, bigURI: map[string]string{}}
	var stops []func()

	// The large products go to the first public HST observation.
	var host map[string]any
	for _, o := range cat.Observations() {
		if fmt.Sprint(o["obs_collection"]) == "HST" && fmt.Sprint(o["dataRights"]) == "PUBLIC" {
			host = o
			break
		}
	}
	if host == nil {
		return nil, nil, errors.New("no public HST observation in the catalog")
	}
	hostObsid := fmt.Sprint(host["obsid"])
	lid := strings.ToLower(fmt.Sprint(host["obs_id"]))
	keyOf := func(name string) string { return "hst/public/" + lid[:4] + "/" + lid + "/" + name }
	absent := map[string]bool{} // cloud keys deliberately not in the bucket
	add := func(name string, size int64, cloud, inBucket bool) error {
		cols := map[string]any{
			"dataURI":                 "mast:HST/product/" + name,
			"productFilename":         name,
			"productType":             "SCIENCE",
			"description":             "mastfs soak product",
			"productGroupDescription": mastemu.MRP,
			"size":                    size,
		}
		if cloud {
			cols["cloudKey"] = keyOf(name)
			if !inBucket {
				absent[keyOf(name)] = true
			}
		}
		p, err := cat.AddProduct(hostObsid, cols)
		if err != nil {
			return err
		}
		path := "obsid/" + hostObsid + "/" + name
		a.big = append(a.big, path)
		a.bigURI[path] = p.DataURI
		return nil
	}
	for i, s := range strings.Split(c.bigMiB, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			return nil, nil, fmt.Errorf("-big: bad size %q", s)
		}
		if err := add(fmt.Sprintf("%s_soak_s3_%02d.fits", lid, i), int64(n)<<20, true, true); err != nil {
			return nil, nil, err
		}
	}
	if err := add(lid+"_soak_mastonly.fits", 24<<20, false, false); err != nil {
		return nil, nil, err
	}
	if err := add(lid+"_soak_fallback.fits", 16<<20, true, false); err != nil {
		return nil, nil, err
	}

	// The emulator.
	emuURL, stop, err := listen(mastemu.New(mastemu.Options{Catalog: cat}))
	if err != nil {
		return nil, nil, err
	}
	stops = append(stops, stop)
	a.emuURL = emuURL

	// The bucket.
	be := s3mem.New()
	if err := be.CreateBucket(bucket); err != nil {
		return nil, stops, err
	}
	meta := map[string]string{"Last-Modified": time.Now().UTC().Format(http.TimeFormat)}
	for key, uri := range cat.CloudObjects() {
		if absent[key] {
			continue
		}
		r, ok := cat.Open(uri)
		if !ok {
			continue
		}
		_, isBig := a.bigURI["obsid/"+hostObsid+"/"+filepath.Base(key)]
		if r.Size() > c.maxObject && !isBig {
			continue
		}
		if _, err := be.PutObject(bucket, key, meta, r, r.Size(), nil); err != nil {
			return nil, stops, fmt.Errorf("put %s: %w", key, err)
		}
		a.s3Objects++
		a.s3Bytes += r.Size()
	}
	s3URL, stop, err := listen(gofakes3.New(be, gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	if err != nil {
		return nil, stops, err
	}
	stops = append(stops, stop)
	a.s3URL = s3URL

	// Query directories: obsid/<id>/ (checked), obsid/<id>/@mrp/ and the
	// small proposals of each collection in the cloud.
	rng := rand.New(rand.NewPCG(uint64(c.seed), 7))
	obs := cat.Observations()
	rng.Shuffle(len(obs), func(i, j int) { obs[i], obs[j] = obs[j], obs[i] })
	a.dirs = append(a.dirs, queryDir{"obsid/" + hostObsid, distinctURIs(cat, hostObsid)})
	for i, o := range obs {
		if i >= 40 {
			break
		}
		id := fmt.Sprint(o["obsid"])
		a.dirs = append(a.dirs, queryDir{"obsid/" + id, distinctURIs(cat, id)})
		if i%4 == 0 {
			a.dirs = append(a.dirs, queryDir{"obsid/" + id + "/@mrp", -1})
		}
	}
	for _, coll := range []string{"HST", "JWST", "TESS", "GALEX"} {
		n := 0
		for _, p := range cat.Proposals(coll) {
			if p.N > 12 || n >= 4 {
				continue
			}
			a.dirs = append(a.dirs, queryDir{"criteria/obs_collection=" + coll + "/proposal_id=" + p.ProposalID, -1})
			n++
		}
	}
	return a, stops, nil
}

func distinctURIs(cat *mastemu.Catalog, obsid string) int {
	seen := map[string]bool{}
	for _, row := range cat.ProductsFor(obsid) {
		seen[fmt.Sprint(row["dataURI"])] = true
	}
	return len(seen)
}

func listen(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	// No error log: gofakes3 writes a second header when a client (or a
	// proxy fault) drops a connection, and net/http would log each one.
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}

// ---------------------------------------------------------------- counters

var kinds = []string{"list", "stat", "seq", "rand"}

type kindStats struct {
	ops, fails   atomic.Int64
	bytes        atomic.Int64
	nanos, maxNs atomic.Int64
	slow         atomic.Int64
}

type counters struct {
	byKind     map[string]*kindStats
	wrongBytes atomic.Int64
	mu         sync.Mutex
	errs       map[string]int64 // errno name or anomaly -> count
	examples   map[string][]string
	targets    map[string]map[string]int64 // class -> operation ("seq PATH") -> count
}

func newCounters() *counters {
	c := &counters{byKind: map[string]*kindStats{}, errs: map[string]int64{}, examples: map[string][]string{},
		targets: map[string]map[string]int64{}}
	for _, k := range kinds {
		c.byKind[k] = &kindStats{}
	}
	return c
}

func (c *counters) fail(class, what, example string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errs[class]++
	if c.targets[class] == nil {
		c.targets[class] = map[string]int64{}
	}
	if t := c.targets[class]; len(t) < 100 || t[what] > 0 {
		t[what]++
	}
	if len(c.examples[class]) < 5 {
		c.examples[class] = append(c.examples[class], time.Now().UTC().Format("15:04:05 ")+example)
	}
}

func (c *counters) errSnapshot() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int64, len(c.errs))
	for k, v := range c.errs {
		out[k] = v
	}
	return out
}

// errClass names an error: its errno (EIO, ENOENT ...) or "other".
func errClass(err error) string {
	var en syscall.Errno
	if errors.As(err, &en) {
		if n := unix.ErrnoName(en); n != "" {
			return n
		}
		return "errno" + strconv.Itoa(int(en))
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "unexpected_eof"
	}
	return "other"
}

// inflight tracks each client's running operation, to spot hangs.
type inflight struct {
	mu    sync.Mutex
	start []time.Time
	what  []string
}

func (f *inflight) set(i int, what string) {
	f.mu.Lock()
	f.start[i], f.what[i] = time.Now(), what
	f.mu.Unlock()
}

func (f *inflight) clear(i int) {
	f.mu.Lock()
	f.start[i], f.what[i] = time.Time{}, ""
	f.mu.Unlock()
}

// oldest is the age of the longest-running operation and what it is.
func (f *inflight) oldest() (time.Duration, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var age time.Duration
	var what string
	for i, s := range f.start {
		if !s.IsZero() && time.Since(s) > age {
			age, what = time.Since(s), f.what[i]
		}
	}
	return age, what
}

func (f *inflight) running() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for i, s := range f.start {
		if !s.IsZero() {
			out = append(out, fmt.Sprintf("client %d: %s (running %v)", i, f.what[i], time.Since(s).Round(time.Second)))
		}
	}
	return out
}

// ---------------------------------------------------------------- clients

// files is the pool of known files (mount path -> dataURI), grown by
// listings.
type files struct {
	mu    sync.RWMutex
	paths []string
	uri   map[string]string
}

func (f *files) add(path, uri string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.uri[path]; ok {
		return
	}
	f.uri[path] = uri
	f.paths = append(f.paths, path)
}

func (f *files) pick(rng *rand.Rand) (string, string, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if len(f.paths) == 0 {
		return "", "", false
	}
	p := f.paths[rng.IntN(len(f.paths))]
	return p, f.uri[p], true
}

type client struct {
	id   int
	mnt  string
	a    *archive
	pool *files
	cnt  *counters
	inf  *inflight
	rng  *rand.Rand
	exp  []byte // scratch for expected bytes
	got  []byte
	slow time.Duration
}

func (cl *client) loop(ctx context.Context) {
	for ctx.Err() == nil {
		r := cl.rng.Float64()
		var kind string
		switch {
		case r < 0.20:
			kind = "list"
		case r < 0.45:
			kind = "stat"
		case r < 0.65:
			kind = "seq"
		default:
			kind = "rand"
		}
		cl.op(kind)
	}
}

func (cl *client) op(kind string) {
	ks := cl.cnt.byKind[kind]
	start := time.Now()
	var n int64
	var err error
	var what string
	switch kind {
	case "list":
		d := cl.a.dirs[cl.rng.IntN(len(cl.a.dirs))]
		what = "readdir " + d.path
		cl.inf.set(cl.id, what)
		err = cl.list(d)
	case "stat":
		path, uri, ok := cl.pool.pick(cl.rng)
		if !ok {
			return
		}
		what = "stat " + path
		cl.inf.set(cl.id, what)
		err = cl.stat(path, uri)
	case "seq", "rand":
		path, uri := cl.pickFile(kind == "rand")
		if path == "" {
			return
		}
		what = kind + " " + path
		cl.inf.set(cl.id, what)
		if kind == "seq" {
			n, err = cl.seq(path, uri)
		} else {
			n, err = cl.randRead(path, uri)
		}
	}
	cl.inf.clear(cl.id)
	d := time.Since(start)
	ks.ops.Add(1)
	ks.bytes.Add(n)
	ks.nanos.Add(int64(d))
	for {
		m := ks.maxNs.Load()
		if int64(d) <= m || ks.maxNs.CompareAndSwap(m, int64(d)) {
			break
		}
	}
	if d > cl.slow {
		ks.slow.Add(1)
		cl.cnt.fail("slow_op", what, fmt.Sprintf("%s took %v", what, d.Round(time.Millisecond)))
	}
	if err != nil {
		ks.fails.Add(1)
		cl.cnt.fail(errClass(err), what, what+": "+err.Error())
	}
}

// pickFile picks a file to read: for random reads mostly a large product,
// for sequential reads mostly a small one.
func (cl *client) pickFile(preferBig bool) (string, string) {
	bigShare := 0.1
	if preferBig {
		bigShare = 0.7
	}
	if cl.rng.Float64() < bigShare {
		p := cl.a.big[cl.rng.IntN(len(cl.a.big))]
		return p, cl.a.bigURI[p]
	}
	for range 20 {
		p, uri, ok := cl.pool.pick(cl.rng)
		if !ok {
			break
		}
		if info, ok := cl.a.cat.Product(uri); ok && !info.Dynamic && !info.Exclusive {
			return p, uri
		}
	}
	p := cl.a.big[cl.rng.IntN(len(cl.a.big))]
	return p, cl.a.bigURI[p]
}

// anomaly is an error that is not an errno: a wrong size, a short read.
type anomaly struct{ class, msg string }

func (e anomaly) Error() string { return e.class + ": " + e.msg }

func (cl *client) list(d queryDir) error {
	ents, err := os.ReadDir(filepath.Join(cl.mnt, d.path))
	if err != nil {
		return err
	}
	nfiles := 0
	uris := map[string]bool{}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		nfiles++
		path := d.path + "/" + e.Name()
		uri, err := getxattr(filepath.Join(cl.mnt, path), "user.mast.dataURI")
		if err != nil {
			return fmt.Errorf("getxattr %s: %w", path, err)
		}
		uris[uri] = true
		if _, ok := cl.a.cat.Product(uri); !ok {
			return anomaly{"unknown_uri", path + " has dataURI " + uri}
		}
		cl.pool.add(path, uri)
	}
	if d.want >= 0 && (nfiles != d.want || len(uris) != d.want) {
		return anomaly{"listing_mismatch", fmt.Sprintf("%s: %d files, %d dataURIs, want %d", d.path, nfiles, len(uris), d.want)}
	}
	return nil
}

func getxattr(path, name string) (string, error) {
	buf := make([]byte, 1024)
	n, err := unix.Getxattr(path, name, buf)
	if err != nil {
		return "", &os.PathError{Op: "getxattr", Path: path, Err: err}
	}
	return string(buf[:n]), nil
}

func (cl *client) stat(path, uri string) error {
	full := filepath.Join(cl.mnt, path)
	st, err := os.Stat(full)
	if err != nil {
		return err
	}
	info, ok := cl.a.cat.Product(uri)
	if !ok {
		return anomaly{"unknown_uri", uri}
	}
	if !info.Dynamic && st.Size() != info.Size {
		return anomaly{"size_mismatch", fmt.Sprintf("%s: stat size %d, catalog %d", path, st.Size(), info.Size)}
	}
	if cl.rng.IntN(4) == 0 {
		got, err := getxattr(full, "user.mast.dataURI")
		if err != nil {
			return err
		}
		if got != uri {
			return anomaly{"xattr_mismatch", fmt.Sprintf("%s: dataURI %q, want %q", path, got, uri)}
		}
	}
	return nil
}

// check compares got (read at off of uri) with the emulator's bytes and
// counts wrong ones.
func (cl *client) check(uri string, got []byte, off int64, what string) error {
	r, ok := cl.a.cat.Open(uri)
	if !ok {
		return anomaly{"unknown_uri", uri}
	}
	if cap(cl.exp) < len(got) {
		cl.exp = make([]byte, len(got))
	}
	exp := cl.exp[:len(got)]
	n, err := r.ReadAt(exp, off)
	if n < len(got) {
		return anomaly{"long_read", fmt.Sprintf("%s: %d bytes at %d, the product has only %d there (%v)", what, len(got), off, n, err)}
	}
	if bytes.Equal(got, exp) {
		return nil
	}
	wrong, first := int64(0), -1
	for i := range got {
		if got[i] != exp[i] {
			wrong++
			if first < 0 {
				first = i
			}
		}
	}
	cl.cnt.wrongBytes.Add(wrong)
	return anomaly{"wrong_bytes", fmt.Sprintf("%s: %d wrong bytes in [%d, %d), first at %d", what, wrong, off, off+int64(len(got)), off+int64(first))}
}

func dropPages(f *os.File) { unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED) }

func (cl *client) seq(path, uri string) (int64, error) {
	info, _ := cl.a.cat.Product(uri)
	f, err := os.Open(filepath.Join(cl.mnt, path))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	defer dropPages(f)
	chunk := []int{4 << 10, 64 << 10, 128 << 10, 1 << 20}[cl.rng.IntN(4)]
	if cap(cl.got) < chunk {
		cl.got = make([]byte, 1<<20)
	}
	buf := cl.got[:chunk]
	var off int64
	for {
		n, err := f.Read(buf)
		if n > 0 {
			if cerr := cl.check(uri, buf[:n], off, "seq "+path); cerr != nil {
				return off, cerr
			}
			off += int64(n)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return off, err
		}
	}
	if off != info.Length {
		return off, anomaly{"short_read", fmt.Sprintf("%s: EOF after %d bytes, want %d", path, off, info.Length)}
	}
	return off, nil
}

func (cl *client) randRead(path, uri string) (int64, error) {
	info, _ := cl.a.cat.Product(uri)
	f, err := os.Open(filepath.Join(cl.mnt, path))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	defer dropPages(f)
	if cap(cl.got) < 1<<20 {
		cl.got = make([]byte, 1<<20)
	}
	size := info.Length
	var total int64
	reads := 8 + cl.rng.IntN(25)
	for range reads {
		length := int64(1 + cl.rng.IntN(1<<20))
		if cl.rng.IntN(2) == 0 {
			length = int64(1 + cl.rng.IntN(64<<10))
		}
		off := cl.rng.Int64N(size)
		buf := cl.got[:length]
		n, err := f.ReadAt(buf, off)
		want := min(length, size-off)
		if n > 0 {
			if cerr := cl.check(uri, buf[:n], off, "pread "+path); cerr != nil {
				return total, cerr
			}
			total += int64(n)
		}
		if err != nil && !(err == io.EOF && int64(n) == want) {
			if err == io.EOF {
				return total, anomaly{"short_read", fmt.Sprintf("pread %s: %d bytes at %d, want %d", path, n, off, want)}
			}
			return total, err
		}
		if int64(n) != want {
			return total, anomaly{"short_read", fmt.Sprintf("pread %s: %d bytes at %d, want %d", path, n, off, want)}
		}
	}
	return total, nil
}

// ---------------------------------------------------------------- daemon

type daemon struct {
	cmd     *exec.Cmd
	pid     int
	metrics string
	logPath string
	done    chan error
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// builtFrom is the commit the mastfs binary was built from (and whether
// the working tree had changes), for summary.json.
var builtFrom string

func buildMastfs(c config, work string) (string, error) {
	if c.mastfsBin != "" {
		builtFrom = "prebuilt " + c.mastfsBin
		return c.mastfsBin, nil
	}
	if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		builtFrom = strings.TrimSpace(string(out))
		if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
			builtFrom += " (working tree modified)"
		}
	}
	bin := filepath.Join(work, "mastfs")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/mastfs")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/mastfs (run from the repository root): %w", err)
	}
	return bin, nil
}

func hasFlag(bin, flag string) bool {
	out, _ := exec.Command(bin, "mount", "--help").CombinedOutput()
	return bytes.Contains(out, []byte("--"+flag+" "))
}

func mountArgs(c config, bin string, a *archive, mast, s3, metrics, mnt string) []string {
	args := []string{"mount",
		"--mast-url", mast,
		"--resolver-url", mast + "/Santa-war/query",
		"--s3-endpoint", s3,
		"--s3-bucket", bucket,
		"--cloud", "auto",
		"--cache-size", c.cacheSize,
		"--query-ttl", "30s",
		"--log-level", "warn",
		"--metrics-addr", metrics,
	}
	if hasFlag(bin, "read-timeout") {
		args = append(args, "--read-timeout", c.readTO.String())
	}
	return append(args, mnt)
}

func startDaemon(bin string, args []string, logPath string) (*daemon, error) {
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	// Dummy credentials: gofakes3 accepts any signature.
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=soak", "AWS_SECRET_ACCESS_KEY=soak")
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, err
	}
	d := &daemon{cmd: cmd, pid: cmd.Process.Pid, logPath: logPath, done: make(chan error, 1)}
	go func() { d.done <- cmd.Wait(); lf.Close() }()
	return d, nil
}

func mounted(mnt string) bool {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[1] == mnt && strings.HasPrefix(f[2], "fuse") {
			return true
		}
	}
	return false
}

func (d *daemon) waitMounted(mnt string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-d.done:
			d.done <- err
			return fmt.Errorf("mastfs exited before mounting: %v (log %s)", err, d.logPath)
		default:
		}
		if mounted(mnt) {
			if _, err := os.Stat(filepath.Join(mnt, ".mastfs", "stats.json")); err == nil {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("mastfs did not mount %s within %v", mnt, timeout)
}

// stop unmounts: SIGTERM (mastfs unmounts and exits 0), then a lazy
// unmount and SIGKILL if it does not exit in 30 s.
func (d *daemon) stop(mnt string) (exit string) {
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		if err != nil {
			return "exited after SIGTERM: " + err.Error()
		}
		return "exited 0 after SIGTERM"
	case <-time.After(30 * time.Second):
	}
	exec.Command("fusermount3", "-u", "-z", mnt).Run()
	d.cmd.Process.Kill()
	<-d.done
	return "did not exit within 30 s of SIGTERM: killed"
}

// ---------------------------------------------------------------- sampling

type sample struct {
	T          float64 // seconds since the clients started
	RSSKiB     int64
	Threads    int64
	FDs        int64
	Goroutines int64
	HeapInuse  int64
	CacheBytes int64
	Retries    int64
	FaultsMAST int64
	FaultsS3   int64
	ReqMAST    int64
	ReqS3      int64
	Ops        map[string]int64 // cumulative
	Fails      int64            // cumulative
	OpsPerSec  map[string]float64
	OldestOpS  float64
}

func procStatus(pid int) (rss, threads int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1, -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			rss, _ = strconv.ParseInt(f[1], 10, 64)
		case "Threads:":
			threads, _ = strconv.ParseInt(f[1], 10, 64)
		}
	}
	return rss, threads
}

func countFDs(pid int) int64 {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return int64(len(ents))
}

// scrape reads the Prometheus text of --metrics-addr.
func scrape(addr string) map[string]float64 {
	out := map[string]float64{}
	cl := http.Client{Timeout: 5 * time.Second}
	resp, err := cl.Get("http://" + addr + "/metrics")
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		name := line[:i]
		if j := strings.IndexByte(name, '{'); j >= 0 && !strings.HasPrefix(name, "mastfs_requests_total") {
			name = name[:j]
		}
		out[name] += v
	}
	return out
}

func faultTotal(p *faultproxy.Proxy) int64 { return p.Injected() }

// ---------------------------------------------------------------- main run

func run(c config) error {
	if os.Geteuid() != 0 {
		logf("warning: not root; the mount may fail")
	}
	if _, err := exec.LookPath("fusermount3"); err != nil {
		return errors.New("fusermount3 not found (apt-get install fuse3)")
	}
	out, err := filepath.Abs(c.out)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "mastfs-soak")
	if err != nil {
		return err
	}
	if !c.keep {
		defer os.RemoveAll(work)
	} else {
		logf("work directory kept: %s", work)
	}
	mnt := filepath.Join(work, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		return err
	}

	logf("building mastfs")
	bin, err := buildMastfs(c, work)
	if err != nil {
		return err
	}

	logf("building the archive: Generate(%d, %d, %d) and large products %s MiB", c.seed, c.nObs, c.prods, c.bigMiB)
	a, stops, err := buildArchive(c)
	for i := len(stops) - 1; i >= 0; i-- {
		defer stops[i]()
	}
	if err != nil {
		return err
	}
	logf("bucket: %d objects, %d MiB; %d query directories", a.s3Objects, a.s3Bytes>>20, len(a.dirs))

	mix := faultproxy.RandomMix(c.faults, faultproxy.AllFaults()...)
	mix.StallFor = c.stall
	mix.RetryAfter = time.Second
	pMAST := faultproxy.New(a.emuURL, c.seed+1)
	defer pMAST.Close()
	pS3 := faultproxy.New(a.s3URL, c.seed+2)
	defer pS3.Close()
	pMAST.SetRules(mix)
	pS3.SetRules(mix)

	metrics, err := freePort()
	if err != nil {
		return err
	}
	args := mountArgs(c, bin, a, pMAST.URL(), pS3.URL(), metrics, mnt)
	logf("mastfs %s", strings.Join(args, " "))
	d, err := startDaemon(bin, args, filepath.Join(work, "mastfs.log"))
	if err != nil {
		return err
	}
	d.metrics = metrics
	stopped := false
	exitNote := ""
	defer func() {
		if !stopped {
			d.stop(mnt)
		}
	}()
	if err := d.waitMounted(mnt, 60*time.Second); err != nil {
		return err
	}
	logf("mounted at %s (pid %d)", mnt, d.pid)

	cnt := newCounters()
	pool := &files{uri: map[string]string{}}
	for p, u := range a.bigURI {
		pool.add(p, u)
	}
	inf := &inflight{start: make([]time.Time, c.clients), what: make([]string, c.clients)}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	var interrupted atomic.Bool
	go func() {
		select {
		case <-sigs:
			interrupted.Store(true)
			logf("interrupted: stopping the clients")
			cancel()
		case <-ctx.Done():
		}
	}()

	var samples []sample
	var smu sync.Mutex
	t0 := time.Now()
	takeSample := func(prev *sample) sample {
		s := sample{T: time.Since(t0).Seconds(), Ops: map[string]int64{}, OpsPerSec: map[string]float64{}}
		s.RSSKiB, s.Threads = procStatus(d.pid)
		s.FDs = countFDs(d.pid)
		m := scrape(d.metrics)
		s.Goroutines = int64(m["go_goroutines"])
		s.HeapInuse = int64(m["go_memstats_heap_inuse_bytes"])
		s.CacheBytes = int64(m["mastfs_cache_bytes"])
		s.Retries = int64(m["mastfs_retries_total"])
		if len(m) == 0 {
			s.Goroutines, s.HeapInuse, s.CacheBytes, s.Retries = -1, -1, -1, -1
		}
		s.FaultsMAST, s.FaultsS3 = faultTotal(pMAST), faultTotal(pS3)
		s.ReqMAST, s.ReqS3 = pMAST.Requests(), pS3.Requests()
		for _, k := range kinds {
			s.Ops[k] = cnt.byKind[k].ops.Load()
			s.Fails += cnt.byKind[k].fails.Load()
			if prev != nil && s.T > prev.T {
				s.OpsPerSec[k] = float64(s.Ops[k]-prev.Ops[k]) / (s.T - prev.T)
			}
		}
		age, _ := inf.oldest()
		s.OldestOpS = age.Seconds()
		return s
	}
	samples = append(samples, takeSample(nil))

	clientCtx, stopClients := context.WithTimeout(ctx, c.duration)
	defer stopClients()
	var wg sync.WaitGroup
	for i := range c.clients {
		cl := &client{id: i, mnt: mnt, a: a, pool: pool, cnt: cnt, inf: inf,
			rng: rand.New(rand.NewPCG(uint64(c.seed), uint64(100+i))), slow: c.hangAfter}
		wg.Add(1)
		go func() { defer wg.Done(); cl.loop(clientCtx) }()
	}
	clientsDone := make(chan struct{})
	go func() { wg.Wait(); close(clientsDone) }()

	// Sample until the clients are done (or hung past -drain).
	tick := time.NewTicker(c.sample)
	defer tick.Stop()
	var hung []string
	lastLog := time.Now()
sampling:
	for {
		select {
		case <-tick.C:
			smu.Lock()
			prev := samples[len(samples)-1]
			s := takeSample(&prev)
			samples = append(samples, s)
			smu.Unlock()
			if time.Since(lastLog) >= 30*time.Second || s.T < 2*c.sample.Seconds() {
				lastLog = time.Now()
				var tot int64
				for _, v := range s.Ops {
					tot += v
				}
				logf("t=%4.0fs rss=%dMiB goroutines=%d threads=%d fds=%d ops=%d fails=%d wrong=%d faults=%d+%d oldest-op=%.0fs",
					s.T, s.RSSKiB>>10, s.Goroutines, s.Threads, s.FDs, tot, s.Fails, cnt.wrongBytes.Load(), s.FaultsMAST, s.FaultsS3, s.OldestOpS)
			}
			select {
			case err := <-d.done:
				d.done <- err
				logf("mastfs exited during the soak: %v", err)
				exitNote = fmt.Sprintf("mastfs exited during the soak: %v", err)
				stopClients()
			default:
			}
		case <-clientsDone:
			break sampling
		case <-time.After(time.Until(t0.Add(c.duration + c.drainWait))):
			hung = inf.running()
			logf("operations still running %v after the end: %v", c.drainWait, hung)
			break sampling
		}
	}
	clientTime := time.Since(t0)
	if clientTime > c.duration && len(hung) == 0 {
		clientTime = c.duration // the ops finishing after the deadline are counted in the window
	}
	final := takeSample(&samples[len(samples)-1])

	// The daemon's log, before stopping it.
	if exitNote == "" {
		exitNote = d.stop(mnt)
	} else if mounted(mnt) {
		exec.Command("fusermount3", "-u", "-z", mnt).Run() // the daemon died: clear its mount
	}
	stopped = true
	logf("mastfs: %s", exitNote)
	if len(hung) > 0 {
		// A hung op ends with the unmount; give the clients a moment.
		select {
		case <-clientsDone:
		case <-time.After(10 * time.Second):
		}
	}

	sum := summarize(c, a, cnt, samples, final, clientTime, pMAST, pS3, hung, exitNote, interrupted.Load(), args)
	if err := writeResults(out, samples, sum, d.logPath, c.logTail); err != nil {
		return err
	}
	logf("verdict: %s", sum.Verdict)
	logf("results in %s", out)
	return nil
}

// ---------------------------------------------------------------- results

type minMax struct {
	Start, End, Min, Max float64
	SlopePerMin          float64 `json:"slope_per_min_second_half"`
	GrowthSecondHalf     float64 `json:"growth_second_half"`
}

type kindSummary struct {
	Ops        int64   `json:"ops"`
	OpsPerSec  float64 `json:"ops_per_sec"`
	Fails      int64   `json:"fails"`
	MiBPerSec  float64 `json:"mib_per_sec,omitempty"`
	MeanMs     float64 `json:"mean_ms"`
	MaxMs      float64 `json:"max_ms"`
	SlowOps    int64   `json:"slow_ops"`
	BytesTotal int64   `json:"bytes,omitempty"`
}

type summary struct {
	Started       string                      `json:"started"`
	Machine       map[string]string           `json:"machine"`
	Config        map[string]any              `json:"config"`
	MountArgs     []string                    `json:"mount_args"`
	Seconds       float64                     `json:"seconds"`
	Interrupted   bool                        `json:"interrupted"`
	Ops           map[string]kindSummary      `json:"ops"`
	OpsPerSec     float64                     `json:"ops_per_sec_total"`
	Errors        map[string]int64            `json:"errors"`
	ErrorExamples map[string][]string         `json:"error_examples"`
	ErrorTargets  map[string]map[string]int64 `json:"error_targets"`
	WrongBytes    int64                       `json:"wrong_bytes"`
	Faults        map[string]any              `json:"faults"`
	RSSMiB        minMax                      `json:"rss_mib"`
	Goroutines    minMax                      `json:"goroutines"`
	Threads       minMax                      `json:"threads"`
	FDs           minMax                      `json:"fds"`
	HeapInuseMiB  minMax                      `json:"heap_inuse_mib"`
	CacheMiB      minMax                      `json:"cache_mib"`
	Retries       int64                       `json:"mastfs_retries"`
	Hung          []string                    `json:"hung_ops"`
	MastfsExit    string                      `json:"mastfs_exit"`
	Samples       int                         `json:"samples"`
	Verdict       string                      `json:"verdict"`
	Reasons       []string                    `json:"verdict_reasons"`
}

// series summarizes one sampled value: start, end, min, max and the
// least-squares slope over the second half of the run.
func series(samples []sample, v func(sample) float64) minMax {
	var m minMax
	if len(samples) == 0 {
		return m
	}
	m.Start, m.End = v(samples[0]), v(samples[len(samples)-1])
	m.Min, m.Max = math.Inf(1), math.Inf(-1)
	for _, s := range samples {
		m.Min, m.Max = math.Min(m.Min, v(s)), math.Max(m.Max, v(s))
	}
	tEnd := samples[len(samples)-1].T
	var xs, ys []float64
	for _, s := range samples {
		if s.T >= tEnd/2 {
			xs, ys = append(xs, s.T), append(ys, v(s))
		}
	}
	if len(xs) >= 3 {
		var mx, my float64
		for i := range xs {
			mx, my = mx+xs[i], my+ys[i]
		}
		mx, my = mx/float64(len(xs)), my/float64(len(xs))
		var num, den float64
		for i := range xs {
			num += (xs[i] - mx) * (ys[i] - my)
			den += (xs[i] - mx) * (xs[i] - mx)
		}
		if den > 0 {
			slope := num / den // per second
			m.SlopePerMin = round(slope*60, 3)
			m.GrowthSecondHalf = round(slope*(xs[len(xs)-1]-xs[0]), 2)
		}
	}
	return m
}

func round(x float64, d int) float64 {
	p := math.Pow(10, float64(d))
	return math.Round(x*p) / p
}

func machine() map[string]string {
	m := map[string]string{"cpus": strconv.Itoa(runtime.NumCPU()), "go": runtime.Version(), "goarch": runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "model name") {
				m["cpu"] = strings.TrimSpace(strings.SplitN(line, ":", 2)[1])
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		m["memory"] = strings.Join(strings.Fields(strings.SplitN(string(b), "\n", 2)[0])[1:], " ")
	}
	if out, err := exec.Command("uname", "-r").Output(); err == nil {
		m["kernel"] = strings.TrimSpace(string(out))
	}
	if builtFrom != "" {
		m["mastfs_commit"] = builtFrom
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m["loadavg_at_end"] = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return m
}

func summarize(c config, a *archive, cnt *counters, samples []sample, final sample, dur time.Duration,
	pMAST, pS3 *faultproxy.Proxy, hung []string, exitNote string, interrupted bool, args []string) summary {
	secs := dur.Seconds()
	s := summary{
		Started: time.Now().Add(-dur).UTC().Format(time.RFC3339),
		Machine: machine(),
		Config: map[string]any{
			"duration": c.duration.String(), "clients": c.clients, "faults": c.faults, "seed": c.seed,
			"catalog":     fmt.Sprintf("Generate(%d, %d, %d)", c.seed, c.nObs, c.prods),
			"large_mib":   c.bigMiB + " in the bucket, 24 at MAST only, 16 S3-404 fallback",
			"bucket":      fmt.Sprintf("gofakes3 in-process, %d objects, %d MiB", a.s3Objects, a.s3Bytes>>20),
			"query_dirs":  len(a.dirs),
			"stall_for":   c.stall.String(),
			"sample":      c.sample.String(),
			"cache_size":  c.cacheSize,
			"fault_kinds": fmt.Sprint(faultproxy.AllFaults()),
		},
		MountArgs:   args,
		Seconds:     round(secs, 1),
		Interrupted: interrupted,
		Ops:         map[string]kindSummary{},
		Errors:      cnt.errSnapshot(),
		WrongBytes:  cnt.wrongBytes.Load(),
		Hung:        hung,
		MastfsExit:  exitNote,
		Samples:     len(samples),
		Retries:     final.Retries,
	}
	cnt.mu.Lock() // a hung client may still fail
	s.ErrorExamples, s.ErrorTargets = map[string][]string{}, map[string]map[string]int64{}
	for k, v := range cnt.examples {
		s.ErrorExamples[k] = append([]string(nil), v...)
	}
	for k, v := range cnt.targets {
		s.ErrorTargets[k] = map[string]int64{}
		for t, n := range v {
			s.ErrorTargets[k][t] = n
		}
	}
	cnt.mu.Unlock()
	var total int64
	for _, k := range kinds {
		ks := cnt.byKind[k]
		n := ks.ops.Load()
		total += n
		ksum := kindSummary{Ops: n, OpsPerSec: round(float64(n)/secs, 2), Fails: ks.fails.Load(),
			MaxMs: round(float64(ks.maxNs.Load())/1e6, 1), SlowOps: ks.slow.Load(), BytesTotal: ks.bytes.Load()}
		if n > 0 {
			ksum.MeanMs = round(float64(ks.nanos.Load())/float64(n)/1e6, 2)
		}
		if ksum.BytesTotal > 0 {
			ksum.MiBPerSec = round(float64(ksum.BytesTotal)/secs/(1<<20), 2)
		}
		s.Ops[k] = ksum
	}
	s.OpsPerSec = round(float64(total)/secs, 2)
	byKind := func(p *faultproxy.Proxy) map[string]int64 {
		m := map[string]int64{}
		for f, n := range p.Stats() {
			m[f.String()] = n
		}
		return m
	}
	s.Faults = map[string]any{
		"mast_requests": pMAST.Requests(), "mast_injected": pMAST.Injected(), "mast_by_kind": byKind(pMAST),
		"s3_requests": pS3.Requests(), "s3_injected": pS3.Injected(), "s3_by_kind": byKind(pS3),
	}
	all := append(append([]sample(nil), samples...), final)
	s.RSSMiB = series(all, func(x sample) float64 { return round(float64(x.RSSKiB)/1024, 1) })
	s.Goroutines = series(all, func(x sample) float64 { return float64(x.Goroutines) })
	s.Threads = series(all, func(x sample) float64 { return float64(x.Threads) })
	s.FDs = series(all, func(x sample) float64 { return float64(x.FDs) })
	s.HeapInuseMiB = series(all, func(x sample) float64 { return round(float64(x.HeapInuse)/(1<<20), 1) })
	s.CacheMiB = series(all, func(x sample) float64 { return round(float64(x.CacheBytes)/(1<<20), 1) })

	// The verdict. Flat: over the second half, RSS grows by less than
	// max(16 MiB, 5% of its max), goroutines by less than max(10, 10%),
	// fds by less than 10.
	var reasons []string
	if s.WrongBytes > 0 {
		reasons = append(reasons, fmt.Sprintf("%d wrong bytes", s.WrongBytes))
	}
	for _, k := range []string{"wrong_bytes", "short_read", "long_read", "size_mismatch", "listing_mismatch", "xattr_mismatch", "unknown_uri"} {
		if n := s.Errors[k]; n > 0 {
			reasons = append(reasons, fmt.Sprintf("%d %s", n, k))
		}
	}
	// EIO is what a fault becomes once retries are spent. ESTALE is
	// mastfs's documented answer to an object whose ETag changed under an
	// open file (fs/versions.go), which is what the ChangeETag fault
	// fakes: it is expected as long as there are no more ESTALEs than
	// ChangeETag faults on the bucket (a pinned bogus version would give
	// more). Any other errno is suspicious.
	changed := pS3.Stats()[faultproxy.ChangeETag]
	for k, n := range s.Errors {
		switch {
		case k == "EIO":
		case k == "ESTALE" && n <= changed:
		case k == "ESTALE":
			reasons = append(reasons, fmt.Sprintf("%d ESTALE, more than the %d ChangeETag faults on S3", n, changed))
		case strings.HasPrefix(k, "E"):
			reasons = append(reasons, fmt.Sprintf("%d %s (only EIO, and ESTALE after ChangeETag, are expected under faults)", n, k))
		}
	}
	if len(hung) > 0 {
		reasons = append(reasons, fmt.Sprintf("%d operations hung past the drain", len(hung)))
	}
	if !strings.Contains(exitNote, "exited 0") {
		reasons = append(reasons, "mastfs: "+exitNote)
	}
	leak := false
	if g := s.RSSMiB.GrowthSecondHalf; g > math.Max(16, 0.05*s.RSSMiB.Max) {
		reasons = append(reasons, fmt.Sprintf("RSS grew %.1f MiB over the second half (%.2f MiB/min)", g, s.RSSMiB.SlopePerMin))
		leak = true
	}
	if g := s.Goroutines.GrowthSecondHalf; g > math.Max(10, 0.1*s.Goroutines.Max) {
		reasons = append(reasons, fmt.Sprintf("goroutines grew %.0f over the second half (%.2f/min)", g, s.Goroutines.SlopePerMin))
		leak = true
	}
	if g := s.FDs.GrowthSecondHalf; g > 10 {
		reasons = append(reasons, fmt.Sprintf("fds grew %.0f over the second half", g))
		leak = true
	}
	sort.Strings(reasons)
	s.Reasons = reasons
	switch {
	case len(reasons) == 0:
		s.Verdict = "PASS: flat (RSS, goroutines, fds), 0 wrong bytes, only expected errnos (EIO; ESTALE after ChangeETag), no hang"
	case leak && len(reasons) == 1:
		s.Verdict = "FAIL: not flat"
	default:
		s.Verdict = "FAIL"
	}
	if interrupted {
		s.Verdict += " (interrupted)"
	}
	return s
}

func writeResults(out string, samples []sample, sum summary, logPath string, tail int) error {
	var b strings.Builder
	b.WriteString("t_s\trss_mib\tgoroutines\tthreads\tfds\theap_inuse_mib\tcache_mib\tretries\tfaults_mast\tfaults_s3\treq_mast\treq_s3\tfails\toldest_op_s")
	for _, k := range kinds {
		b.WriteString("\tops_" + k)
	}
	for _, k := range kinds {
		b.WriteString("\tops_per_s_" + k)
	}
	b.WriteString("\n")
	for _, s := range samples {
		fmt.Fprintf(&b, "%.1f\t%.1f\t%d\t%d\t%d\t%.1f\t%.1f\t%d\t%d\t%d\t%d\t%d\t%d\t%.0f",
			s.T, float64(s.RSSKiB)/1024, s.Goroutines, s.Threads, s.FDs, float64(s.HeapInuse)/(1<<20),
			float64(s.CacheBytes)/(1<<20), s.Retries, s.FaultsMAST, s.FaultsS3, s.ReqMAST, s.ReqS3, s.Fails, s.OldestOpS)
		for _, k := range kinds {
			fmt.Fprintf(&b, "\t%d", s.Ops[k])
		}
		for _, k := range kinds {
			fmt.Fprintf(&b, "\t%.2f", s.OpsPerSec[k])
		}
		b.WriteString("\n")
	}
	if err := os.WriteFile(filepath.Join(out, "samples.tsv"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	js, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "summary.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	if err := writeLogTail(logPath, filepath.Join(out, "mastfs-log-tail.txt"), tail); err != nil {
		logf("log tail: %v", err)
	}
	return plot(out, sum)
}

// writeLogTail keeps the daemon log's line count by level and its last lines.
func writeLogTail(src, dst string, tail int) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	var lines []string
	levels := map[string]int{}
	total := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		total++
		for _, l := range []string{"level=WARN", "level=ERROR", "level=INFO", "panic", "fatal error"} {
			if strings.Contains(line, l) {
				levels[l]++
			}
		}
		lines = append(lines, line)
		if len(lines) > tail {
			lines = lines[1:]
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# mastfs log: %d lines; by level: %v; the last %d:\n", total, levels, len(lines))
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	return os.WriteFile(dst, []byte(b.String()), 0o644)
}

func plot(out string, sum summary) error {
	gp := fmt.Sprintf(`# gnuplot script of the soak (bench/soak); regenerate with: gnuplot soak.gp
set terminal pngcairo size 1000,900 noenhanced font "sans,9"
set output "soak.png"
set datafile separator "\t"
set key autotitle columnhead outside right
set grid
set xlabel "time since the clients started (s)"
set multiplot layout 3,1 title "mastfs soak: %s, %d clients, %.1f%% faults (MAST and S3) -- %s"
set ylabel "MiB"
set yrange [0:*]
plot "samples.tsv" using 1:2 with lines lw 2 title "RSS", "" using 1:6 with lines title "Go heap in use", "" using 1:7 with lines title "block cache"
set ylabel "count"
plot "samples.tsv" using 1:3 with lines lw 2 title "goroutines", "" using 1:4 with lines title "threads", "" using 1:5 with lines title "open fds"
set ylabel "ops/s"
plot "samples.tsv" using 1:19 with lines title "list", "" using 1:20 with lines title "stat", "" using 1:21 with lines title "seq (whole file)", "" using 1:22 with lines title "rand (pread x8-32)"
unset multiplot
`, sum.Config["duration"], sum.Config["clients"], 100*sum.Config["faults"].(float64), strings.SplitN(sum.Verdict, ":", 2)[0])
	gpPath := filepath.Join(out, "soak.gp")
	if err := os.WriteFile(gpPath, []byte(gp), 0o644); err != nil {
		return err
	}
	if _, err := exec.LookPath("gnuplot"); err != nil {
		logf("gnuplot not found: no soak.png (apt-get install gnuplot-nox)")
		return nil
	}
	cmd := exec.Command("gnuplot", "soak.gp")
	cmd.Dir = out
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("gnuplot: %v: %s", err, b)
	}
	return nil
}
