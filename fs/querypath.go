package fs

// The query-path grammar of contract §2, as pure functions: no I/O, no FUSE.
// A query directory is a RootSpec refined by one With per path segment.

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mastfs/mastfs/mast"
)

// Kind is the top-level directory a query path starts in. Its value is the
// directory name.
type Kind string

// The query roots of contract §1.
const (
	KindCriteria Kind = "criteria" // criteria/<seg>/...
	KindRegion   Kind = "region"   // region/<position>/<seg>/...
	KindObject   Kind = "object"   // object/<name>/<seg>/...
	KindMissions Kind = "missions" // missions/<M>/<seg>/... = criteria/obs_collection=<M>/...
	KindObsid    Kind = "obsid"    // obsid/<id>[,<id>...]/@<filter>/...
)

// DefaultRadiusDeg is the cone radius when a position is given without
// radius=, astroquery's default.
const DefaultRadiusDeg = 0.2

// MaxRadiusDeg bounds radius=. A 30° cone is already 7% of the sky; a larger
// value is almost always a unit slip (arcsec read as degrees) and would ask
// MAST for a huge cone.
const MaxRadiusDeg = 30.0

// ErrNoCriterion is why a criteria/ directory with only positional segments
// cannot run (astroquery raises the same for query_criteria).
var ErrNoCriterion = errors.New("at least one non-positional criterion must be supplied")

// SegmentError is a path component the grammar rejects. The FUSE layer
// answers ENOENT and logs Error().
type SegmentError struct {
	Segment string // the path component as given
	Reason  string // why it was rejected, for the log
}

func (e *SegmentError) Error() string {
	return fmt.Sprintf("path segment %q: %s", e.Segment, e.Reason)
}

// QuerySpec is one query directory. It is immutable: With returns a new
// spec, and the accessors return copies, so a spec may be shared between
// nodes and goroutines. The zero value is no query; start with RootSpec.
type QuerySpec struct {
	kind    Kind
	mission string // <M> of missions/<M>/ as given; the query is the obs_collection criterion

	object   string // name to resolve (escapes decoded), "" if none
	resolver string // "NED", "SIMBAD" or ""

	hasCoords bool
	ra, dec   float64 // ICRS degrees, when hasCoords
	radius    float64 // radius= in degrees, 0 when not given

	obsids   []string
	criteria []mast.Criterion     // sorted by lower-cased name
	filters  []mast.ProductFilter // @mrp, @extension, then columns by lower-cased name
}

// RootSpec starts a query at one of the roots. anchor is the path component
// after the root: <position> for region/, <name> for object/, <M> for
// missions/, <ids> for obsid/, and "" for criteria/.
func RootSpec(kind Kind, anchor string) (QuerySpec, error) {
	fail := func(reason string) (QuerySpec, error) {
		return QuerySpec{}, &SegmentError{Segment: anchor, Reason: reason}
	}
	s := QuerySpec{kind: kind}
	switch kind {
	case KindCriteria:
		if anchor != "" {
			return fail("criteria/ has no anchor; the segments are name=value")
		}
		return s, nil
	case KindRegion, KindObject, KindMissions, KindObsid:
	default:
		return QuerySpec{}, &SegmentError{Segment: string(kind),
			Reason: "not a query root (criteria, region, object, missions or obsid)"}
	}
	if reason := segmentTextProblem(anchor); reason != "" {
		return fail(reason)
	}
	switch kind {
	case KindRegion:
		ra, dec, err := ParsePosition(anchor)
		if err != nil {
			return fail(err.Error())
		}
		s.hasCoords, s.ra, s.dec = true, ra, dec
	case KindObject:
		name, reason := parseObjectName(anchor)
		if reason != "" {
			return fail(reason)
		}
		s.object = name
	case KindMissions:
		// missions/<M>/ is criteria/obs_collection=<M>/ to the letter, so
		// the two share one Key and one cache entry.
		vals, reason := parseCriterionValues(anchor)
		if reason != "" {
			return fail(reason)
		}
		s.mission = anchor
		s.criteria = []mast.Criterion{{Name: "obs_collection", Values: vals}}
	case KindObsid:
		ids, err := ParseObsids(anchor)
		if err != nil {
			return fail(err.Error())
		}
		s.obsids = ids
	}
	return s, nil
}

