// Package download is the engine of `mastfs download`: astroquery's
// Observations.download_products for the products of a query path
// (fs.Evaluate), without FUSE.
//
// # Layout
//
// Files go to DEST/mastDownload/<obs_collection>/<obs_id>/<file>, or
// DEST/<file> when flat, with the paths of fs.DownloadPaths: every
// component sanitised (no "/", "..", or empty name, so nothing lands
// outside DEST) and two products that would land on one path told apart
// with the mount's "<stem>~<sha1(dataURI)[:8]><ext>" rule.
//
// # Resume and skip
//
// Bytes are written to the final name, as astroquery's _download_file does
// (so either tool resumes the other's partial files); there is no ".part"
// file. For a product of known size:
//
//   - a file of exactly that size is complete: no request is made (status
//     COMPLETE, message "already complete");
//   - a shorter file is a partial download: the missing bytes are fetched
//     with ranged reads from its end and appended (a kill -9, then a rerun,
//     fetches only the missing bytes);
//   - a longer file is wrong and is fetched again whole.
//
// A product of unknown size is always fetched whole again.
//
// # Manifest
//
// DEST/manifest.csv has one row per product with the columns of
// astroquery's manifest: Local Path, Status (COMPLETE, ERROR or SKIPPED),
// Message, URL (the product's MAST download URL). The token is never
// written anywhere: error messages are scrubbed of it.
package download

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	mfs "github.com/mastfs/mastfs/fs"
)

// Statuses of a manifest row.
const (
	Complete = "COMPLETE"
	Error    = "ERROR"
	Skipped  = "SKIPPED"
)

// ManifestName is the manifest's file name in DEST.
const ManifestName = "manifest.csv"

// Options configure a download.
type Options struct {
	Dest string // destination directory
	Flat bool   // DEST/<file> instead of DEST/mastDownload/<coll>/<obs_id>/<file>
	Jobs int    // parallel downloads (default 4)
	// ChunkSize is the length of one ranged read (default 1 MiB).
	ChunkSize int
	// Source gives the bytes (the mount's source: S3 first with --cloud auto).
	Source mfs.Source
	// DownloadURL renders a product's MAST download URL (manifest, --curl).
	DownloadURL func(uri string) string
	// Token is scrubbed from every message.
	Token string
	// Progress reports per-file and total progress; nil reports nothing.
	Progress Reporter
	Log      *slog.Logger
}

// Item is one planned product.
type Item struct {
	Product mfs.Product
	Rel     string // path relative to Dest (slash-separated)
	Local   string // Dest joined with Rel
	URL     string
	// Skip, when set, is why the product is not fetched (status SKIPPED),
	// e.g. "Product not found in cloud" with --cloud only.
	Skip string
}

// Result is one manifest row, plus what the run did.
type Result struct {
	Item
	Status  string
	Message string
	From    int64 // offset the download started at (resumed bytes)
	Fetched int64 // bytes fetched in this run
}

// Plan lays out products under opt.Dest.
func Plan(products []mfs.Product, opt Options) []Item {
	rels := mfs.DownloadPaths(products, opt.Flat)
	items := make([]Item, len(products))
	for i, p := range products {
		items[i] = Item{Product: p, Rel: rels[i], Local: filepath.Join(opt.Dest, filepath.FromSlash(rels[i]))}
		if opt.DownloadURL != nil {
			items[i].URL = opt.DownloadURL(p.URI)
		}
	}
	return items
}

// Action is what a run would do with an item, from the local file alone.
type Action struct {
	Kind  string // "fetch", "resume", "skip"
	Have  int64  // bytes already on disk that are kept
	Fetch int64  // bytes to fetch; -1 when unknown
}

// Decide says what to do with it given what is on disk.
func Decide(it Item) Action {
	size := it.Product.Size
	if it.Skip != "" {
		return Action{Kind: "skip"}
	}
	fi, err := os.Stat(it.Local)
	have := int64(0)
	if err == nil && fi.Mode().IsRegular() {
		have = fi.Size()
	}
	switch {
	case size < 0:
		return Action{Kind: "fetch", Fetch: -1}
	case have == size && err == nil:
		return Action{Kind: "skip", Have: have}
	case have > 0 && have < size:
		return Action{Kind: "resume", Have: have, Fetch: size - have}
	default:
		return Action{Kind: "fetch", Fetch: size}
	}
}

// DryRun writes what a run would fetch, one line per product, and a total.
func DryRun(w io.Writer, items []Item) {
	var total int64
	unknown := 0
	for _, it := range items {
		a := Decide(it)
		size := "unknown size"
		if it.Product.Size >= 0 {
			size = fmt.Sprintf("%d bytes", it.Product.Size)
		}
		switch a.Kind {
		case "skip":
			why := "complete"
			if it.Skip != "" {
				why = it.Skip
			}
			fmt.Fprintf(w, "skip    %s (%s, %s)\n", it.Local, size, why)
		case "resume":
			fmt.Fprintf(w, "resume  %s (%s, %d on disk, %d to fetch)\n", it.Local, size, a.Have, a.Fetch)
		default:
			fmt.Fprintf(w, "fetch   %s (%s)\n", it.Local, size)
		}
		if a.Fetch < 0 {
			unknown++
		} else {
			total += a.Fetch
		}
	}
	fmt.Fprintf(w, "%d product(s), %d bytes to fetch", len(items), total)
	if unknown > 0 {
		fmt.Fprintf(w, " plus %d of unknown size", unknown)
	}
	fmt.Fprintln(w)
}

