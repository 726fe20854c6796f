package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/mastfs/mastfs/download"
	mfs "github.com/mastfs/mastfs/fs"
)

func downloadCommand() *cli.Command {
	return &cli.Command{
		Name:      "download",
		Usage:     "download the products of a query path to a directory, without FUSE (astroquery's download_products)",
		ArgsUsage: "PATH DEST",
		Description: `PATH is a query path with the mount's grammar, @ filters included; a
mount-point prefix is ignored, so a path copied from a mount works. The
products that directory would list are fetched to
DEST/mastDownload/<obs_collection>/<obs_id>/<file> (astroquery's layout), or
to DEST/<file> with --flat. Names are sanitised; two products that would land
on one path get the mount's "~<sha1>" suffix.

Bytes come from the same source as the mount's: with --cloud auto, S3 first
for products held in the cloud, MAST's download service otherwise. With
--cloud only, products not in the cloud are SKIPPED (astroquery's
cloud_only).

Files are written under their final names (as astroquery does). A rerun
skips files whose size is the archive's, resumes shorter files with ranged
requests for the missing bytes only (after a crash or Ctrl-C), and fetches
products of unknown size again whole. Ranged reads are 4 x --block-size.

DEST/manifest.csv gets one row per product: Local Path, Status (COMPLETE,
ERROR or SKIPPED), Message, URL. The exit status is 1 when any product ends
in ERROR (e.g. exclusive-access data without MAST_API_TOKEN). The token is
never printed or written.

A terminal gets progress bars (one per file being fetched, and the total);
other output gets one line per product.

Examples:
  mastfs download criteria/obs_collection=HST/proposal_id=8880/@mrp ./data
  mastfs download --dry-run 'object/M101/radius=0.02/@productType=SCIENCE/@extension=fits' ./data
  mastfs download --flat --jobs 8 obsid/2003738726 .
  mastfs download --curl criteria/obs_collection=HST/proposal_id=8880 ./data   # then: cd data && sh mastDownload_*.sh
  MAST_API_TOKEN=... mastfs download criteria/obs_collection=JWST/proposal_id=1234 ./data`,
		Flags: append(sharedFlags(),
			&cli.BoolFlag{Name: "flat", Usage: "put files directly in DEST instead of DEST/mastDownload/<obs_collection>/<obs_id>/"},
			&cli.BoolFlag{Name: "curl", Usage: "write only a curl script, DEST/mastDownload_YYYYmmddHHMMSS.sh (run it in DEST; --flat applies), and fetch nothing"},
			&cli.BoolFlag{Name: "dry-run", Usage: "list what would be fetched, resumed or skipped, with sizes, and fetch nothing"},
			&cli.IntFlag{Name: "jobs", Aliases: []string{"j"}, Value: 4, Usage: "parallel downloads"},
			&cli.StringFlag{Name: "progress", Value: "auto", Usage: "auto (bars on a terminal, lines otherwise), bars, lines or none"},
		),
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return cli.Exit("usage: mastfs download [flags] PATH DEST", 2)
			}
			cfg, err := parseConfig(c)
			if err != nil {
				return cli.Exit(err.Error(), 2)
			}
			if c.Int("jobs") < 1 {
				return cli.Exit("--jobs must be at least 1", 2)
			}
			return runDownload(c.Context, cfg, c, c.Args().Get(0), c.Args().Get(1))
		},
	}
}

func runDownload(ctx context.Context, cfg *config, c *cli.Context, path, dest string) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	client := newClient(cfg)
	loc, src, err := newCloud(cfg, client)
	if err != nil {
		return cli.Exit(err.Error(), 1)
	}
	qctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	products, err := mfs.Evaluate(qctx, client, path, cfg.MaxObservations, cfg.Logger)
	cancel()
	if err != nil {
		return cli.Exit(download.Scrub(err.Error(), cfg.Token), 2)
	}
	opt := download.Options{
		Dest:        dest,
		Flat:        c.Bool("flat"),
		Jobs:        c.Int("jobs"),
		ChunkSize:   int(4 * cfg.BlockSize),
		Source:      src,
		DownloadURL: client.DownloadURL,
		Token:       cfg.Token,
		Log:         cfg.Logger,
	}
	items := download.Plan(products, opt)
	if len(items) == 0 {
		fmt.Println("no products to download")
		return nil
	}
	if cfg.Cloud == "only" && loc != nil && !c.Bool("curl") {
		// astroquery's cloud_only: products not in the cloud are SKIPPED.
		uris := make([]string, len(items))
		for i, it := range items {
			uris[i] = it.Product.URI
		}
		keys, err := loc.Locate(ctx, uris)
		if err != nil {
			return cli.Exit("locating products in the cloud: "+download.Scrub(err.Error(), cfg.Token), 1)
		}
		for i := range items {
			if _, ok := keys[items[i].Product.URI]; !ok {
				items[i].Skip = "Product not found in cloud"
			}
		}
	}
	switch {
	case c.Bool("curl"):
		script, err := download.WriteCurl(items, mfs.TrimToQueryRoot(path), opt, time.Now().UTC())
		if err != nil {
			return cli.Exit(err.Error(), 1)
		}
		fmt.Printf("wrote %s (%d file(s)); run it with: cd %s && sh %s\n", script, len(items), dest, filepath.Base(script))
		return nil
	case c.Bool("dry-run"):
		download.DryRun(os.Stdout, items)
		return nil
	}
	switch mode := c.String("progress"); {
	case mode == "bars" || mode == "auto" && isTerminal(os.Stdout):
		opt.Progress = download.Bars(os.Stdout)
	case mode == "lines" || mode == "auto":
		opt.Progress = download.Lines(os.Stdout)
	case mode == "none":
	default:
		return cli.Exit("--progress must be auto, bars, lines or none", 2)
	}
	results := download.Run(ctx, items, opt)
	manifest := filepath.Join(dest, download.ManifestName)
	if err := download.WriteManifest(manifest, results, cfg.Token); err != nil {
		return cli.Exit("writing the manifest: "+err.Error(), 1)
	}
	failed := 0
	for _, r := range results {
		if r.Status == download.Error {
			failed++
		}
	}
	fmt.Printf("manifest: %s\n", manifest)
	if failed > 0 {
		return cli.Exit(fmt.Sprintf("%d of %d product(s) failed (see %s)", failed, len(results), manifest), 1)
	}
	return nil
}

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