// ParseQueryPath parses a whole query path relative to the mount point, such
// as "criteria/obs_collection=HST/@mrp" (a leading or trailing "/" and empty
// components are ignored). It is what `mastfs explain` needs, and the inverse
// of Key.
func ParseQueryPath(p string) (QuerySpec, error) {
	parts := slices.DeleteFunc(strings.Split(p, "/"), func(s string) bool { return s == "" })
	if len(parts) == 0 {
		return QuerySpec{}, &SegmentError{Segment: p, Reason: "empty path"}
	}
	kind, rest := Kind(parts[0]), parts[1:]
	anchor := ""
	if example, anchored := rootExample[kind]; anchored {
		if len(rest) == 0 {
			return QuerySpec{}, &SegmentError{Segment: parts[0],
				Reason: parts[0] + "/ needs a component after it, e.g. " + example}
		}
		anchor, rest = rest[0], rest[1:]
	}
	s, err := RootSpec(kind, anchor)
	if err != nil {
		return QuerySpec{}, err
	}
	for _, seg := range rest {
		if s, err = s.With(seg); err != nil {
			return QuerySpec{}, err
		}
	}
	return s, nil
}

// rootExample lists the roots that take an anchor component.
var rootExample = map[Kind]string{
	KindRegion:   `region/322.49324 12.16683/`,
	KindObject:   `object/M101/`,
	KindMissions: `missions/HST/`,
	KindObsid:    `obsid/2003738726/`,
}

// Kind is the root the spec started at.
func (s QuerySpec) Kind() Kind { return s.kind }

// Mission is <M> of missions/<M>/, as given.
func (s QuerySpec) Mission() (string, bool) { return s.mission, s.kind == KindMissions }

// ObjectName is the name to resolve (object/<name>/ or objectname=, escapes
// decoded) and the resolver to ask: "NED", "SIMBAD" or "" for the
// resolver's own first answer.
func (s QuerySpec) ObjectName() (name, resolver string, ok bool) {
	return s.object, s.resolver, s.object != ""
}

// Coordinates is the cone centre of region/<position>/ or coordinates=, in
// ICRS degrees.
func (s QuerySpec) Coordinates() (ra, dec float64, ok bool) { return s.ra, s.dec, s.hasCoords }

// HasPosition says the query is a cone: coordinates or an object name.
func (s QuerySpec) HasPosition() bool { return s.hasCoords || s.object != "" }

// RadiusDeg is the cone radius in degrees: radius= or DefaultRadiusDeg.
func (s QuerySpec) RadiusDeg() float64 {
	if s.radius > 0 {
		return s.radius
	}
	return DefaultRadiusDeg
}

// ObsIDs are the Product Group IDs of obsid/<ids>/, deduplicated, in the
// given order.
func (s QuerySpec) ObsIDs() ([]string, bool) {
	return slices.Clone(s.obsids), s.kind == KindObsid
}

// Criteria are the observation criteria, sorted by lower-cased name, each
// name as the user spelled it.
func (s QuerySpec) Criteria() []mast.Criterion {
	out := make([]mast.Criterion, len(s.criteria))
	for i, c := range s.criteria {
		out[i] = mast.Criterion{Name: c.Name, Values: slices.Clone(c.Values)}
	}
	return out
}

// ProductFilters are the @ segments for mast.FilterProducts, in canonical
// order: @mrp, @extension, then columns by lower-cased name.
func (s QuerySpec) ProductFilters() []mast.ProductFilter {
	out := make([]mast.ProductFilter, len(s.filters))
	for i, f := range s.filters {
		out[i] = mast.ProductFilter{MRPOnly: f.MRPOnly, Extensions: slices.Clone(f.Extensions),
			Column: f.Column, Values: slices.Clone(f.Values)}
	}
	return out
}

