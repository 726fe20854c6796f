package fs

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"log/slog"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/mastfs/mastfs/mast"
)

// Archive is what the filesystem needs of the MAST client. It is defined here,
// by its consumer, so that tests can substitute it and mast stays FUSE-free.
type Archive interface {
	BuildFilters(ctx context.Context, crits []mast.Criterion) ([]mast.Filter, error)
	ObservationsLimit(ctx context.Context, q mast.Query, limit int) (*mast.Table, int64, error)
	Observations(ctx context.Context, q mast.Query) (*mast.Table, error)
	Count(ctx context.Context, q mast.Query) (int64, error)
	Products(ctx context.Context, obsids []string) (*mast.Table, error)
	Resolve(ctx context.Context, name, resolver string) (ra, dec float64, err error)
	ColumnsConfig(ctx context.Context, service string) (*mast.ColumnConfig, error)
	Missions(ctx context.Context) ([]string, error)
}

// product is one file of a listing. It is immutable once built.
type product struct {
	Name    string // file name in this directory (collisions resolved)
	URI     string // dataURI
	Size    int64  // -1 when the archive gave none
	Mtime   time.Time
	Row     mast.Row
	Columns []mast.Field
	ObsRow  mast.Row
}

// ino is the product's stable inode number: the same product (dataURI and
// size) is the same inode on every path.
func (p *product) ino() uint64 { return identityIno("product", p.URI, fmt.Sprint(p.Size)) }

// identityIno hashes an identity into the inode space below go-fuse's
// automatic numbers (which start at 2^63).
func identityIno(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	ino := h.Sum64() &^ (1 << 63)
	if ino < 2 {
		ino += 2
	}
	return ino
}

// listing is the evaluated content of one query directory.
type listing struct {
	Observations *mast.Table
	Products     *mast.Table // unique, filtered, in archive order
	Files        []*product  // same order as Products
	byName       map[string]*product
	// TooMany is set when the observation count exceeds the limit; then
	// Observations, Products and Files are empty and Count is the total.
	TooMany bool
	Count   int64
	Limit   int
}

func (l *listing) lookup(name string) *product { return l.byName[name] }

// mjdEpoch is MJD of 1970-01-01.
const mjdEpoch = 40587.0

func mjdToTime(mjd float64) time.Time {
	sec := (mjd - mjdEpoch) * 86400
	return time.Unix(0, int64(sec*1e9)).UTC()
}

// buildFiles turns unique products into files with deterministic names.
func buildFiles(obs, prods *mast.Table) []*product {
	obsByID := map[string]mast.Row{}
	if obs != nil {
		for _, r := range obs.Rows {
			obsByID[r.Str("obsid")] = r
		}
	}
	files := make([]*product, 0, len(prods.Rows))
	for _, r := range prods.Rows {
		p := &product{URI: r.Str("dataURI"), Size: -1, Row: r, Columns: prods.Fields}
		if sz, ok := r.Int("size"); ok && sz > 0 {
			p.Size = sz
		}
		p.ObsRow = obsByID[r.Str("obsID")]
		if p.ObsRow == nil {
			p.ObsRow = obsByID[r.Str("parent_obsid")]
		}
		if p.ObsRow != nil {
			if mjd, ok := p.ObsRow.Float("t_obs_release"); ok && mjd > 0 {
				p.Mtime = mjdToTime(mjd)
			}
		}
		files = append(files, p)
	}
	assignNames(files)
	return files
}

// assignNames gives each product its file name. Products whose base names
// collide (different dataURIs, same productFilename) all get a suffix made of
// the dataURI's hash: `<stem>~<sha1(dataURI)[:8]><ext>`, where ext starts at
// the first dot. Suffixing all of them, not all but the first, keeps names
// independent of the archive's row order.
func assignNames(files []*product) {
	count := map[string]int{}
	base := make([]string, len(files))
	long := make([]bool, len(files))
	for i, p := range files {
		b := usableBase(p.Row.Str("productFilename"))
		if b == "" {
			b = usableBase(p.URI)
		}
		if b == "" || strings.HasPrefix(b, ".") || reservedName(b) {
			b = "product" + b
		}
		// A name the kernel would refuse (over 255 bytes) is cut, and
		// always suffixed so that two long names cut alike stay apart.
		long[i] = len(b) > maxNameBytes
		base[i] = b
		count[b]++
	}
	for i, p := range files {
		b := base[i]
		if count[b] > 1 || long[i] {
			sum := sha1.Sum([]byte(p.URI))
			stem, ext := b, ""
			if dot := strings.Index(b, "."); dot > 0 && len(b)-dot <= maxExtBytes {
				stem, ext = b[:dot], b[dot:]
			}
			suffix := "~" + hex.EncodeToString(sum[:])[:8] + ext
			if room := maxNameBytes - len(suffix); len(stem) > room {
				stem = strings.ToValidUTF8(stem[:room], "")
			}
			b = stem + suffix
		}
		p.Name = b
	}
}

