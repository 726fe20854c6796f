package mastemu

import (
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Field is one column of a MAST response: its name and the type string MAST
// declares for it ("string", "float", "int", "boolean").
type Field struct {
	Name string
	Type string
}

// ProductFields is the column list of every Mast.Caom.Products row, in the
// order the emulator serves them (the CAOM product columns of the live archive).
var ProductFields = []Field{
	{"obsID", "string"}, {"obs_collection", "string"}, {"dataproduct_type", "string"},
	{"obs_id", "string"}, {"description", "string"}, {"type", "string"},
	{"dataURI", "string"}, {"productType", "string"}, {"productGroupDescription", "string"},
	{"productSubGroupDescription", "string"}, {"productDocumentationURL", "string"},
	{"project", "string"}, {"prvversion", "string"}, {"proposal_id", "string"},
	{"productFilename", "string"}, {"size", "int"}, {"parent_obsid", "string"},
	{"dataRights", "string"}, {"calib_level", "int"}, {"filters", "string"},
}

// MRP is the productGroupDescription of "Minimum Recommended Products".
const MRP = "Minimum Recommended Products"

// ProductInfo describes one product as the download endpoints see it.
type ProductInfo struct {
	DataURI  string
	Filename string // productFilename
	// OwnerObsID is the obsid ("Product Group ID") of the observation the
	// product belongs to; a product shared with other observations is listed
	// under their obsids too, with parent_obsid = OwnerObsID.
	OwnerObsID    string
	ObsCollection string
	ObsID         string // obs_id (mission identifier) of the owner
	ProductType   string
	Group         string // productGroupDescription
	// Size is the catalog size in bytes; -1 when the catalog has null (a
	// dynamic product, served without Content-Length).
	Size int64
	// Length is the number of bytes the download endpoint serves; equal to
	// Size except for dynamic products.
	Length    int64
	Dynamic   bool
	Exclusive bool   // dataRights EXCLUSIVE_ACCESS: needs the token
	CloudKey  string // S3 key in the public bucket, "" when not held in the cloud
}

// product is the internal form of one product. Generated products are
// synthesised on demand from the observation, so a catalog of 10^6 products
// costs nothing until it is listed.
type product struct {
	owner       int // observation index
	uri         string
	filename    string
	typ         string // "type" column: S simple, C composite
	productType string
	group       string
	subgroup    string
	description string
	calib       int
	size        int64 // -1: null
	length      int64
	rights      string
	cloudKey    string
	docURL      any
	prvversion  any
	kind        contentKind
	// extra holds caller-supplied columns of AddProduct, served as given.
	extra map[string]any
	// file, when set, holds the bytes (AddFileProduct) instead of the
	// generated content.
	file io.ReaderAt
}

func (p *product) info(c *Catalog) ProductInfo {
	o := c.rows[p.owner]
	return ProductInfo{
		DataURI:       p.uri,
		Filename:      p.filename,
		OwnerObsID:    c.obsidString(p.owner),
		ObsCollection: str(o[c.col("obs_collection")]),
		ObsID:         str(o[c.col("obs_id")]),
		ProductType:   p.productType,
		Group:         p.group,
		Size:          p.size,
		Length:        p.length,
		Dynamic:       p.size < 0,
		Exclusive:     p.rights == rightsExclusive,
		CloudKey:      p.cloudKey,
	}
}

const (
	rightsPublic    = "PUBLIC"
	rightsExclusive = "EXCLUSIVE_ACCESS"
)

// Catalog is the archive content the emulator serves: observations (CAOM
// rows), their products, the missions list and the names the resolver knows.
// It is safe for concurrent use; AddProduct may run while a Server serves it.
type Catalog struct {
	fields   []Field
	colIdx   map[string]int // lower-case column name -> index into a row
	rows     [][]any
	obsidIdx map[int64]int
	obsIDIdx map[string]int // lower-case obs_id -> index

	seed           int64
	productsPerObs int
	// synth builds the products of observation i; recorded observations may
	// instead have a fixed list in fixed.
	synth func(c *Catalog, i int) []listed
	fixed map[int][]listed
	// collide marks observations that get a proposal summary file whose name
	// is the same for every observation of the proposal.
	collide []bool

	byURI map[string]*product // fixed products by data URI (immutable)

	missionsExtjs []byte // nil: built from the observations
	names         []resolved

	mu       sync.RWMutex
	added    map[int][]listed
	addedURI map[string]*product

	crcMu sync.Mutex
	crcs  map[string]uint32 // gzip CRC of .fits.gz payloads, computed once
}

// listed is one row of a product listing: a product as listed under the
// observation with index obs (obs != p.owner for shared products).
type listed struct {
	obs int
	p   *product
}

func (c *Catalog) col(name string) int {
	i, ok := c.colIdx[strings.ToLower(name)]
	if !ok {
		return -1
	}
	return i
}

// value returns column name of observation i, nil when absent.
func (c *Catalog) value(i int, name string) any {
	j := c.col(name)
	if j < 0 {
		return nil
	}
	return c.rows[i][j]
}

func (c *Catalog) obsid(i int) int64 {
	v, _ := c.rows[i][c.col("obsid")].(int64)
	return v
}

func (c *Catalog) obsidString(i int) string { return strconv.FormatInt(c.obsid(i), 10) }

func (c *Catalog) index() {
	c.colIdx = make(map[string]int, len(c.fields))
	for i, f := range c.fields {
		c.colIdx[strings.ToLower(f.Name)] = i
	}
	c.obsidIdx = make(map[int64]int, len(c.rows))
	c.obsIDIdx = make(map[string]int, len(c.rows))
	oid := c.col("obs_id")
	for i := range c.rows {
		c.obsidIdx[c.obsid(i)] = i
		c.obsIDIdx[strings.ToLower(str(c.rows[i][oid]))] = i
	}
}

// Fields returns the observation columns in response order (without the
// computed distance/objID1 columns of positional queries and without _selected_).
func (c *Catalog) Fields() []Field { return append([]Field(nil), c.fields...) }

// Len returns the number of observations.
func (c *Catalog) Len() int { return len(c.rows) }

// Observations returns every observation as a map keyed by column name.
// Values are string, float64, int64, bool or nil (JSON null). obsid and
// objID are int64 although MAST declares them "string".
func (c *Catalog) Observations() []map[string]any {
	out := make([]map[string]any, len(c.rows))
	for i := range c.rows {
		out[i] = c.obsMap(i)
	}
	return out
}

// Observation returns one observation by obsid.
func (c *Catalog) Observation(obsid string) (map[string]any, bool) {
	i, ok := c.lookupObsid(obsid)
	if !ok {
		return nil, false
	}
	return c.obsMap(i), true
}

func (c *Catalog) obsMap(i int) map[string]any {
	m := make(map[string]any, len(c.fields))
	for j, f := range c.fields {
		m[f.Name] = c.rows[i][j]
	}
	return m
}

func (c *Catalog) lookupObsid(s string) (int, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, false
	}
	i, ok := c.obsidIdx[n]
	return i, ok
}