// With returns the spec refined by one more path segment.
func (s QuerySpec) With(segment string) (QuerySpec, error) {
	fail := func(reason string) (QuerySpec, error) {
		return QuerySpec{}, &SegmentError{Segment: segment, Reason: reason}
	}
	if s.kind == "" {
		return fail("no query root; start with RootSpec")
	}
	seg, err := parseQuerySegment(segment)
	if err != nil {
		return QuerySpec{}, err
	}
	if s.kind == KindObsid && seg.kind != segmentFilter {
		return fail("obsid/ directories take only product filters (@mrp, @extension=..., @<column>=...)")
	}
	// n shares the receiver's slices until one is changed; Insert goes into
	// a clone so that siblings derived from s never share storage.
	n := s
	switch seg.kind {
	case segmentCriterion:
		key := strings.ToLower(seg.criterion.Name)
		i, found := slices.BinarySearchFunc(s.criteria, key, compareCriterionName)
		if found {
			if s.kind == KindMissions && key == "obs_collection" {
				return fail("missions/" + s.mission + "/ already sets obs_collection")
			}
			return fail("criterion " + key + " is already given in this path")
		}
		n.criteria = slices.Insert(slices.Clone(s.criteria), i, seg.criterion)
	case segmentObject:
		switch {
		case s.kind == KindObject:
			return fail("object/<name>/ already names the object")
		case s.object != "":
			return fail("objectname is already given in this path")
		case s.kind == KindRegion:
			return fail("region/<position>/ already gives coordinates; objectname and coordinates cannot be used together")
		case s.hasCoords:
			return fail("objectname and coordinates cannot be used together")
		}
		n.object = seg.text
	case segmentCoordinates:
		switch {
		case s.kind == KindRegion:
			return fail("region/<position>/ already gives the coordinates")
		case s.hasCoords:
			return fail("coordinates is already given in this path")
		case s.kind == KindObject:
			return fail("object/<name>/ already names the object; objectname and coordinates cannot be used together")
		case s.object != "":
			return fail("objectname and coordinates cannot be used together")
		}
		n.hasCoords, n.ra, n.dec = true, seg.ra, seg.dec
	case segmentRadius:
		if s.radius != 0 {
			return fail("radius is already given in this path")
		}
		n.radius = seg.radius
	case segmentResolver:
		if s.resolver != "" {
			return fail("resolver is already given in this path")
		}
		n.resolver = seg.text
	case segmentFilter:
		key := productFilterSortKey(seg.filter)
		i, found := slices.BinarySearchFunc(s.filters, key, func(f mast.ProductFilter, k string) int {
			return strings.Compare(productFilterSortKey(f), k)
		})
		if found {
			return fail("this product filter is already given in this path")
		}
		n.filters = slices.Insert(slices.Clone(s.filters), i, seg.filter)
	}
	return n, nil
}

func compareCriterionName(c mast.Criterion, lowerName string) int {
	return strings.Compare(strings.ToLower(c.Name), lowerName)
}

// productFilterSortKey orders @mrp, then @extension, then column filters by
// lower-cased column; equal keys mean the same filter given twice.
func productFilterSortKey(f mast.ProductFilter) string {
	switch {
	case f.MRPOnly:
		return "0"
	case len(f.Extensions) > 0:
		return "1"
	}
	return "2" + strings.ToLower(f.Column)
}

// Runnable says whether the spec can be run as a query, and if not why. A
// spec that is not runnable is still a valid directory to descend through
// (criteria/objectname=M101/ on the way to criteria/objectname=M101/filters=NUV/).
func (s QuerySpec) Runnable() error {
	switch {
	case s.kind == KindObsid:
		return nil
	case s.radius != 0 && !s.HasPosition():
		return errors.New("radius= needs a position: add objectname= or coordinates=")
	case s.resolver != "" && s.object == "":
		return errors.New("resolver= applies only to an object name (objectname= or object/<name>/)")
	case s.kind == KindCriteria && len(s.criteria) == 0:
		return ErrNoCriterion
	}
	return nil
}

// NameResolver turns an object name into ICRS degrees; resolver is "NED",
// "SIMBAD" or "". The FUSE layer passes a closure over the archive client.
type NameResolver func(name, resolver string) (ra, dec float64, err error)

// ObservationQuery builds the observation query of a runnable spec,
// resolving the object name (if any) through resolve. obsid/ specs have no
// observation query.
func (s QuerySpec) ObservationQuery(resolve NameResolver) (mast.Query, error) {
	if s.kind == KindObsid {
		return mast.Query{}, errors.New("obsid/ directories have no observation query")
	}
	if err := s.Runnable(); err != nil {
		return mast.Query{}, err
	}
	q := mast.Query{Criteria: s.Criteria()}
	switch {
	case s.object != "":
		if resolve == nil {
			return mast.Query{}, errors.New("no name resolver for " + strconv.Quote(s.object))
		}
		ra, dec, err := resolve(s.object, s.resolver)
		if err != nil {
			return mast.Query{}, err
		}
		q.Position = &mast.Position{RA: ra, Dec: dec, Radius: s.RadiusDeg()}
	case s.hasCoords:
		q.Position = &mast.Position{RA: s.ra, Dec: s.dec, Radius: s.RadiusDeg()}
	}
	return q, nil
}