// Limits of a file name: the kernel's NAME_MAX, and the longest extension
// kept whole when a name must be cut.
const (
	maxNameBytes = 255
	maxExtBytes  = 32
)

// usableBase is the last path component of s as a file name, "" when there
// is none. NUL (which no file name may hold) and control characters become
// '_', so a hostile archive value cannot make a name a tool chokes on.
func usableBase(s string) string {
	b := path.Base(strings.ReplaceAll(s, "\\", "/"))
	if b == "." || b == ".." || b == "/" {
		return ""
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '_'
		}
		return r
	}, b)
}

func reservedName(name string) bool {
	return name == tooManyName
}

const tooManyName = "TOO_MANY_OBSERVATIONS.txt"

// queryRunner evaluates query specs and caches their results.
type queryRunner struct {
	archive Archive
	maxObs  int
	log     *slog.Logger
	// only, when set (--cloud only), hides products it does not place in
	// the bucket (cloudOnly).
	only CloudLocator

	// bases holds observation + product tables per query (QueryKey), so
	// directories that differ only in @ filters share one archive query.
	bases    *flightCache[*baseResult]
	listings *flightCache[*listing]
	names    *flightCache[[2]float64]
}

// baseResult is an observation query and its full product list.
type baseResult struct {
	Observations *mast.Table
	Products     *mast.Table
	Count        int64
	TooMany      bool
}

func newQueryRunner(a Archive, ttl time.Duration, maxObs int, log *slog.Logger) *queryRunner {
	return &queryRunner{archive: a, maxObs: maxObs, log: log,
		bases:    newFlightCache[*baseResult](ttl, 10*time.Minute),
		listings: newFlightCache[*listing](ttl, 10*time.Minute),
		names:    newFlightCache[[2]float64](time.Hour, 2*time.Minute),
	}
}

// cached returns the listing of spec if it is cached and fresh, without running anything.
func (r *queryRunner) cached(spec QuerySpec) *listing {
	l, _ := r.listings.peek(spec.Key())
	return l
}

// Drop forgets every cached listing and resolved name.
func (r *queryRunner) Drop() {
	r.bases.clear()
	r.listings.clear()
	r.names.clear()
}

// listing returns the listing of spec, running it at most once per TTL
// however many callers ask at the same time.
func (r *queryRunner) listing(ctx context.Context, spec QuerySpec) (*listing, error) {
	l, err := r.listings.get(ctx, spec.Key(), func(ctx context.Context) (*listing, error) {
		b, err := r.bases.get(ctx, spec.QueryKey(), func(ctx context.Context) (*baseResult, error) {
			return r.runBase(ctx, spec)
		})
		if err != nil {
			return nil, err
		}
		return r.filter(ctx, b, spec)
	})
	if err != nil && ctx.Err() == nil {
		r.log.Warn("query failed", "path", spec.Key(), "err", err)
	}
	return l, err
}

// resolve turns an object name into a position once per hour.
func (r *queryRunner) resolve(ctx context.Context, name, resolver string) (float64, float64, error) {
	key := strings.ToLower(name) + "\x00" + strings.ToUpper(resolver)
	v, err := r.names.get(ctx, key, func(ctx context.Context) ([2]float64, error) {
		ra, dec, err := r.archive.Resolve(ctx, name, resolver)
		return [2]float64{ra, dec}, err
	})
	return v[0], v[1], err
}

// query turns a spec into a MAST query, resolving an object name through
// the name cache.
func (r *queryRunner) query(ctx context.Context, spec QuerySpec) (mast.Query, error) {
	return spec.ObservationQuery(func(name, resolver string) (float64, float64, error) {
		return r.resolve(ctx, name, resolver)
	})
}

