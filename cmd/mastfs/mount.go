package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mastfs/mastfs/cache"
	mfs "github.com/mastfs/mastfs/fs"
	"github.com/mastfs/mastfs/mast"
	"github.com/mastfs/mastfs/throttle"
)

func mountCommand() *cli.Command {
	return &cli.Command{
		Name:      "mount",
		Usage:     "mount the archive in the foreground; SIGINT/SIGTERM unmount cleanly",
		ArgsUsage: "MOUNTPOINT",
		Description: `Mounts the MAST archive read-only at MOUNTPOINT and serves it in the
foreground (systemd Type=simple). A path is a query: criteria/<col>=<value>/...
(query_criteria), region/<ra dec>/... (query_region), object/<name>/...
(query_object), obsid/<ids>/ (get_product_list), missions/, metadata/ and
uri/<dataURI>; @ segments filter products. MOUNTPOINT/README.txt has the
grammar, docs/paths.md the details.

SIGINT and SIGTERM unmount and exit 0; SIGHUP drops the query and block
caches. A dead mount left by a killed mastfs at MOUNTPOINT is cleared first.
A MOUNTPOINT with entries is refused (exit 1) unless --nonempty is given.
Files belong to the user running mastfs (mode 0444, directories 0555), and
only that user may enter the mount unless --allow-other is given.
--metrics-addr serves Prometheus metrics that agree with .mastfs/stats.json.
--max-requests caps the backend requests in flight, MAST and S3 together
(default 64); more wait for a slot.
For fstab, link the binary as /sbin/mount.fuse.mastfs (docs/operations.md).

The token for exclusive-access data: MAST_API_TOKEN in the environment, or
--token-file PATH (a file of mode 0600 or stricter). --token on the command
line works but is visible to every user in ps; mastfs warns about it.
Certificates of https URLs are always verified (no flag turns that off).

Examples:
  mastfs mount /mnt/mast &
  ls /mnt/mast/criteria/obs_collection=HST/proposal_id=12062/
  ls '/mnt/mast/region/322.49324 12.16683/radius=5arcmin/@mrp/'
  cp /mnt/mast/obsid/2003738726/@extension=fits/* ./
  MAST_API_TOKEN=... mastfs mount --cache-size 4GiB --metrics-addr 127.0.0.1:9101 /mnt/mast
  mastfs mount --token-file ~/.mast_token /mnt/mast    # chmod 600 ~/.mast_token
  mastfs mount --cloud off --log-format json --log-file /var/log/mastfs.log /mnt/mast
  mount -t fuse.mastfs none /mnt/mast -o allow_other,cache_size=4GiB`,
		Flags: append(sharedFlags(),
			&cli.BoolFlag{Name: "allow-other", Usage: "let other users (root included) see the mount; off by default, and for a non-root user it needs user_allow_other in /etc/fuse.conf"},
			&cli.BoolFlag{Name: "nonempty", Usage: "mount over a directory that has entries (they are hidden until the unmount); without it such a mountpoint is refused"},
			&cli.BoolFlag{Name: "debug-fuse", Usage: "log every FUSE operation"},
			&cli.StringFlag{Name: "metrics-addr", EnvVars: []string{"MASTFS_METRICS_ADDR"}, Usage: "serve Prometheus metrics at http://ADDR/metrics (e.g. 127.0.0.1:9101)"},
			&cli.DurationFlag{Name: "read-timeout", EnvVars: []string{"MASTFS_READ_TIMEOUT"}, Value: mfs.DefaultReadTimeout, Usage: "a read of product bytes that takes longer (backend stalled or failing after retries) fails with EIO"},
			&cli.IntFlag{Name: "max-requests", EnvVars: []string{"MASTFS_MAX_REQUESTS"}, Value: throttle.DefaultMax, Usage: "most backend requests (MAST and S3 together) in flight at once; a request holds its slot until its answer is read or closed, and further ones wait"},
		),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return cli.Exit("usage: mastfs mount [flags] MOUNTPOINT", 2)
			}
			cfg, err := parseConfig(c)
			if err != nil {
				return cli.Exit(err.Error(), 2)
			}
			cfg.MetricsAddr = c.String("metrics-addr")
			cfg.NonEmpty = c.Bool("nonempty")
			if cfg.ReadTimeout = c.Duration("read-timeout"); cfg.ReadTimeout <= 0 {
				return cli.Exit("--read-timeout must be positive", 2)
			}
			if cfg.MaxRequests = c.Int("max-requests"); cfg.MaxRequests <= 0 {
				return cli.Exit("--max-requests must be positive", 2)
			}
			return serve(c.Context, cfg, c.Args().First(), c.Bool("allow-other"), c.Bool("debug-fuse"), nil)
		},
	}
}

// requestLimiter is the one limiter of a configuration's backend
// requests (--max-requests), made on first use: the MAST client
// (newClient) and the S3 client (newCloud) share it.
func (cfg *config) requestLimiter() *throttle.Limiter {
	if cfg.limiter == nil {
		n := cfg.MaxRequests
		if n <= 0 {
			n = throttle.DefaultMax
		}
		cfg.limiter = throttle.New(n)
	}
	return cfg.limiter
}

