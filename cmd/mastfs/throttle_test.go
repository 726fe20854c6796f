package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/mastfs/mastfs/mast/mastemu"
)

// inFlight counts the requests its servers are answering at once. A
// request stops counting when the last byte of its body is handed to the
// connection (a client that reads to EOF may send its next request before
// the handler returns) or when the handler returns, whichever comes first,
// so the count never exceeds the requests the client has open.
type inFlight struct {
	cur, max, total atomic.Int64
	delay           time.Duration // before each answer
}

func (c *inFlight) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := c.cur.Add(1)
		c.total.Add(1)
		for {
			m := c.max.Load()
			if n <= m || c.max.CompareAndSwap(m, n) {
				break
			}
		}
		cw := &countedWriter{ResponseWriter: w, length: -1, leave: func() { c.cur.Add(-1) }}
		defer cw.done()
		// A slow backend: answers overlap, so concurrency shows.
		time.Sleep(c.delay)
		h.ServeHTTP(cw, r)
	})
}

type countedWriter struct {
	http.ResponseWriter
	length, written int64
	checked         bool
	once            sync.Once
	leave           func()
}

func (w *countedWriter) done() { w.once.Do(w.leave) }

func (w *countedWriter) Write(p []byte) (int, error) {
	if !w.checked {
		w.checked = true
		if n, err := strconv.ParseInt(w.Header().Get("Content-Length"), 10, 64); err == nil {
			w.length = n
		}
	}
	if w.length >= 0 && w.written+int64(len(p)) >= w.length {
		w.done()
	}
	n, err := w.ResponseWriter.Write(p)
	w.written += int64(n)
	return n, err
}

