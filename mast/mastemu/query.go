package mastemu

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// filter is one Mashup filter entry, compiled against a catalog. Semantics
// are the archive's as astroquery's remote tests observe them: filters are
// AND-ed, the values of one filter OR-ed (freeText included), names and
// values match case-insensitively, freeText is SQL LIKE, {min,max} ranges are
// inclusive, and on separator columns a value matches the whole string or
// any ";"-token.
type filter struct {
	col    int
	sep    string
	values []filterValue
	like   []rune // lower-case freeText pattern, nil when absent
}

type filterValue struct {
	isRange  bool
	s        string // lower-case
	num      float64
	isNum    bool
	min, max float64
}

// errQuery is a query the archive rejects with status ERROR and this message.
type errQuery string

func (e errQuery) Error() string { return string(e) }

func lowerKeys(v any) map[string]any {
	m, _ := v.(map[string]any)
	out := make(map[string]any, len(m))
	for k, x := range m {
		out[strings.ToLower(k)] = x
	}
	return out
}

// compileFilters parses the "filters" parameter.
func (c *Catalog) compileFilters(raw any) ([]filter, error) {
	if raw == nil {
		return nil, nil
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, errQuery("Invalid filters: expected a list.")
	}
	var out []filter
	for _, e := range list {
		m := lowerKeys(e)
		name := str(m["paramname"])
		col := c.col(name)
		if col < 0 {
			return nil, errQuery(fmt.Sprintf("Invalid column name '%s'.", name))
		}
		// A separator column splits whether or not the client says so.
		f := filter{col: col, sep: str(m["separator"])}
		if f.sep == "" {
			f.sep = configSeparators()[strings.ToLower(c.fields[col].Name)]
		}
		if ft := str(m["freetext"]); ft != "" {
			f.like = []rune(strings.ToLower(ft))
		}
		vals, _ := m["values"].([]any)
		if v, ok := m["values"]; ok && vals == nil && v != nil {
			vals = []any{v} // a scalar where a list belongs
		}
		for _, v := range vals {
			if rm, ok := v.(map[string]any); ok {
				r := lowerKeys(rm)
				lo, ok1 := toFloat(r["min"])
				hi, ok2 := toFloat(r["max"])
				if !ok1 || !ok2 {
					return nil, errQuery(fmt.Sprintf("Invalid range for column '%s': min and max must be numbers.", name))
				}
				f.values = append(f.values, filterValue{isRange: true, min: lo, max: hi})
				continue
			}
			s := str(v)
			fv := filterValue{s: strings.ToLower(strings.TrimSpace(s))}
			fv.num, fv.isNum = toFloat(v)
			f.values = append(f.values, fv)
		}
		out = append(out, f)
	}
	return out, nil
}

func (f *filter) match(row []any) bool {
	if len(f.values) == 0 && f.like == nil {
		return true // nothing to constrain (e.g. an emptied wildcard list)
	}
	v := row[f.col]
	if v == nil {
		return false
	}
	full := str(v)
	cands := []string{full}
	if f.sep != "" && strings.Contains(full, f.sep) {
		for _, t := range strings.Split(full, f.sep) {
			cands = append(cands, strings.TrimSpace(t))
		}
	}
	num, isNum := toFloat(v)
	for _, fv := range f.values {
		if fv.isRange {
			if isNum && num >= fv.min && num <= fv.max {
				return true
			}
			continue
		}
		for _, cnd := range cands {
			if strings.EqualFold(cnd, fv.s) {
				return true
			}
			if fv.isNum {
				if n, ok := toFloat(cnd); ok && n == fv.num {
					return true
				}
			}
		}
	}
	if f.like != nil {
		for _, cnd := range cands {
			if like([]rune(strings.ToLower(cnd)), f.like) {
				return true
			}
		}
	}
	return false
}

// like is SQL LIKE: % any run, _ any one character.
func like(s, p []rune) bool {
	si, pi := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && (p[pi] == '_' || p[pi] == s[si]):
			si++
			pi++
		case pi < len(p) && p[pi] == '%':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '%' {
		pi++
	}
	return pi == len(p)
}

// cone is a position constraint, all in degrees.
type cone struct{ ra, dec, radius float64 }

func parsePosition(s string) (cone, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return cone{}, errQuery(fmt.Sprintf("Invalid position '%s': expected 'ra, dec, radius'.", s))
	}
	var v [3]float64
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return cone{}, errQuery(fmt.Sprintf("Invalid position '%s'.", s))
		}
		v[i] = f
	}
	return cone{v[0], v[1], v[2]}, nil
}

// separation is the angular distance in degrees (haversine).
func separation(ra1, dec1, ra2, dec2 float64) float64 {
	const d = math.Pi / 180
	s1 := math.Sin((dec2 - dec1) * d / 2)
	s2 := math.Sin((ra2 - ra1) * d / 2)
	h := s1*s1 + math.Cos(dec1*d)*math.Cos(dec2*d)*s2*s2
	return 2 * math.Asin(math.Min(1, math.Sqrt(h))) / d
}

// hit is one matching observation and, for positional queries, its
// distance in arcsec.
type hit struct {
	i    int
	dist float64
}

// search returns the observations matching every filter and, when pos is
// not nil, inside the cone, sorted by distance.
func (c *Catalog) search(filters []filter, pos *cone) []hit {
	ra, dec := c.col("s_ra"), c.col("s_dec")
	var out []hit
rows:
	for i, row := range c.rows {
		var dist float64
		if pos != nil {
			r, ok1 := toFloat(row[ra])
			d, ok2 := toFloat(row[dec])
			if !ok1 || !ok2 {
				continue
			}
			sep := separation(pos.ra, pos.dec, r, d)
			if sep > pos.radius {
				continue
			}
			dist = sep * 3600
		}
		for k := range filters {
			if !filters[k].match(row) {
				continue rows
			}
		}
		out = append(out, hit{i, dist})
	}
	if pos != nil {
		sort.SliceStable(out, func(a, b int) bool { return out[a].dist < out[b].dist })
	}
	return out
}

// configSeparators maps lower-case column names to the separator the
// recorded columns config gives them (obs_collection, filters, ...).
var configSeparators = sync.OnceValue(func() map[string]string {
	var cfg map[string]struct {
		Separator string `json:"separator"`
	}
	if err := json.Unmarshal(recordedFile("columnsconfig.json"), &cfg); err != nil {
		panic(err)
	}
	out := map[string]string{}
	for name, props := range cfg {
		if props.Separator != "" {
			out[strings.ToLower(name)] = props.Separator
		}
	}
	return out
})