// Run downloads items with opt.Jobs workers and returns one result per
// item, in order. It does not write the manifest (WriteManifest does).
func Run(ctx context.Context, items []Item, opt Options) []Result {
	if opt.Jobs < 1 {
		opt.Jobs = 4
	}
	if opt.ChunkSize <= 0 {
		opt.ChunkSize = 1 << 20
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	rep := opt.Progress
	if rep == nil {
		rep = nopReporter{}
	}
	var total int64
	for _, it := range items {
		if a := Decide(it); a.Fetch > 0 {
			total += a.Fetch
		}
	}
	rep.Start(len(items), total)
	results := make([]Result, len(items))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(opt.Jobs, max(len(items), 1)) {
		wg.Go(func() {
			for i := range next {
				results[i] = fetch(ctx, items[i], opt, rep)
			}
		})
	}
	for i := range items {
		next <- i
	}
	close(next)
	wg.Wait()
	rep.Finish()
	return results
}

// sizedReader is a source that refuses bytes of a product whose length
// changed since it was listed.
type sizedReader interface {
	ReadAtSize(ctx context.Context, uri string, p []byte, off, size int64) (int, error)
}

func fetch(ctx context.Context, it Item, opt Options, rep Reporter) Result {
	r := Result{Item: it}
	a := Decide(it)
	if it.Skip != "" {
		r.Status, r.Message = Skipped, it.Skip
		rep.Done(it, r)
		return r
	}
	if a.Kind == "skip" {
		r.Status, r.Message, r.From = Complete, "already complete", a.Have
		rep.Done(it, r)
		return r
	}
	fail := func(err error) Result {
		r.Status, r.Message = Error, Scrub(err.Error(), opt.Token)
		opt.Log.Warn("download failed", "path", it.Local, "error", r.Message)
		rep.Done(it, r)
		return r
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	if err := os.MkdirAll(filepath.Dir(it.Local), 0o755); err != nil {
		return fail(err)
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if a.Kind == "resume" {
		flags = os.O_WRONLY | os.O_APPEND
		r.From = a.Have
	}
	f, err := os.OpenFile(it.Local, flags, 0o644)
	if err != nil {
		return fail(err)
	}
	bar := rep.File(it, it.Product.Size, r.From)
	var n int64
	if it.Product.Size < 0 {
		n, err = stream(ctx, it, opt, f, bar)
	} else {
		n, err = ranged(ctx, it, opt, f, r.From, bar)
	}
	r.Fetched = n
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		bar.Abort()
		if n == 0 && r.From == 0 {
			os.Remove(it.Local) // nothing was fetched: leave no empty file
		}
		return fail(err)
	}
	r.Status = Complete
	if r.From > 0 {
		r.Message = fmt.Sprintf("resumed at byte %d", r.From)
	}
	bar.Complete()
	rep.Done(it, r)
	return r
}

// ranged appends bytes [off, size) with ranged reads of opt.ChunkSize.
func ranged(ctx context.Context, it Item, opt Options, w io.Writer, off int64, bar FileBar) (int64, error) {
	size := it.Product.Size
	buf := make([]byte, opt.ChunkSize)
	var done int64
	for off < size {
		p := buf[:min(int64(len(buf)), size-off)]
		var n int
		var err error
		if sr, ok := opt.Source.(sizedReader); ok {
			n, err = sr.ReadAtSize(ctx, it.Product.URI, p, off, size)
		} else {
			n, err = opt.Source.ReadAt(ctx, it.Product.URI, p, off)
		}
		if n > 0 {
			if _, werr := w.Write(p[:n]); werr != nil {
				return done, werr
			}
			off += int64(n)
			done += int64(n)
			bar.Add(n)
		}
		if errors.Is(err, io.EOF) {
			if off < size {
				return done, fmt.Errorf("product ended at byte %d of %d", off, size)
			}
			break
		}
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// stream copies a product of unknown size whole.
func stream(ctx context.Context, it Item, opt Options, w io.Writer, bar FileBar) (int64, error) {
	rc, err := opt.Source.Open(ctx, it.Product.URI)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	buf := make([]byte, 256<<10)
	var done int64
	for {
		n, err := rc.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return done, werr
			}
			done += int64(n)
			bar.Add(n)
		}
		if err == io.EOF {
			return done, nil
		}
		if err != nil {
			return done, err
		}
	}
}

// Scrub removes the token from a message.
func Scrub(s, token string) string {
	if token != "" {
		s = strings.ReplaceAll(s, token, "***")
	}
	return s
}

// WriteManifest writes DEST/manifest.csv (Local Path, Status, Message, URL).
func WriteManifest(path string, results []Result, token string) error {
	var b strings.Builder
	w := csv.NewWriter(&b)
	w.Write([]string{"Local Path", "Status", "Message", "URL"})
	for _, r := range results {
		w.Write([]string{r.Local, r.Status, Scrub(r.Message, token), Scrub(r.URL, token)})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// CurlScriptName is astroquery's script name: mastDownload_YYYYmmddHHMMSS.sh.
func CurlScriptName(now time.Time) string {
	return "mastDownload_" + now.Format("20060102150405") + ".sh"
}

// WriteCurl writes the download script of items to DEST/<CurlScriptName>
// and returns its path. The script's paths are relative to DEST: run it
// there (cd DEST && sh mastDownload_....sh).
func WriteCurl(items []Item, title string, opt Options, now time.Time) (string, error) {
	targets := make([]string, len(items))
	urls := make([]string, len(items))
	for i, it := range items {
		targets[i], urls[i] = it.Rel, it.URL
	}
	if err := os.MkdirAll(opt.Dest, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(opt.Dest, CurlScriptName(now))
	return path, os.WriteFile(path, mfs.CurlScript(title, targets, urls), 0o755)
}