// listing returns the product rows of observation i.
func (c *Catalog) listing(i int) []listed {
	var l []listed
	if f, ok := c.fixed[i]; ok {
		l = f
	} else if c.synth != nil {
		l = c.synth(c, i)
	}
	c.mu.RLock()
	if a := c.added[i]; len(a) > 0 {
		l = append(append([]listed(nil), l...), a...)
	}
	c.mu.RUnlock()
	return l
}

// ProductsFor returns the product rows the server gives for one obsid, in
// server order, keyed by the ProductFields column names. Unknown obsids give nil.
func (c *Catalog) ProductsFor(obsid string) []map[string]any {
	i, ok := c.lookupObsid(obsid)
	if !ok {
		return nil
	}
	l := c.listing(i)
	out := make([]map[string]any, len(l))
	for k, x := range l {
		row := c.productRow(x)
		m := make(map[string]any, len(ProductFields))
		for j, f := range ProductFields {
			m[f.Name] = row[j]
		}
		out[k] = m
	}
	return out
}

// productRow renders a listed product in ProductFields order.
func (c *Catalog) productRow(x listed) []any {
	p := x.p
	owner := c.rows[p.owner]
	size := any(p.size)
	if p.size < 0 {
		size = nil
	}
	row := []any{
		c.obsid(x.obs), owner[c.col("obs_collection")], owner[c.col("dataproduct_type")],
		owner[c.col("obs_id")], p.description, p.typ,
		p.uri, p.productType, nullIfEmpty(p.group),
		nullIfEmpty(p.subgroup), p.docURL,
		owner[c.col("project")], p.prvversion, owner[c.col("proposal_id")],
		p.filename, size, c.obsid(p.owner),
		p.rights, int64(p.calib), owner[c.col("filters")],
	}
	for k, v := range p.extra {
		for j, f := range ProductFields {
			if f.Name == k {
				row[j] = v
			}
		}
	}
	return row
}

