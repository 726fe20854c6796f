package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mastfs/mastfs/throttle"
)

// Defaults point at the real archive; tests and the demo override them.
const (
	defaultMastURL     = "https://mast.stsci.edu"
	defaultResolverURL = "http://mastresolver.stsci.edu/Santa-war/query"
	defaultBucket      = "stpubdata"
	defaultRegion      = "us-east-1"
	defaultCacheSize   = "1GiB"
	// defaultBlockSize: see docs/benchmarks.md.
	defaultBlockSize = "256KiB"
)

// sharedFlags are the flags of contract §5, each also read from the environment.
func sharedFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "mast-url", EnvVars: []string{"MASTFS_MAST_URL"}, Value: defaultMastURL, Usage: "MAST base URL (invoke, columnsconfig, Download/file, bundle.sh, path_lookup)"},
		&cli.StringFlag{Name: "resolver-url", EnvVars: []string{"MASTFS_RESOLVER_URL"}, Value: defaultResolverURL, Usage: "name resolver (SANTA) URL"},
		&cli.StringFlag{Name: "s3-endpoint", EnvVars: []string{"MASTFS_S3_ENDPOINT"}, Usage: "S3 endpoint; empty means AWS; when set, path-style addressing"},
		&cli.StringFlag{Name: "s3-bucket", EnvVars: []string{"MASTFS_S3_BUCKET"}, Value: defaultBucket, Usage: "public bucket with MAST data"},
		&cli.StringFlag{Name: "s3-region", EnvVars: []string{"MASTFS_S3_REGION"}, Value: defaultRegion, Usage: "S3 region"},
		&cli.StringFlag{Name: "cloud", EnvVars: []string{"MASTFS_CLOUD"}, Value: "auto", Usage: "auto (S3 first for products held in the cloud), off, or only (hide products not in the cloud)"},
		&cli.StringFlag{Name: "token", EnvVars: []string{"MAST_API_TOKEN"}, Usage: "MAST API token for exclusive-access data; on the command line it is visible in ps (a warning is logged), so prefer MAST_API_TOKEN or --token-file"},
		&cli.StringFlag{Name: "token-file", EnvVars: []string{"MASTFS_TOKEN_FILE"}, TakesFile: true, Usage: "read the MAST API token from `PATH` (surrounding whitespace trimmed); the file must not be readable or writable by group or others (chmod 600); not with --token"},
		&cli.StringFlag{Name: "cache-size", EnvVars: []string{"MASTFS_CACHE_SIZE"}, Value: defaultCacheSize, Usage: "memory for cached and in-flight blocks"},
		&cli.StringFlag{Name: "block-size", EnvVars: []string{"MASTFS_BLOCK_SIZE"}, Value: defaultBlockSize, Usage: "block size of reads and of the cache"},
		&cli.DurationFlag{Name: "query-ttl", EnvVars: []string{"MASTFS_QUERY_TTL"}, Value: 10 * time.Minute, Usage: "how long query listings are cached"},
		&cli.IntFlag{Name: "max-observations", EnvVars: []string{"MASTFS_MAX_OBSERVATIONS"}, Value: 5000, Usage: "queries with more observations list only their dotfiles and TOO_MANY_OBSERVATIONS.txt"},
		&cli.StringFlag{Name: "log-level", EnvVars: []string{"MASTFS_LOG_LEVEL"}, Value: "info", Usage: "debug, info, warn or error"},
		&cli.StringFlag{Name: "log-format", EnvVars: []string{"MASTFS_LOG_FORMAT"}, Value: "text", Usage: "text or json"},
		&cli.StringFlag{Name: "log-file", EnvVars: []string{"MASTFS_LOG_FILE"}, Usage: "append logs to this file instead of stderr"},
	}
}

// config is the parsed shared flags.
type config struct {
	MastURL, ResolverURL         string
	S3Endpoint, S3Bucket, Region string
	Cloud                        string
	Token                        string
	CacheSize, BlockSize         int64
	QueryTTL                     time.Duration
	MaxObservations              int
	Logger                       *slog.Logger
	// MetricsAddr is mount's --metrics-addr; empty: no metrics.
	MetricsAddr string
	// NonEmpty is mount's --nonempty: mount over a directory that has
	// entries. The demo leaves it false.
	NonEmpty bool
	// ReadTimeout is mount's --read-timeout (0: the fs default).
	ReadTimeout time.Duration
	// MaxRequests is mount's --max-requests: the cap on backend (MAST and
	// S3) requests in flight at once (0: throttle.DefaultMax). Every client
	// built from this configuration shares one limiter (requestLimiter).
	MaxRequests int
	limiter     *throttle.Limiter
}

func parseConfig(c *cli.Context) (*config, error) {
	cfg := &config{
		MastURL:         strings.TrimRight(c.String("mast-url"), "/"),
		ResolverURL:     c.String("resolver-url"),
		S3Endpoint:      c.String("s3-endpoint"),
		S3Bucket:        c.String("s3-bucket"),
		Region:          c.String("s3-region"),
		Cloud:           strings.ToLower(c.String("cloud")),
		QueryTTL:        c.Duration("query-ttl"),
		MaxObservations: c.Int("max-observations"),
	}
	switch cfg.Cloud {
	case "auto", "off", "only":
	default:
		return nil, fmt.Errorf("--cloud must be auto, off or only, not %q", cfg.Cloud)
	}
	var err error
	if cfg.Token, err = resolveToken(c); err != nil {
		return nil, err
	}
	if cfg.CacheSize, err = parseBytes(c.String("cache-size")); err != nil {
		return nil, fmt.Errorf("--cache-size: %w", err)
	}
	if cfg.BlockSize, err = parseBytes(c.String("block-size")); err != nil {
		return nil, fmt.Errorf("--block-size: %w", err)
	}
	if cfg.BlockSize < 4096 || cfg.BlockSize > 64<<20 {
		return nil, fmt.Errorf("--block-size must be between 4KiB and 64MiB")
	}
	if cfg.CacheSize < 4*cfg.BlockSize {
		return nil, fmt.Errorf("--cache-size must hold at least 4 blocks (%d bytes)", 4*cfg.BlockSize)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	var out io.Writer = os.Stderr
	if p := c.String("log-file"); p != "" {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return nil, fmt.Errorf("--log-file: %w", err)
		}
		out = f
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(c.String("log-format")) {
	case "text":
		cfg.Logger = slog.New(slog.NewTextHandler(out, opts))
	case "json":
		cfg.Logger = slog.New(slog.NewJSONHandler(out, opts))
	default:
		return nil, fmt.Errorf("--log-format must be text or json, not %q", c.String("log-format"))
	}
	warnTokenInArgs(cfg.Logger, os.Args)
	if cfg.Token != "" && tokenInClear(cfg.MastURL) {
		cfg.Logger.Warn("the MAST API token will be sent unencrypted: --mast-url is plain http", "mast", cfg.MastURL)
	}
	return cfg, nil
}

// parseBytes reads sizes such as 1GiB, 512MiB, 64KiB, 1000000 or 1G.
func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(strings.ToUpper(s), strings.ToUpper(u.suffix)) {
			mult = u.mult
			s = strings.TrimSpace(s[:len(s)-len(u.suffix)])
			break
		}
	}
	var n float64
	if _, err := fmt.Sscan(s, &n); err != nil || n < 0 {
		return 0, fmt.Errorf("not a size: %q", s)
	}
	return int64(n * float64(mult)), nil
}
