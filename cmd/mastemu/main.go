// Command mastemu serves the offline MAST emulator (package mast/mastemu)
// on a TCP address, for benchmarks and manual tests of mastfs:
//
//	go run ./cmd/mastemu --addr 127.0.0.1:7080 --big 256MiB --files 16 --fits bench/idtest01q_drz.fits
//
// The catalog is Recorded() (or Generate with --generate). Benchmark
// products are added to one observation (--obsid, default the recorded HST
// observation 2003738726, obs_id U9O40504M), each held in the cloud under
// hst/public/u9o4/u9o40504m/<filename>:
//
//	u9o40504m_bench_seq.fits        --big bytes of generated FITS
//	u9o40504m_bench_rand.fits       --rand bytes (a large object for random reads)
//	u9o40504m_bench_NN.fits         --files products of --file-size bytes
//	<base name of each --fits path> the bytes of that local file
//
// With --manifest the command prints one tab-separated line per benchmark
// product (cloud key, size, dataURI, path under a mastfs mount) and exits.
// With --export DIR it also writes each product's bytes to DIR/<cloud key>
// (for an upload into an S3 server, e.g. curl --aws-sigv4 ... -T), so that
// the bucket holds exactly the bytes the emulator's Download/file serves.
//
// While serving, GET /_mastemu/stats answers the emulator's counters as
// JSON (requests by endpoint, invoke services, download bytes; no log), and
// POST /_mastemu/reset zeroes them. SIGINT/SIGTERM stop the server.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/mastfs/mastfs/mast/mastemu"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

type options struct {
	addr     string
	obsid    string
	generate string
	big      int64
	rand     int64
	files    int
	fileSize int64
	fits     multiFlag
	manifest bool
	export   string
}

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "mastemu:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("mastemu", flag.ContinueOnError)
	fl.SetOutput(stderr)
	var o options
	var big, rnd, fileSize string
	fl.StringVar(&o.addr, "addr", "127.0.0.1:7080", "listen address (host:port; port 0 picks one)")
	fl.StringVar(&o.obsid, "obsid", "2003738726", "observation that gets the benchmark products")
	fl.StringVar(&o.generate, "generate", "", "serve Generate(SEED, NOBS, PERPROD) instead of Recorded(), as SEED,NOBS,PERPROD")
	fl.StringVar(&big, "big", "0", "size of the sequential benchmark product u9o40504m_bench_seq.fits (0: none)")
	fl.StringVar(&rnd, "rand", "0", "size of the random-read benchmark product u9o40504m_bench_rand.fits (0: none)")
	fl.IntVar(&o.files, "files", 0, "number of u9o40504m_bench_NN.fits products")
	fl.StringVar(&fileSize, "file-size", "64MiB", "size of each u9o40504m_bench_NN.fits product")
	fl.Var(&o.fits, "fits", "a local file served as a product under its base name (repeatable)")
	fl.BoolVar(&o.manifest, "manifest", false, "print the benchmark products (key, size, dataURI, mount path) and exit")
	fl.StringVar(&o.export, "export", "", "write each benchmark product to DIR/<cloud key>, print the manifest and exit")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() != 0 {
		return fmt.Errorf("unexpected arguments %q", fl.Args())
	}
	var err error
	if o.big, err = parseBytes(big); err != nil {
		return fmt.Errorf("--big: %w", err)
	}
	if o.rand, err = parseBytes(rnd); err != nil {
		return fmt.Errorf("--rand: %w", err)
	}
	if o.fileSize, err = parseBytes(fileSize); err != nil {
		return fmt.Errorf("--file-size: %w", err)
	}
	cat, prods, err := buildCatalog(o)
	if err != nil {
		return err
	}
	if o.export != "" {
		if err := export(cat, prods, o.export); err != nil {
			return err
		}
	}
	if o.manifest || o.export != "" {
		printManifest(stdout, o.obsid, prods)
		return nil
	}
	return serve(o.addr, cat, prods, stderr)
}