// Product finds a product by its data URI.
func (c *Catalog) Product(dataURI string) (ProductInfo, bool) {
	p := c.product(dataURI)
	if p == nil {
		return ProductInfo{}, false
	}
	return p.info(c), true
}

func (c *Catalog) product(uri string) *product {
	if p := c.byURI[uri]; p != nil {
		return p
	}
	c.mu.RLock()
	p := c.addedURI[uri]
	c.mu.RUnlock()
	if p != nil {
		return p
	}
	for _, id := range uriObsIDCandidates(uri) {
		i, ok := c.obsIDIdx[id]
		if !ok {
			continue
		}
		for _, x := range c.listing(i) {
			if x.p.uri == uri && x.p.owner == i {
				return x.p
			}
		}
	}
	return nil
}

// uriObsIDCandidates returns the lower-case obs_ids a data URI may belong to.
// Every URI the emulator mints names its owner: as the directory above the
// file, or as the file name up to its last "_" (products are <obs_id>_<suffix>).
func uriObsIDCandidates(uri string) []string {
	u := strings.ToLower(uri)
	if i := strings.Index(u, "filename="); i >= 0 {
		u = "x/" + u[i+len("filename="):]
	}
	if i := strings.IndexByte(u, '&'); i >= 0 {
		u = u[:i]
	}
	dir, name := path.Split(u)
	var out []string
	if i := strings.LastIndexByte(name, '_'); i > 0 {
		out = append(out, name[:i])
	}
	if i := strings.IndexByte(name, '.'); i > 0 {
		out = append(out, name[:i])
	}
	out = append(out, path.Base(strings.TrimSuffix(dir, "/")))
	return out
}

// EachProduct calls fn for every product of every observation (shared
// products once per listing observation), stopping when fn returns false.
// It synthesises every product, so it costs about a second per 10^6.
func (c *Catalog) EachProduct(fn func(obsid string, p ProductInfo) bool) {
	for i := range c.rows {
		id := c.obsidString(i)
		for _, x := range c.listing(i) {
			if !fn(id, x.p.info(c)) {
				return
			}
		}
	}
}

// FindProduct returns the first product (in catalog order) for which pred is true.
func (c *Catalog) FindProduct(pred func(ProductInfo) bool) (ProductInfo, bool) {
	var found ProductInfo
	ok := false
	c.EachProduct(func(_ string, p ProductInfo) bool {
		if pred(p) {
			found, ok = p, true
			return false
		}
		return true
	})
	return found, ok
}

// CloudObjects returns every product held in the cloud, S3 key (without a
// leading slash, in bucket stpubdata) -> data URI. Serve the bytes of
// (*Catalog).Open(uri) under each key to emulate the public bucket.
func (c *Catalog) CloudObjects() map[string]string {
	m := map[string]string{}
	c.EachProduct(func(_ string, p ProductInfo) bool {
		if p.CloudKey != "" {
			m[p.CloudKey] = p.DataURI
		}
		return true
	})
	return m
}

// ProposalCount is one proposal and how many observations it has.
type ProposalCount struct {
	ProposalID string
	N          int
}

// Proposals returns the proposals of one obs_collection (case-insensitive;
// "" for all), busiest first (ties by proposal id).
func (c *Catalog) Proposals(collection string) []ProposalCount {
	counts := map[string]int{}
	pc, cc := c.col("proposal_id"), c.col("obs_collection")
	for _, r := range c.rows {
		if collection != "" && !strings.EqualFold(str(r[cc]), collection) {
			continue
		}
		if id := str(r[pc]); id != "" {
			counts[id]++
		}
	}
	out := make([]ProposalCount, 0, len(counts))
	for id, n := range counts {
		out = append(out, ProposalCount{id, n})
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].N != out[b].N {
			return out[a].N > out[b].N
		}
		return out[a].ProposalID < out[b].ProposalID
	})
	return out
}

// BusiestProposal returns the proposal of a collection with the most
// observations, e.g. BusiestProposal("HST").
func (c *Catalog) BusiestProposal(collection string) (proposalID string, nObs int) {
	p := c.Proposals(collection)
	if len(p) == 0 {
		return "", 0
	}
	return p[0].ProposalID, p[0].N
}

// Missions returns the mission names list_missions reports, in server order.
func (c *Catalog) Missions() []string {
	if c.missionsExtjs != nil {
		return append([]string(nil), recordedMissions()...)
	}
	_, order := c.histogram("obs_collection")
	return order
}