// Key is the canonical path of the spec: the cache key. It does not depend
// on the order of the segments (criteria/a=1/b=2 and criteria/b=2/a=1 give
// the same Key), missions/<M>/ gives the Key of criteria/obs_collection=<M>/,
// the default radius is written out, and criterion names are lower-cased.
// The order of values inside one segment is kept (it may matter to MAST).
// ParseQueryPath(s.Key()) has the same Key.
func (s QuerySpec) Key() string {
	parts := s.queryKeyParts()
	for _, f := range s.filters {
		parts = append(parts, productFilterKey(f))
	}
	return strings.Join(parts, "/")
}

// QueryKey is Key without the @ product filters: directories that differ
// only in their filters share one observation query and one product list.
func (s QuerySpec) QueryKey() string {
	return strings.Join(s.queryKeyParts(), "/")
}

func (s QuerySpec) queryKeyParts() []string {
	var parts []string
	switch s.kind {
	case KindObsid:
		return []string{string(KindObsid), strings.Join(s.obsids, ",")}
	case KindRegion:
		parts = append(parts, string(KindRegion), formatPosition(s.ra, s.dec))
	case KindObject:
		parts = append(parts, string(KindObject), escapeKeyText(s.object))
	default: // criteria, missions
		parts = append(parts, string(KindCriteria))
		switch {
		case s.object != "":
			parts = append(parts, "objectname="+escapeKeyText(s.object))
		case s.hasCoords:
			parts = append(parts, "coordinates="+formatPosition(s.ra, s.dec))
		}
	}
	if s.HasPosition() || s.radius != 0 {
		parts = append(parts, "radius="+formatDegrees(s.RadiusDeg()))
	}
	if s.resolver != "" {
		parts = append(parts, "resolver="+s.resolver)
	}
	for _, c := range s.criteria {
		parts = append(parts, strings.ToLower(c.Name)+"="+criterionValuesKey(c.Values))
	}
	return parts
}

func criterionValuesKey(vals []mast.Value) string {
	items := make([]string, len(vals))
	for i, v := range vals {
		switch {
		case v.IsRange:
			items[i] = v.Lo + ".." + v.Hi
		case v.Wildcard:
			// A wildcard Text holds no literal % (parseCriterionValues
			// refuses %25 there), so every % goes back to *.
			items[i] = escapeKeyText(strings.ReplaceAll(v.Text, "%", "*"))
		default:
			items[i] = escapeKeyText(v.Text)
		}
	}
	return strings.Join(items, ",")
}

func productFilterKey(f mast.ProductFilter) string {
	switch {
	case f.MRPOnly:
		return "@mrp"
	case len(f.Extensions) > 0:
		return "@extension=" + escapeKeyList(f.Extensions)
	}
	return "@" + f.Column + "=" + escapeKeyList(f.Values)
}

func escapeKeyList(vals []string) string {
	items := make([]string, len(vals))
	for i, v := range vals {
		items[i] = escapeKeyText(v)
	}
	return strings.Join(items, ",")
}

// escapeKeyText writes text so that the grammar reads it back as the same
// literal: % , / become %25 %2C %2F.
var keyTextEscaper = strings.NewReplacer("%", "%25", ",", "%2C", "/", "%2F")

func escapeKeyText(s string) string { return keyTextEscaper.Replace(s) }