// buildCatalog is the served catalog with the benchmark products added.
func buildCatalog(o options) (*mastemu.Catalog, []mastemu.ProductInfo, error) {
	cat := mastemu.Recorded()
	if o.generate != "" {
		var seed int64
		var nObs, per int
		if _, err := fmt.Sscanf(o.generate, "%d,%d,%d", &seed, &nObs, &per); err != nil {
			return nil, nil, fmt.Errorf("--generate %q: want SEED,NOBS,PERPROD", o.generate)
		}
		cat = mastemu.Generate(seed, nObs, per)
	}
	obs, ok := cat.Observation(o.obsid)
	if !ok {
		return nil, nil, fmt.Errorf("--obsid %s: no such observation", o.obsid)
	}
	obsID := strings.ToLower(fmt.Sprint(obs["obs_id"]))
	coll := strings.ToLower(fmt.Sprint(obs["obs_collection"]))
	if len(obsID) < 4 {
		return nil, nil, fmt.Errorf("--obsid %s: obs_id %q too short for a cloud key", o.obsid, obsID)
	}
	keyOf := func(name string) string { return coll + "/public/" + obsID[:4] + "/" + obsID + "/" + name }
	cols := func(name string) map[string]any {
		return map[string]any{
			"dataURI":                 "mast:" + strings.ToUpper(coll) + "/product/" + name,
			"productFilename":         name,
			"productType":             "SCIENCE",
			"description":             "mastfs benchmark product",
			"productGroupDescription": mastemu.MRP,
			"cloudKey":                keyOf(name),
		}
	}
	var prods []mastemu.ProductInfo
	add := func(name string, size int64) error {
		c := cols(name)
		c["size"] = size
		p, err := cat.AddProduct(o.obsid, c)
		prods = append(prods, p)
		return err
	}
	if o.big > 0 {
		if err := add(obsID+"_bench_seq.fits", o.big); err != nil {
			return nil, nil, err
		}
	}
	if o.rand > 0 {
		if err := add(obsID+"_bench_rand.fits", o.rand); err != nil {
			return nil, nil, err
		}
	}
	for i := 0; i < o.files; i++ {
		if err := add(fmt.Sprintf("%s_bench_%02d.fits", obsID, i), o.fileSize); err != nil {
			return nil, nil, err
		}
	}
	for _, path := range o.fits {
		name := filepath.Base(path)
		p, err := cat.AddFileProduct(o.obsid, cols(name), path)
		if err != nil {
			return nil, nil, err
		}
		prods = append(prods, p)
	}
	return cat, prods, nil
}

func printManifest(w io.Writer, obsid string, prods []mastemu.ProductInfo) {
	for _, p := range prods {
		fmt.Fprintf(w, "%s\t%d\t%s\tobsid/%s/%s\n", p.CloudKey, p.Size, p.DataURI, obsid, p.Filename)
	}
}

// export writes the bytes of every benchmark product to dir/<cloud key>.
func export(cat *mastemu.Catalog, prods []mastemu.ProductInfo, dir string) error {
	for _, p := range prods {
		r, ok := cat.Open(p.DataURI)
		if !ok {
			return fmt.Errorf("export: no product %s", p.DataURI)
		}
		out := filepath.Join(dir, filepath.FromSlash(p.CloudKey))
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		n, err := io.CopyBuffer(f, r, make([]byte, 1<<20))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("export %s: %w", p.CloudKey, err)
		}
		if n != p.Size {
			return fmt.Errorf("export %s: wrote %d bytes, want %d", p.CloudKey, n, p.Size)
		}
	}
	return nil
}

// handler is the emulator plus its counters under /_mastemu/.
func handler(emu *mastemu.Server) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_mastemu/stats", func(w http.ResponseWriter, r *http.Request) {
		st := emu.Stats()
		st.Log = nil
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"requests":       st.Requests,
			"services":       st.Services,
			"count_queries":  st.CountQueries,
			"download_bytes": st.DownloadBytes,
		})
	})
	mux.HandleFunc("POST /_mastemu/reset", func(w http.ResponseWriter, r *http.Request) {
		emu.ResetStats()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.Handle("/", emu)
	return mux
}

func serve(addr string, cat *mastemu.Catalog, prods []mastemu.ProductInfo, stderr io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	emu := mastemu.New(mastemu.Options{Catalog: cat})
	srv := &http.Server{Handler: handler(emu), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stderr, "mastemu: serving %d observations and %d benchmark products on http://%s\n", cat.Len(), len(prods), ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	select {
	case err := <-errc:
		return err
	case <-sigs:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// parseBytes reads sizes such as 256MiB, 64KiB, 1GiB or 1000000.
func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil || n < 0 {
		return 0, fmt.Errorf("not a size: %q", s)
	}
	return n * mult, nil
}