func (r *queryRunner) runBase(ctx context.Context, spec QuerySpec) (*baseResult, error) {
	b := &baseResult{Observations: &mast.Table{}, Products: &mast.Table{}}
	var obsids []string
	if ids, ok := spec.ObsIDs(); ok {
		obsids = ids
		// The observation rows give mtimes and .observations.csv.
		obs, err := r.archive.Observations(ctx, mast.Query{Criteria: []mast.Criterion{obsidCriterion(ids)}})
		if err != nil {
			return nil, err
		}
		b.Observations = obs
	} else {
		q, err := r.query(ctx, spec)
		if err != nil {
			return nil, err
		}
		t, total, err := r.archive.ObservationsLimit(ctx, q, r.maxObs)
		if err != nil {
			return nil, err
		}
		b.Count = total
		if r.maxObs > 0 && total > int64(r.maxObs) {
			b.TooMany = true
			return b, nil
		}
		b.Observations = t
		seen := map[string]bool{}
		for _, row := range t.Rows {
			id := row.Str("obsid")
			if id != "" && !seen[id] {
				seen[id] = true
				obsids = append(obsids, id)
			}
		}
	}
	if len(obsids) > 0 {
		prods, err := r.archive.Products(ctx, obsids)
		if err != nil {
			return nil, err
		}
		b.Products = prods
	}
	if _, ok := spec.ObsIDs(); ok {
		b.Count = int64(len(obsids))
	}
	return b, nil
}

// filter applies the spec's @ filters and de-duplicates, in that order (the
// order of astroquery's download_products).
func (r *queryRunner) filter(ctx context.Context, b *baseResult, spec QuerySpec) (*listing, error) {
	l := &listing{Observations: b.Observations, Count: b.Count, TooMany: b.TooMany, Limit: r.maxObs,
		Products: &mast.Table{Fields: b.Products.Fields}, byName: map[string]*product{}}
	if b.TooMany {
		return l, nil
	}
	filtered, err := mast.FilterProducts(b.Products, spec.ProductFilters())
	if err != nil {
		return nil, &SegmentError{Segment: "@", Reason: err.Error()}
	}
	l.Products = mast.UniqueProducts(filtered)
	if r.only != nil {
		if l.Products, err = cloudOnly(ctx, r.only, l.Products); err != nil {
			return nil, err
		}
	}
	l.Files = buildFiles(b.Observations, l.Products)
	for _, f := range l.Files {
		l.byName[f.Name] = f
	}
	return l, nil
}

// cloudOnly keeps the products loc places in the bucket (--cloud only).
// Everything that shows a listing (the directory, .products.csv, .curl.sh,
// .cloud-uris.txt, find) goes through here, so they agree. It costs the
// locator's path_lookup batches and HEADs, once per product and mount.
func cloudOnly(ctx context.Context, loc CloudLocator, prods *mast.Table) (*mast.Table, error) {
	uris := make([]string, 0, len(prods.Rows))
	for _, row := range prods.Rows {
		uris = append(uris, row.Str("dataURI"))
	}
	held, err := loc.Locate(ctx, uris)
	if err != nil {
		return nil, fmt.Errorf("--cloud only: locating products: %w", err)
	}
	out := &mast.Table{Fields: prods.Fields}
	for _, row := range prods.Rows {
		if _, ok := held[row.Str("dataURI")]; ok {
			out.Rows = append(out.Rows, row)
		}
	}
	return out, nil
}

// hidden reports whether --cloud only hides uri (uri/<dataURI>): it is
// not in the bucket. One path_lookup and one HEAD the first time.
func (r *queryRunner) hidden(ctx context.Context, uri string) (bool, error) {
	if r.only == nil {
		return false, nil
	}
	held, err := r.only.Locate(ctx, []string{uri})
	if err != nil {
		return false, fmt.Errorf("--cloud only: locating %s: %w", uri, err)
	}
	_, ok := held[uri]
	return !ok, nil
}

// names returns the file names of a listing, sorted.
func (l *listing) names() []string {
	out := make([]string, 0, len(l.Files))
	for _, f := range l.Files {
		out = append(out, f.Name)
	}
	sort.Strings(out)
	return out
}

// obsidCriterion selects observations by Product Group ID.
func obsidCriterion(ids []string) mast.Criterion {
	c := mast.Criterion{Name: "obsid"}
	for _, id := range ids {
		c.Values = append(c.Values, mast.Value{Text: id})
	}
	return c
}