// mastTransport is the MAST client's transport: the default one, keeping
// as many idle connections as requests may be in flight (the default
// keeps 2, so a burst of downloads would reconnect for most of them).
func mastTransport(maxRequests int) http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = maxRequests
	return t
}

// newClient builds the archive client of a configuration; its requests
// hold slots of the configuration's request limiter.
func newClient(cfg *config) *mast.Client {
	return mast.New(mast.Config{
		BaseURL:     cfg.MastURL,
		ResolverURL: cfg.ResolverURL,
		Token:       cfg.Token,
		HTTPClient:  &http.Client{Transport: cfg.requestLimiter().Transport(mastTransport(cfg.requestLimiter().Cap()))},
		Logger:      cfg.Logger,
		UserAgent:   "mastfs/" + version(),
	})
}

// serve mounts and blocks until a signal or an external unmount. ready, when
// set, is called once the mount is up (the demo prints hints then).
func serve(ctx context.Context, cfg *config, mountpoint string, allowOther, debugFUSE bool, ready func()) error {
	if cleared, err := clearStaleMount(mountpoint); err != nil {
		return err
	} else if cleared {
		cfg.Logger.Warn("cleared a stale mount left by a mastfs that died", "mountpoint", mountpoint)
		fmt.Fprintf(os.Stderr, "mastfs: %s held a dead mount from a previous mastfs; cleared it\n", mountpoint)
	}
	if !cfg.NonEmpty {
		if err := checkMountpointEmpty(mountpoint); err != nil {
			return err
		}
	}
	limitMemory(cfg.Logger)
	client := newClient(cfg)
	locator, source, err := newCloud(cfg, client)
	if err != nil {
		return err
	}
	blocks, err := cache.New(cache.Config{MaxBytes: cfg.CacheSize, BlockSize: int(cfg.BlockSize)})
	if err != nil {
		return err
	}
	defer blocks.Close()
	var ops *opLatency
	if cfg.MetricsAddr != "" {
		ops = newOpLatency()
	}
	srv, root, err := mfs.Mount(mountpoint, mfs.Options{
		Archive:         client,
		Source:          source,
		Cache:           blocks,
		DownloadURL:     client.DownloadURL, // quote(uri, ":/"): HLA cgi URIs keep ?&=
		QueryTTL:        cfg.QueryTTL,
		MaxObservations: cfg.MaxObservations,
		Logger:          cfg.Logger,
		AllowOther:      allowOther,
		DebugFUSE:       debugFUSE,
		Cloud:           locator,
		CloudBucket:     cfg.S3Bucket,
		CloudOnly:       cfg.Cloud == "only",
		Ops:             opObserver(ops),
		ReadTimeout:     cfg.ReadTimeout,
		Limiter:         cfg.requestLimiter(),
	})
	if err != nil {
		return err
	}
	if ops != nil {
		stop, err := serveMetrics(cfg.MetricsAddr, root, ops, cfg.Logger)
		if err != nil {
			srv.Unmount()
			return fmt.Errorf("--metrics-addr: %w", err)
		}
		defer stop()
	}
	raiseKernelReadahead(mountpoint, 1024, cfg.Logger)
	cfg.Logger.Info("mounted", "mountpoint", mountpoint, "mast", cfg.MastURL)
	if ready != nil {
		ready()
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	done := make(chan struct{})
	go func() { srv.Wait(); close(done) }()
	for {
		select {
		case <-done:
			st := cfg.requestLimiter().Stats()
			cfg.Logger.Info("unmounted", "mountpoint", mountpoint, "max_requests", st.Cap,
				"requests", st.Acquired, "max_in_flight", st.MaxInFlight, "request_waits", st.Waits)
			return nil
		case s := <-sigs:
			if s == syscall.SIGHUP {
				root.DropCaches()
				blocks.Clear()
				cfg.Logger.Info("caches dropped (SIGHUP)")
				continue
			}
			cfg.Logger.Info("unmounting", "signal", s.String())
			if err := unmountWithRetry(srv.Unmount); err != nil {
				return fmt.Errorf("unmount %s: %w", mountpoint, err)
			}
		}
	}
}

// opObserver keeps a nil *opLatency a nil interface.
func opObserver(o *opLatency) mfs.OpObserver {
	if o == nil {
		return nil
	}
	return o
}

// unmountWithRetry retries while the mount is busy for a short while: a
// shell that just left the directory may still hold it for a moment.
func unmountWithRetry(unmount func() error) error {
	var err error
	for i := 0; i < 20; i++ {
		if err = unmount(); err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EBUSY) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print version and build information",
		Description: `Prints the version, the Go version and the VCS revision the binary was built from.

Examples:
  mastfs version`,
		Action: func(c *cli.Context) error {
			fmt.Printf("mastfs %s\n", version())
			if bi, ok := debug.ReadBuildInfo(); ok {
				fmt.Printf("go %s\n", bi.GoVersion)
				for _, s := range bi.Settings {
					if s.Key == "vcs.revision" || s.Key == "vcs.time" || s.Key == "vcs.modified" {
						fmt.Printf("%s %s\n", s.Key, s.Value)
					}
				}
			}
			return nil
		},
	}
}

// Version is set at link time (-ldflags "-X main.Version=...").
var Version = ""

func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
