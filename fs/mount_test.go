package fs

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mastfs/mastfs/cache"
	"github.com/mastfs/mastfs/cloud"
	"github.com/mastfs/mastfs/faultproxy"
	"github.com/mastfs/mastfs/mast"
	"github.com/mastfs/mastfs/mast/mastemu"
)

// mountConfig tunes mountForTest; the zero value mounts the recorded catalog.
type mountConfig struct {
	catalog   *mastemu.Catalog
	emu       mastemu.Options
	maxObs    int
	ttl       time.Duration
	blockSize int
	token     string
	// wrap, when set, sits in front of the emulator (fault injection).
	wrap func(http.Handler) http.Handler
	// s3, when set, serves the catalog's cloud objects for which it is true
	// from an in-process S3 and mounts with a cloud locator and the S3-first
	// source (startS3).
	s3 func(key, uri string) bool
	// versitygw puts the s3 objects into a versitygw gateway (a real,
	// auth-enforcing S3 server, versitygw_test.go) instead of gofakes3.
	versitygw bool
	// cloudOnly mounts with --cloud only (needs s3).
	cloudOnly bool
	// faults puts a faultproxy in front of the emulator and (with s3) the
	// S3 server, seeded with faultSeed, and gives the MAST client short
	// retry delays and stall timeout so that fault tests run quickly.
	faults    bool
	faultSeed int64
	// readTimeout is --read-timeout (0: the default).
	readTimeout time.Duration
	// cacheBytes is --cache-size (0: 64 MiB).
	cacheBytes int64
	// wrapCloud, when set, wraps the cloud locator (panic injection).
	wrapCloud func(CloudLocator) CloudLocator
	// mastHTTP, when set, is the MAST client's HTTP client, and s3HTTP
	// (with s3) the S3 client's (cloud.Config.HTTPClient), e.g. throttled
	// ones whose idle connections the test closes (leak_test.go).
	mastHTTP *http.Client
	s3HTTP   interface {
		Do(*http.Request) (*http.Response, error)
	}
}

// mounted is a live mastfs mount over an in-process MAST emulator.
type mounted struct {
	Dir    string
	Emu    *mastemu.Server
	Cat    *mastemu.Catalog
	URL    string
	Client *mast.Client
	Root   *Root
	HTTP   *httptest.Server
	S3     *testS3 // nil unless mountConfig.s3
	// MastFaults and S3Faults are the fault proxies (mountConfig.faults).
	MastFaults, S3Faults *faultproxy.Proxy
	logs                 *logBuffer
}

// requireFUSE skips tests that need a real mount where FUSE is unavailable,
// unless MASTFS_REQUIRE_FUSE=1 (CI), where that is a failure.
func requireFUSE(t testing.TB) {
	t.Helper()
	_, err := os.Stat("/dev/fuse")
	if err == nil && os.Geteuid() == 0 {
		return
	}
	if os.Getenv("MASTFS_REQUIRE_FUSE") == "1" {
		t.Fatalf("FUSE is required (MASTFS_REQUIRE_FUSE=1) but unavailable: /dev/fuse: %v, euid %d", err, os.Geteuid())
	}
	t.Skip("needs /dev/fuse and root")
}

// mountForTest is the one mount helper of the fs tests: it starts the
// emulator, mounts mastfs in t.TempDir() and unmounts at cleanup.
func mountForTest(t testing.TB, cfg mountConfig) *mounted {
	t.Helper()
	requireFUSE(t)
	if cfg.catalog == nil {
		cfg.catalog = mastemu.Recorded()
	}
	if cfg.ttl == 0 {
		cfg.ttl = time.Minute
	}
	if cfg.maxObs == 0 {
		cfg.maxObs = 5000
	}
	if cfg.blockSize == 0 {
		cfg.blockSize = 256 << 10
	}
	cfg.emu.Catalog = cfg.catalog
	emu := mastemu.New(cfg.emu)
	var h http.Handler = emu
	if cfg.wrap != nil {
		h = cfg.wrap(emu)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	mastURL := hs.URL
	var mastFaults, s3Faults *faultproxy.Proxy
	if cfg.faults {
		mastFaults = faultproxy.New(hs.URL, cfg.faultSeed)
		t.Cleanup(mastFaults.Close)
		mastURL = mastFaults.URL()
	}

	logs := &logBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("mount log:\n%s", logs.String())
		}
	})
	mcfg := mast.Config{
		BaseURL:     mastURL,
		ResolverURL: mastURL + "/Santa-war/query",
		Token:       cfg.token,
		Logger:      logger,
		HTTPClient:  cfg.mastHTTP,
	}
	if cfg.faults {
		mcfg.RetryBase, mcfg.RetryCap, mcfg.StallTimeout = 5*time.Millisecond, 50*time.Millisecond, time.Second
	}
	client := mast.New(mcfg)
	if cfg.cacheBytes == 0 {
		cfg.cacheBytes = 64 << 20
	}
	blocks, err := cache.New(cache.Config{MaxBytes: cfg.cacheBytes, BlockSize: cfg.blockSize})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(blocks.Close)
	var s3 *testS3
	var locator CloudLocator
	var source Source = client
	if cfg.s3 != nil {
		if cfg.versitygw {
			s3 = startVersityS3(t, cfg.catalog, cfg.s3, client, client, logger)
		} else {
			var front func(string) string
			if cfg.faults {
				front = func(url string) string {
					s3Faults = faultproxy.New(url, cfg.faultSeed+1)
					t.Cleanup(s3Faults.Close)
					return s3Faults.URL()
				}
			}
			s3 = startS3(t, cfg.catalog, cfg.s3, client, logger, front)
		}
		if cfg.s3HTTP != nil {
			if s3.Client, err = cloud.New(cloud.Config{Endpoint: s3.URL, Logger: logger, Timeout: 30 * time.Second, HTTPClient: cfg.s3HTTP}); err != nil {
				t.Fatal(err)
			}
			s3.Locator = cloud.NewLocator(client, s3.Client, cloud.LocatorOptions{Logger: logger})
			s3.Source = cloud.NewSource(s3.Client, s3.Locator, client, logger)
		}
		locator, source = s3.Locator, s3.Source
	}
	if cfg.wrapCloud != nil && locator != nil {
		locator = cfg.wrapCloud(locator)
	}
	dir := t.TempDir()
	srv, root, err := Mount(dir, Options{
		Archive:         client,
		Source:          source,
		Cache:           blocks,
		DownloadURL:     client.DownloadURL,
		QueryTTL:        cfg.ttl,
		MaxObservations: cfg.maxObs,
		Logger:          logger,
		Cloud:           locator,
		CloudOnly:       cfg.cloudOnly,
		ReadTimeout:     cfg.readTimeout,
	})
	if err != nil {
		t.Fatalf("mount: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
		}
	})
	return &mounted{Dir: dir, Emu: emu, Cat: cfg.catalog, URL: hs.URL, Client: client, Root: root, HTTP: hs, S3: s3,
		MastFaults: mastFaults, S3Faults: s3Faults, logs: logs}
}

// Path joins mount-relative components.
func (m *mounted) Path(parts ...string) string {
	return m.Dir + "/" + strings.Join(parts, "/")
}

// Logs returns what the mount has logged so far.
func (m *mounted) Logs() string { return m.logs.String() }

type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