// formatDegrees writes the shortest text that parses back to the same
// float64, with -0 folded into 0 so that equal positions give equal keys.
func formatDegrees(v float64) string {
	if v == 0 {
		v = 0
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func formatPosition(ra, dec float64) string {
	return formatDegrees(ra) + " " + formatDegrees(dec)
}

// A querySegment is one parsed path segment below a query root.
type querySegment struct {
	kind      segmentKind
	criterion mast.Criterion     // segmentCriterion
	filter    mast.ProductFilter // segmentFilter
	text      string             // segmentObject (name), segmentResolver (NED|SIMBAD)
	ra, dec   float64            // segmentCoordinates
	radius    float64            // segmentRadius, degrees
}

type segmentKind int

const (
	segmentCriterion segmentKind = iota + 1
	segmentObject
	segmentCoordinates
	segmentRadius
	segmentResolver
	segmentFilter
)

// parseQuerySegment reads one segment on its own; With checks it against the
// rest of the path.
func parseQuerySegment(seg string) (querySegment, error) {
	fail := func(reason string) (querySegment, error) {
		return querySegment{}, &SegmentError{Segment: seg, Reason: reason}
	}
	if reason := segmentTextProblem(seg); reason != "" {
		return fail(reason)
	}
	if strings.HasPrefix(seg, "@") {
		f, reason := parseProductFilter(seg[1:])
		if reason != "" {
			return fail(reason)
		}
		return querySegment{kind: segmentFilter, filter: f}, nil
	}
	name, value, ok := strings.Cut(seg, "=")
	switch {
	case !ok:
		return fail("expected name=value (or @filter for products)")
	case name == "":
		return fail("empty name before '='")
	case !isColumnName(name):
		return fail("a name is letters, digits and '_'")
	case strings.TrimSpace(value) == "":
		return fail("empty value after '='")
	}
	switch strings.ToLower(name) {
	case "objectname", "object_name":
		text, reason := parseObjectName(value)
		if reason != "" {
			return fail(reason)
		}
		return querySegment{kind: segmentObject, text: text}, nil
	case "coordinates":
		ra, dec, err := ParsePosition(decodeLiteralEscapes(value))
		if err != nil {
			return fail(err.Error())
		}
		return querySegment{kind: segmentCoordinates, ra: ra, dec: dec}, nil
	case "radius":
		r, err := ParseRadius(value)
		if err != nil {
			return fail(err.Error())
		}
		return querySegment{kind: segmentRadius, radius: r}, nil
	case "resolver":
		r := strings.ToUpper(value)
		if r != "NED" && r != "SIMBAD" {
			return fail(`resolver must be "NED" or "SIMBAD"`)
		}
		return querySegment{kind: segmentResolver, text: r}, nil
	}
	vals, reason := parseCriterionValues(value)
	if reason != "" {
		return fail(reason)
	}
	return querySegment{kind: segmentCriterion, criterion: mast.Criterion{Name: name, Values: vals}}, nil
}

// segmentTextProblem returns why text cannot be a path component, or "".
func segmentTextProblem(s string) string {
	switch {
	case s == "":
		return "empty path component"
	case s == "." || s == "..":
		return "'.' and '..' are not query segments"
	case strings.ContainsRune(s, '/'):
		return "contains '/' (write %2F inside a value)"
	case strings.ContainsRune(s, 0):
		return "contains a NUL byte"
	case !utf8.ValidString(s):
		return "not valid UTF-8"
	case strings.ContainsFunc(s, unicode.IsControl):
		return "contains a control character"
	}
	return ""
}

var columnNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func isColumnName(s string) bool { return columnNamePattern.MatchString(s) }

// parseObjectName decodes object/<name>/ and objectname=<name>: escapes are
// decoded and everything else is literal (a name has no lists or wildcards).
func parseObjectName(raw string) (string, string) {
	name := decodeLiteralEscapes(raw)
	if strings.TrimSpace(name) == "" {
		return "", "empty object name"
	}
	return name, ""
}

// parseProductFilter reads the text after '@': "mrp", "extension=a,b" or
// "<column>=<values>". Values stay raw (FilterProducts reads "!", ">=", ".."),
// with the three escapes decoded and any other % literal.
func parseProductFilter(body string) (mast.ProductFilter, string) {
	name, value, hasValue := strings.Cut(body, "=")
	lower := strings.ToLower(name)
	switch {
	case lower == "mrp":
		if hasValue {
			return mast.ProductFilter{}, "@mrp takes no value"
		}
		return mast.ProductFilter{MRPOnly: true}, ""
	case name == "":
		return mast.ProductFilter{}, "expected @mrp, @extension=<ext>,... or @<productColumn>=<value>,..."
	case !isColumnName(name):
		return mast.ProductFilter{}, "a product column name is letters, digits and '_'"
	case !hasValue || value == "":
		return mast.ProductFilter{}, fmt.Sprintf("@%s needs values: @%s=<value>[,<value>...]", name, name)
	}
	items := strings.Split(value, ",")
	vals := make([]string, len(items))
	for i, it := range items {
		v := decodeLiteralEscapes(it)
		if strings.TrimSpace(strings.TrimPrefix(v, "!")) == "" {
			return mast.ProductFilter{}, fmt.Sprintf("empty value in @%s", name)
		}
		vals[i] = v
	}
	if lower == "extension" {
		for i, v := range vals {
			if strings.HasPrefix(v, "!") {
				return mast.ProductFilter{}, "@extension values cannot be negated"
			}
			// astroquery lower-cases extensions; doing it here keeps
			// @extension=FITS and @extension=fits one cache entry.
			vals[i] = strings.ToLower(v)
		}
		return mast.ProductFilter{Extensions: vals}, ""
	}
	return mast.ProductFilter{Column: name, Values: vals}, ""
}

// parseCriterionValues reads the value of name=value: a comma list (OR) of
// literals, wildcards and lo..hi ranges. Commas are split before escapes are
// decoded, so %2C is never a separator.
func parseCriterionValues(raw string) ([]mast.Value, string) {
	items := strings.Split(raw, ",")
	vals := make([]mast.Value, 0, len(items))
	wildcards, ranges := 0, 0
	for _, it := range items {
		if strings.TrimSpace(it) == "" {
			if len(items) == 1 {
				return nil, "empty value"
			}
			return nil, fmt.Sprintf("empty item in the list %q", raw)
		}
		if strings.Contains(it, "..") {
			v, reason := parseRangeValue(it)
			if reason != "" {
				return nil, reason
			}
			vals = append(vals, v)
			ranges++
			continue
		}
		text, wildcard, literalPercent := decodeCriterionItem(it)
		if wildcard && literalPercent {
			// MAST's LIKE pattern has no escape for %, so a literal % next
			// to a wildcard cannot be said.
			return nil, fmt.Sprintf("%q mixes a literal %%25 with a wildcard, which MAST cannot express", it)
		}
		if wildcard {
			wildcards++
		}
		vals = append(vals, mast.Value{Text: text, Wildcard: wildcard})
	}
	switch {
	case wildcards > 1:
		return nil, "at most one wildcard value per criterion (MAST allows one)"
	case ranges > 0 && ranges < len(vals):
		return nil, "a range (lo..hi) cannot be mixed with other values in one criterion"
	}
	return vals, ""
}

// decodeCriterionItem decodes %2F %2C %25 and turns * and any other % into
// the MAST wildcard %.
func decodeCriterionItem(raw string) (text string, wildcard, literalPercent bool) {
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch c {
		case '%':
			if d, ok := valueEscape(raw[i:]); ok {
				b.WriteByte(d)
				literalPercent = literalPercent || d == '%'
				i += 2
				continue
			}
			wildcard = true
			b.WriteByte('%')
		case '*':
			wildcard = true
			b.WriteByte('%')
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), wildcard, literalPercent
}

// decodeLiteralEscapes decodes %2F %2C %25 and keeps everything else as is:
// for object names, coordinates and product filter values, where % and * have
// no wildcard meaning.
func decodeLiteralEscapes(raw string) string {
	if !strings.Contains(raw, "%") {
		return raw
	}
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		if raw[i] == '%' {
			if d, ok := valueEscape(raw[i:]); ok {
				b.WriteByte(d)
				i += 2
				continue
			}
		}
		b.WriteByte(raw[i])
	}
	return b.String()
}

// valueEscape reads one of the three escapes at the start of s (hex digits
// in either case).
func valueEscape(s string) (byte, bool) {
	if len(s) < 3 || s[0] != '%' || s[1] != '2' {
		return 0, false
	}
	switch s[2] {
	case 'F', 'f':
		return '/', true
	case 'C', 'c':
		return ',', true
	case '5':
		return '%', true
	}
	return 0, false
}

// isoDatePattern is the date spelling the client converts to MJD (mast's
// isoToMJD): a date, optionally a time to minutes or seconds (with a
// fraction) after T or a space, optionally Z.
var isoDatePattern = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?Z?$`)

// parseRangeValue reads lo..hi. Bounds are decimal numbers or ISO dates,
// both of the same kind, lo <= hi; whether the column takes ranges at all is
// for the client to check against the column configuration.
func parseRangeValue(item string) (mast.Value, string) {
	if strings.Count(item, "..") != 1 || strings.Contains(item, "...") {
		return mast.Value{}, fmt.Sprintf("%q is not a range lo..hi", item)
	}
	lo, hi, _ := strings.Cut(item, "..")
	if lo == "" || hi == "" {
		return mast.Value{}, fmt.Sprintf("range %q needs both bounds", item)
	}
	loNum, loIsNum := parseDecimalText(lo)
	hiNum, hiIsNum := parseDecimalText(hi)
	if loIsNum && hiIsNum {
		if loNum > hiNum {
			return mast.Value{}, fmt.Sprintf("range %q is empty (lo > hi)", item)
		}
		return mast.Value{IsRange: true, Lo: lo, Hi: hi}, ""
	}
	loTime, loIsDate := parseISODate(lo)
	hiTime, hiIsDate := parseISODate(hi)
	if loIsDate && hiIsDate {
		if loTime.After(hiTime) {
			return mast.Value{}, fmt.Sprintf("range %q is empty (lo > hi)", item)
		}
		return mast.Value{IsRange: true, Lo: lo, Hi: hi}, ""
	}
	return mast.Value{}, fmt.Sprintf("range %q: bounds must both be numbers or both ISO dates (2020-01-01, 2020-01-01T10:00:00)", item)
}

func parseISODate(s string) (time.Time, bool) {
	if !isoDatePattern.MatchString(s) {
		return time.Time{}, false
	}
	s = strings.Replace(strings.TrimSuffix(s, "Z"), " ", "T", 1)
	// time.Parse takes a fraction of a second after :05 without asking.
	for _, layout := range []string{"2006-01-02", "2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

var decimalPattern = regexp.MustCompile(`^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$`)

// parseDecimalText accepts plain decimal numbers only: no inf, nan, hex or
// underscores, which strconv.ParseFloat would take.
func parseDecimalText(s string) (float64, bool) {
	if !decimalPattern.MatchString(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil && !math.IsInf(f, 0)
}

// ParsePosition reads an ICRS position: decimal degrees "322.49324 12.16683"
// or "322.49324,12.16683"; sexagesimal "21:29:58.38 +12:10:00.6",
// "21h29m58.38s +12d10m00.6s" (also ° ' ") or six fields
// "21 29 58.38 +12 10 00.6". A sexagesimal RA is in hours. The result has
// 0 <= ra < 360 and -90 <= dec <= 90.
func ParsePosition(s string) (ra, dec float64, err error) {
	t := strings.TrimSpace(s)
	var raText, decText string
	switch n := strings.Count(t, ","); {
	case n == 1:
		raText, decText, _ = strings.Cut(t, ",")
		raText, decText = joinSexagesimalFields(raText), joinSexagesimalFields(decText)
	case n > 1:
		return 0, 0, fmt.Errorf("position %q: expected RA and Dec, not a list", s)
	default:
		f := strings.Fields(t)
		switch len(f) {
		case 2:
			raText, decText = f[0], f[1]
		case 6:
			raText, decText = strings.Join(f[:3], ":"), strings.Join(f[3:], ":")
		default:
			return 0, 0, fmt.Errorf("position %q: expected \"RA Dec\" (degrees, or h:m:s d:m:s)", s)
		}
	}
	if raText == "" || decText == "" {
		return 0, 0, fmt.Errorf("position %q: expected RA and Dec", s)
	}
	ra, ok := parseRightAscension(raText)
	if !ok {
		return 0, 0, fmt.Errorf("position %q: RA %q is not degrees in [0, 360) or hours h:m:s", s, raText)
	}
	dec, ok = parseDeclination(decText)
	if !ok {
		return 0, 0, fmt.Errorf("position %q: Dec %q is not degrees in [-90, 90] or ±d:m:s", s, decText)
	}
	return ra, dec, nil
}

// joinSexagesimalFields lets "21 29 58.38, +12 10 00.6" use the comma form.
func joinSexagesimalFields(s string) string {
	f := strings.Fields(s)
	if len(f) == 3 {
		return strings.Join(f, ":")
	}
	return strings.TrimSpace(s)
}

var (
	colonSexagesimal = regexp.MustCompile(`^(\d+(?:\.\d*)?):(\d+(?:\.\d*)?)(?::(\d+(?:\.\d*)?))?$`)
	hourSexagesimal  = regexp.MustCompile(`^(\d+(?:\.\d*)?)[hH](?:(\d+(?:\.\d*)?)[mM](?:(\d+(?:\.\d*)?)[sS]?)?)?$`)
	degSexagesimal   = regexp.MustCompile(`^(\d+(?:\.\d*)?)(?:[dD]|°)(?:(\d+(?:\.\d*)?)(?:[mM]|')(?:(\d+(?:\.\d*)?)(?:[sS]|")?)?)?$`)
)

func parseRightAscension(s string) (float64, bool) {
	if deg, ok := parseDecimalText(s); ok {
		return deg, deg >= 0 && deg < 360
	}
	m := colonSexagesimal.FindStringSubmatch(s)
	if m == nil {
		m = hourSexagesimal.FindStringSubmatch(s)
	}
	if m == nil {
		return 0, false
	}
	h, ok := sexagesimalValue(m[1:])
	if !ok || h >= 24 {
		return 0, false
	}
	deg := h * 15
	return deg, deg < 360
}

func parseDeclination(s string) (float64, bool) {
	if deg, ok := parseDecimalText(s); ok {
		return deg, deg >= -90 && deg <= 90
	}
	sign := 1.0
	switch {
	case strings.HasPrefix(s, "-"):
		sign, s = -1, s[1:]
	case strings.HasPrefix(s, "+"):
		s = s[1:]
	}
	m := colonSexagesimal.FindStringSubmatch(s)
	if m == nil {
		m = degSexagesimal.FindStringSubmatch(s)
	}
	if m == nil {
		return 0, false
	}
	d, ok := sexagesimalValue(m[1:])
	if !ok || d > 90 {
		return 0, false
	}
	// The sign applies to the whole angle, so -00:30:00 is -0.5.
	return sign * d, true
}

// sexagesimalValue combines up to three fields (units, minutes, seconds).
// Only the last field given may have a fraction; minutes and seconds are
// below 60.
func sexagesimalValue(fields []string) (float64, bool) {
	total, scale := 0.0, 1.0
	for i, f := range fields {
		if f == "" {
			break
		}
		last := i == len(fields)-1 || fields[i+1] == ""
		if !last && strings.Contains(f, ".") {
			return 0, false
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || math.IsInf(v, 0) || (i > 0 && v >= 60) {
			return 0, false
		}
		total += v / scale
		scale *= 60
	}
	return total, true
}

var radiusPattern = regexp.MustCompile(`^([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*(.*)$`)

// radiusUnits maps a unit to the number of units per degree.
var radiusUnits = map[string]float64{
	"": 1, "d": 1, "deg": 1, "degree": 1, "degrees": 1, "°": 1,
	"'": 60, "arcmin": 60, "arcminute": 60, "arcminutes": 60, "amin": 60,
	`"`: 3600, "arcsec": 3600, "arcsecond": 3600, "arcseconds": 3600, "asec": 3600,
}

// ParseRadius reads an angle as degrees: "0.1deg", "0.1 deg", "5arcmin",
// "120arcsec", "0.5d", "2'", "30\"", or a bare number of degrees. It must be
// above 0 and at most MaxRadiusDeg.
func ParseRadius(s string) (deg float64, err error) {
	m := radiusPattern.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("radius %q: expected a number with an optional unit (deg, arcmin, arcsec)", s)
	}
	perDeg, ok := radiusUnits[strings.ToLower(m[2])]
	if !ok {
		return 0, fmt.Errorf("radius %q: unknown unit %q (use deg, arcmin or arcsec)", s, m[2])
	}
	v, ok := parseDecimalText(m[1])
	if !ok {
		return 0, fmt.Errorf("radius %q: not a number", s)
	}
	deg = v / perDeg
	if !(deg > 0) || deg > MaxRadiusDeg {
		return 0, fmt.Errorf("radius %q: must be above 0 and at most %g deg", s, MaxRadiusDeg)
	}
	return deg, nil
}

// ParseObsids reads obsid/<id>[,<id>...]: MAST Product Group IDs (the obsid
// column, a positive 64-bit integer), deduplicated in the order given.
// Spaces around an id are ignored, as astroquery strips them.
func ParseObsids(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("observation list is empty")
	}
	var ids []string
	seen := make(map[string]bool)
	for _, item := range strings.Split(s, ",") {
		id := strings.TrimSpace(item)
		switch {
		case id == "":
			return nil, fmt.Errorf("empty obsid in %q", s)
		case strings.ContainsFunc(id, func(r rune) bool { return r < '0' || r > '9' }):
			return nil, fmt.Errorf("obsid %q is not a number: obsid/ takes Product Group IDs (the obsid column), not obs_id", id)
		case len(id) > 1 && id[0] == '0':
			// obs_id values such as 00031992001 are all digits; MAST would
			// read them as a different bigint.
			return nil, fmt.Errorf("obsid %q has a leading zero; it looks like an obs_id, not a Product Group ID", id)
		}
		if _, err := strconv.ParseInt(id, 10, 64); err != nil {
			return nil, fmt.Errorf("obsid %q is out of range for a Product Group ID", id)
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids, nil
}