// AddProduct adds a product to the observation with the given obsid, e.g. a
// 100 MiB FITS file for streaming tests. Columns not given are taken from the
// observation; "dataURI" is required, "size" may be nil for a dynamic product
// (then "length", an int, sets how many bytes are served; default 1 MiB).
// The content follows the file extension like any other product.
func (c *Catalog) AddProduct(obsid string, cols map[string]any) (ProductInfo, error) {
	return c.addProduct(obsid, cols, nil)
}

// AddFileProduct adds a product like AddProduct whose bytes are those of a
// local file, e.g. a real multi-HDU FITS file for benchmarks. The size is
// the file's (a "size" column is ignored); the file is opened now and kept
// open for the life of the catalog, and must not change meanwhile (a read
// past its end is an error). The productFilename defaults to the base name
// of the dataURI, as for AddProduct.
func (c *Catalog) AddFileProduct(obsid string, cols map[string]any, path string) (ProductInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return ProductInfo{}, fmt.Errorf("mastemu: %w", err)
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		f.Close()
		if err == nil {
			err = fmt.Errorf("%s is not a regular file", path)
		}
		return ProductInfo{}, fmt.Errorf("mastemu: %w", err)
	}
	cc := make(map[string]any, len(cols)+1)
	for k, v := range cols {
		cc[k] = v
	}
	cc["size"] = st.Size()
	delete(cc, "length")
	info, err := c.addProduct(obsid, cc, f)
	if err != nil {
		f.Close()
	}
	return info, err
}

func (c *Catalog) addProduct(obsid string, cols map[string]any, file io.ReaderAt) (ProductInfo, error) {
	i, ok := c.lookupObsid(obsid)
	if !ok {
		return ProductInfo{}, fmt.Errorf("mastemu: no observation with obsid %q", obsid)
	}
	uri, _ := cols["dataURI"].(string)
	if uri == "" {
		return ProductInfo{}, fmt.Errorf("mastemu: AddProduct needs a dataURI")
	}
	if c.product(uri) != nil {
		return ProductInfo{}, fmt.Errorf("mastemu: product %q already exists", uri)
	}
	p := &product{
		owner: i, uri: uri, typ: "S", productType: "SCIENCE", calib: 2,
		rights: rightsPublic, size: 2880 * 2, extra: map[string]any{},
	}
	if v := str(c.value(i, "dataRights")); v != "" {
		p.rights = v
	}
	p.filename = path.Base(uri)
	if j := strings.Index(uri, "filename="); j >= 0 {
		p.filename = uri[j+len("filename="):]
	}
	for k, v := range cols {
		switch k {
		case "dataURI":
		case "productFilename":
			p.filename = str(v)
		case "productType":
			p.productType = str(v)
		case "productGroupDescription":
			p.group = str(v)
		case "productSubGroupDescription":
			p.subgroup = str(v)
		case "description":
			p.description = str(v)
		case "type":
			p.typ = str(v)
		case "dataRights":
			p.rights = str(v)
		case "calib_level":
			n, _ := toFloat(v)
			p.calib = int(n)
		case "size":
			if v == nil {
				p.size = -1
			} else if n, ok := toFloat(v); ok {
				p.size = int64(n)
			}
		case "length":
			if n, ok := toFloat(v); ok {
				p.length = int64(n)
			}
		case "cloudKey":
			p.cloudKey = strings.TrimPrefix(str(v), "/")
		default:
			p.extra[k] = v
		}
	}
	if p.size >= 0 {
		p.length = p.size
	} else if p.length <= 0 {
		p.length = 1 << 20
	}
	p.kind = kindOf(p.filename)
	p.file = file
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.added == nil {
		c.added = map[int][]listed{}
		c.addedURI = map[string]*product{}
	}
	c.added[i] = append(c.added[i], listed{i, p})
	c.addedURI[uri] = p
	return p.info(c), nil
}

// Open returns the bytes the download endpoint serves for a product, as a
// seekable reader generated on the fly (nothing is materialised), and its length.
func (c *Catalog) Open(dataURI string) (*io.SectionReader, bool) {
	p := c.product(dataURI)
	if p == nil {
		return nil, false
	}
	return io.NewSectionReader(&contentReader{c: c, p: p}, 0, p.length), true
}

// str renders a value as MAST text: strings as is, integers in decimal,
// floats in shortest form, null as "".
func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return strconv.FormatInt(int64(x), 10)
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		if x {
			return "true"
		}
		return "false"
	}
	return fmt.Sprint(v)
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil
	}
	return 0, false
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