func (w *countedWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *countedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// TestThrottleMaxRequests mounts the binary with --max-requests 2 over the
// emulator and gofakes3 (--cloud auto), both behind one in-flight counter,
// and reads eight 4 MiB products in parallel, half of them from S3 and
// half from MAST's Download/file, plus listings and dotfiles: the servers
// never answer more than 2 requests at once, MAST and S3 together, and
// every byte is right. The same reads with the default cap (64) go past 2,
// so the counter does see concurrency.
func TestThrottleMaxRequests(t *testing.T) {
	requireFUSE(t)
	bin := buildBinary(t)
	cat := mastemu.Recorded()
	const obsid = "2003738726"
	const nFiles = 8
	const size = 4 << 20
	const bucket = "stpubdata"
	obs, ok := cat.Observation(obsid)
	if !ok {
		t.Fatalf("no observation %s", obsid)
	}
	obsID := strings.ToLower(fmt.Sprint(obs["obs_id"]))
	be := s3mem.New()
	if err := be.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	var names, uris []string
	for i := 0; i < nFiles; i++ {
		name := fmt.Sprintf("%s_throttle_%02d.fits", obsID, i)
		key := "hst/public/" + obsID[:4] + "/" + obsID + "/" + name
		p, err := cat.AddProduct(obsid, map[string]any{
			"dataURI": "mast:HST/product/" + name, "productFilename": name, "size": size,
			"productType": "SCIENCE", "cloudKey": key,
		})
		if err != nil {
			t.Fatal(err)
		}
		names, uris = append(names, name), append(uris, p.DataURI)
		if i%2 == 1 {
			continue // placed by path_lookup, absent from the bucket: read from MAST
		}
		r, _ := cat.Open(p.DataURI)
		if _, err := be.PutObject(bucket, key, map[string]string{"Last-Modified": time.Now().UTC().Format(http.TimeFormat)}, r, r.Size(), nil); err != nil {
			t.Fatal(err)
		}
	}
	counter := &inFlight{delay: 5 * time.Millisecond}
	emu := mastemu.New(mastemu.Options{Catalog: cat})
	hs := httptest.NewServer(counter.wrap(emu))
	defer hs.Close()
	s3 := httptest.NewServer(counter.wrap(gofakes3.New(be, gofakes3.WithLogger(gofakes3.DiscardLog())).Server()))
	defer s3.Close()

	run := func(t *testing.T, extra ...string) (maxSeen int64, logs string) {
		counter.max.Store(0)
		counter.total.Store(0)
		mnt := t.TempDir()
		args := append([]string{"mount", "--mast-url", hs.URL, "--resolver-url", hs.URL + "/Santa-war/query",
			"--s3-endpoint", s3.URL, "--s3-bucket", bucket, "--cloud", "auto", "--log-level", "debug"}, extra...)
		cmd := exec.Command(bin, append(args, mnt)...)
		stderr := &syncBuffer{}
		cmd.Stderr = stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("mastfs stderr (tail):\n%s", tail(stderr.String(), 4000))
			}
			if cmd.ProcessState == nil {
				cmd.Process.Kill()
				cmd.Wait()
			}
		})
		waitMounted(t, mnt)
		dir := filepath.Join(mnt, "obsid", obsid)
		var wg sync.WaitGroup
		errs := make(chan error, 2*nFiles+4)
		for _, dot := range []string{".products.csv", ".cloud-uris.txt"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := os.ReadFile(filepath.Join(dir, dot)); err != nil {
					errs <- err
				}
			}()
		}
		for i := range names {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := os.ReadFile(filepath.Join(dir, names[i]))
				if err != nil {
					errs <- fmt.Errorf("%s: %w", names[i], err)
					return
				}
				if !bytes.Equal(got, readAll(t, cat, uris[i])) {
					errs <- fmt.Errorf("%s: bytes differ from the archive's", names[i])
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		stats, err := os.ReadFile(filepath.Join(mnt, ".mastfs", "stats.json"))
		if err != nil {
			t.Fatal(err)
		}
		stopAndWait(t, cmd, mnt)
		var st struct {
			Bytes   struct{ MAST, S3 int64 }
			Limiter *struct {
				Cap         int   `json:"cap"`
				MaxInFlight int64 `json:"max_in_flight"`
				Acquired    int64 `json:"acquired"`
			}
		}
		if err := json.Unmarshal(stats, &st); err != nil || st.Bytes.S3 == 0 || st.Bytes.MAST == 0 {
			t.Fatalf("bytes from S3 %d and from MAST %d (%v): the test must read from both backends",
				st.Bytes.S3, st.Bytes.MAST, err)
		}
		if l := st.Limiter; l == nil || l.Acquired == 0 || int(l.MaxInFlight) > l.Cap {
			t.Fatalf("stats.json limiter: %+v", l)
		}
		return counter.max.Load(), stderr.String()
	}

	t.Run("cap2", func(t *testing.T) {
		maxSeen, logs := run(t, "--max-requests", "2")
		t.Logf("--max-requests 2: %d requests, at most %d at once", counter.total.Load(), maxSeen)
		if maxSeen > 2 {
			t.Fatalf("the servers answered %d requests at once; --max-requests 2", maxSeen)
		}
		if maxSeen < 2 {
			t.Fatalf("at most %d request at once: the parallel reads did not make the cap bind", maxSeen)
		}
		if !strings.Contains(logs, "max_requests=2") || strings.Contains(logs, "max_in_flight=3") {
			t.Fatalf("the unmount log does not report the cap of 2:\n%s", tail(logs, 2000))
		}
	})
	t.Run("default", func(t *testing.T) {
		maxSeen, _ := run(t)
		t.Logf("default --max-requests: %d requests, at most %d at once", counter.total.Load(), maxSeen)
		if maxSeen <= 2 {
			t.Fatalf("without the cap of 2 the servers saw at most %d requests at once; the counter sees no concurrency", maxSeen)
		}
	})
	t.Run("invalid", func(t *testing.T) {
		for _, v := range []string{"0", "-3"} {
			out, err := exec.Command(bin, "mount", "--max-requests", v, t.TempDir()).CombinedOutput()
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "--max-requests must be positive") {
				t.Fatalf("--max-requests %s: %v\n%s", v, err, out)
			}
		}
		cmd := exec.Command(bin, "mount", t.TempDir())
		cmd.Env = append(os.Environ(), "MASTFS_MAX_REQUESTS=0")
		if out, err := cmd.CombinedOutput(); !strings.Contains(string(out), "--max-requests must be positive") {
			t.Fatalf("MASTFS_MAX_REQUESTS=0: %v\n%s", err, out)
		}
	})
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// TestThrottleS3ClientTLS: the S3 client newCloud builds (to put the
// throttle around it) verifies TLS and honours AWS_CA_BUNDLE as cloud.New's
// own does, and its requests hold slots of the configuration's limiter.
func TestThrottleS3ClientTLS(t *testing.T) {
	be := s3mem.New()
	if err := be.CreateBucket("stpubdata"); err != nil {
		t.Fatal(err)
	}
	if _, err := be.PutObject("stpubdata", "x/y.fits", map[string]string{"Last-Modified": time.Now().UTC().Format(http.TimeFormat)},
		strings.NewReader("hello"), 5, nil); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(gofakes3.New(be, gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	defer srv.Close()
	head := func(bundle string) error {
		t.Setenv("AWS_CA_BUNDLE", bundle)
		cfg := &config{S3Endpoint: srv.URL, S3Bucket: "stpubdata", Region: "us-east-1", Cloud: "auto", MaxRequests: 1,
			Logger: slog.New(slog.DiscardHandler)}
		s3, err := newS3(cfg)
		if err != nil {
			return err
		}
		_, _, err = s3.Head(context.Background(), "x/y.fits")
		if st := cfg.requestLimiter().Stats(); st.Acquired == 0 || st.InFlight != 0 {
			t.Fatalf("the S3 request did not go through the limiter: %+v", st)
		}
		return err
	}
	if err := head(""); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("HEAD to a server with an unknown certificate: %v; want a verification error", err)
	}
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := head(bundle); err != nil {
		t.Fatalf("HEAD with AWS_CA_BUNDLE: %v", err)
	}
	if err := head(filepath.Join(t.TempDir(), "missing.pem")); err == nil || !strings.Contains(err.Error(), "AWS_CA_BUNDLE") {
		t.Fatalf("an unreadable AWS_CA_BUNDLE: %v", err)
	}
}
