package fs

// The cloud side of a query directory (contract §3).
//
//   - Q/.cloud-uris.txt: "s3://<bucket>/<key>" of each listed product held in
//     the cloud, one per line, in listing order. "Held" means what astroquery's
//     get_cloud_uris means: MAST's path_lookup places the product and a HEAD
//     finds the object. Reading it resolves the listing through the
//     CloudLocator (path_lookup batches of 40, HEADs in parallel); the
//     locator learns each answer once per mount. Without a locator (--cloud
//     off) the file is empty.
//   - Q/.curl.sh: a POSIX sh script that downloads the listed products from
//     the MAST download service into
//     mastDownload/<obs_collection>/<obs_id>/<basename(productFilename)>
//     (the product row's obs_collection and obs_id, as astroquery's
//     download_products). It needs only curl. The token is never written
//     into it: the script reads $MAST_API_TOKEN when it runs and hands the
//     header to curl on its standard input (-H @-), so it does not show in
//     ps either. Each file is tried; the exit status is 1 if any failed.
//     Two products that would land on one path get the suffix of file
//     names in a query directory (`<stem>~<sha1(dataURI)[:8]><ext>`).
//   - xattr user.mast.cloud_uri on product files: listxattr never makes a
//     request (ls -l, cp -a and rsync -X call it for every file), so it
//     names the attribute only once the locator knows the product is held
//     in the cloud (after .cloud-uris.txt was read, a getxattr of the name,
//     or a read from S3). getxattr of exactly that name resolves the one
//     product when it is not known yet (one path_lookup, one HEAD, then
//     learned), and answers ENODATA when the product is not in the cloud,
//     so `getfattr -n user.mast.cloud_uri FILE` always answers. Without a
//     locator the attribute never exists.

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"log/slog"
	"path"
	"strings"
	"syscall"
)

// CloudLocator tells which products the public bucket holds. Package
// cloud's *Locator satisfies it.
type CloudLocator interface {
	// Locate returns the bucket key of each of uris held in the cloud
	// (placed by path_lookup and confirmed by HEAD); the others are absent.
	Locate(ctx context.Context, uris []string) (map[string]string, error)
	// Cached answers from what is already known, without any request;
	// known is false when uri has not been resolved.
	Cached(uri string) (key string, found, known bool)
}

// defaultCloudBucket is the bucket of MAST's public data on AWS.
const defaultCloudBucket = "stpubdata"

// cloudURIXattr is the product xattr with the product's s3:// URI.
const cloudURIXattr = "user.mast.cloud_uri"

// cloudState is the mount's view of the cloud; loc is nil when it is off.
type cloudState struct {
	loc    CloudLocator
	bucket string
}

func newCloudState(loc CloudLocator, bucket string) cloudState {
	if bucket == "" {
		bucket = defaultCloudBucket
	}
	return cloudState{loc: loc, bucket: bucket}
}

func (c cloudState) s3URI(key string) string { return "s3://" + c.bucket + "/" + key }

// addXattr adds user.mast.cloud_uri to out when the locator already knows
// the product is in the cloud. It makes no request.
func (c cloudState) addXattr(out map[string]string, uri string) {
	if c.loc == nil {
		return
	}
	if key, found, known := c.loc.Cached(uri); known && found {
		out[cloudURIXattr] = c.s3URI(key)
	}
}

// resolveXattr makes the locator learn uri before a getxattr of
// user.mast.cloud_uri answers; any other name costs nothing.
func (c cloudState) resolveXattr(ctx context.Context, log *slog.Logger, attr, uri string) syscall.Errno {
	if attr != cloudURIXattr || c.loc == nil {
		return 0
	}
	if _, _, known := c.loc.Cached(uri); known {
		return 0
	}
	if _, err := c.loc.Locate(ctx, []string{uri}); err != nil {
		log.Warn("locating product in the cloud failed", "uri", uri, "err", err)
		return toErrno(err)
	}
	return 0
}

// listedFiles is the listing behind a generated file that covers the
// listed products.
func (d *queryDir) listedFiles(ctx context.Context) ([]*product, error) {
	if err := d.spec.Runnable(); err != nil {
		return nil, err
	}
	l, err := d.m.runner.listing(ctx, d.spec)
	if err != nil {
		return nil, err
	}
	if l.TooMany {
		return nil, fmt.Errorf("%w: %d observations, limit %d (no products are listed here)", errTooMany, l.Count, l.Limit)
	}
	return l.Files, nil
}

// cloudURIsFile is .cloud-uris.txt.
func (d *queryDir) cloudURIsFile(ctx context.Context) ([]byte, error) {
	c := d.m.cloud
	if c.loc == nil {
		return []byte{}, nil
	}
	files, err := d.listedFiles(ctx)
	if err != nil {
		return nil, err
	}
	uris := make([]string, len(files))
	for i, p := range files {
		uris[i] = p.URI
	}
	keys, err := c.loc.Locate(ctx, uris)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	for _, p := range files {
		if key, ok := keys[p.URI]; ok {
			b.WriteString(c.s3URI(key))
			b.WriteByte('\n')
		}
	}
	return b.Bytes(), nil
}

// curlScriptFunc is the script's helper: the token, when set, goes to curl
// on its standard input, never on a command line.
const curlScriptFunc = `mast_get() {
	if [ -n "${MAST_API_TOKEN:-}" ]; then
		printf 'Authorization: token %s\n' "$MAST_API_TOKEN" |
			curl -H @- --globoff --location-trusted -f --progress-bar --create-dirs --output "$1" "$2"
	else
		curl --globoff --location-trusted -f --progress-bar --create-dirs --output "$1" "$2"
	fi
}
`

// curlScript is .curl.sh.
func (d *queryDir) curlScript(ctx context.Context) ([]byte, error) {
	files, err := d.listedFiles(ctx)
	if err != nil {
		return nil, err
	}
	urls := make([]string, len(files))
	for i, p := range files {
		urls[i] = d.m.downloadURL(p.URI)
	}
	return CurlScript(d.spec.Key(), downloadPaths(files), urls), nil
}

// CurlScript renders a download script (.curl.sh, and `mastfs download
// --curl`): one mast_get per target (a path relative to the directory the
// script runs in) from the URL of the same index. title goes in a comment.
func CurlScript(title string, targets, urls []string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "#!/bin/sh\n#\n# mastfs download script: %d file(s) of %s\n", len(targets), commentSafe(title))
	b.WriteString("# Files go to ./mastDownload/<obs_collection>/<obs_id>/<file>, as\n" +
		"# astroquery's Observations.download_products puts them. Set MAST_API_TOKEN\n" +
		"# for exclusive-access files; it is read when the script runs.\n#\n\n")
	b.WriteString(curlScriptFunc)
	b.WriteString("\nstatus=0\n")
	for i, target := range targets {
		fmt.Fprintf(&b, "mast_get %s %s || status=1\n", shellQuote(target), shellQuote(urls[i]))
	}
	b.WriteString("exit $status\n")
	return b.Bytes()
}

// downloadPaths are the script's output paths of files, in order:
// mastDownload/<obs_collection>/<obs_id>/<basename(productFilename)>, with
// colliding paths told apart as colliding file names are.
func downloadPaths(files []*product) []string {
	items := make([]Product, len(files))
	for i, p := range files {
		coll, obsID := p.Row.Str("obs_collection"), p.Row.Str("obs_id")
		if coll == "" && p.ObsRow != nil {
			coll = p.ObsRow.Str("obs_collection")
		}
		if obsID == "" && p.ObsRow != nil {
			obsID = p.ObsRow.Str("obs_id")
		}
		items[i] = Product{URI: p.URI, ObsCollection: coll, ObsID: obsID, Filename: p.Row.Str("productFilename")}
	}
	return DownloadPaths(items, false)
}

// DownloadPaths are the relative output paths of products, in order, as
// astroquery's download_products lays them out:
// mastDownload/<obs_collection>/<obs_id>/<basename(productFilename)>, or
// just the file name when flat. Each component is made safe (no "/", "..",
// or empty name); two products that would land on one path get the suffix
// of colliding names in a query directory (<stem>~<sha1(dataURI)[:8]><ext>).
func DownloadPaths(products []Product, flat bool) []string {
	out := make([]string, len(products))
	count := map[string]int{}
	for i, p := range products {
		name := p.Filename
		if i := strings.LastIndexByte(name, '/'); i >= 0 {
			name = name[i+1:] // os.path.basename on POSIX
		}
		if !safeComponent(name) {
			name = path.Base(p.URI)
		}
		if flat {
			out[i] = component(name)
		} else {
			out[i] = "mastDownload/" + component(p.ObsCollection) + "/" + component(p.ObsID) + "/" + component(name)
		}
		count[out[i]]++
	}
	for i, p := range products {
		if count[out[i]] < 2 {
			continue
		}
		dir, base := path.Split(out[i])
		sum := sha1.Sum([]byte(p.URI))
		stem, ext := base, ""
		if dot := strings.Index(base, "."); dot > 0 {
			stem, ext = base[:dot], base[dot:]
		}
		out[i] = dir + stem + "~" + hex.EncodeToString(sum[:])[:8] + ext
	}
	return out
}

// safeComponent reports whether s is usable as one path component.
func safeComponent(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\x00")
}

// component makes an archive value one safe path component: never empty,
// "." or "..", and without "/" (which would climb out of mastDownload).
func component(s string) string {
	s = strings.NewReplacer("/", "_", "\x00", "_").Replace(s)
	if s == "" || s == "." || s == ".." {
		return "_"
	}
	return s
}

// shellQuote quotes s for sh: in single quotes, each quote closed, escaped and reopened.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// commentSafe keeps a shell comment on one line.
func commentSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}
