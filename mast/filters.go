package mast

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// filterConfigService is the config build_filter_set checks every
// criterion against, whatever service the filters go to.
const filterConfigService = "Mast.Caom.Cone"

// Filter is one entry of a Mashup "filters" list. A continuous column has
// Ranges; a discrete one has Values and/or FreeText. It encodes with
// astroquery's key order: paramName, separator, values, freeText.
type Filter struct {
	ParamName string
	Separator string   // copied from the column config; "" means absent
	Values    []string // discrete values, OR-ed
	Ranges    []Range  // continuous {min,max} pairs, inclusive
	FreeText  string   // SQL LIKE pattern (% wildcard); "" means absent
}

// Range is an inclusive {min,max} pair, numbers kept as written.
type Range struct {
	Min, Max json.Number
}

func (f Filter) appendPyJSON(b []byte) ([]byte, error) {
	p := Params{{"paramName", f.ParamName}}
	if f.Separator != "" {
		p = append(p, Param{"separator", f.Separator})
	}
	if f.Ranges != nil {
		p = append(p, Param{"values", f.Ranges})
	} else {
		p = append(p, Param{"values", f.Values}) // [] when only freeText
	}
	if f.FreeText != "" {
		p = append(p, Param{"freeText", f.FreeText})
	}
	return appendPyJSON(b, p)
}

func (r Range) appendPyJSON(b []byte) ([]byte, error) {
	return appendPyJSON(b, Params{{"min", r.Min}, {"max", r.Max}})
}

// MarshalJSON gives the same bytes MAST receives (Python spelling).
func (f Filter) MarshalJSON() ([]byte, error) { return f.appendPyJSON(nil) }

// MarshalJSON gives the same bytes MAST receives (Python spelling).
func (r Range) MarshalJSON() ([]byte, error) { return r.appendPyJSON(nil) }

// BuildFilters turns criteria into a Mashup filter list the way
// astroquery's build_filter_set does, checked against the columns config
// of Mast.Caom.Cone, plus the range, single-value and date extensions
// described in the package documentation.
func (c *Client) BuildFilters(ctx context.Context, criteria []Criterion) ([]Filter, error) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	return c.buildFilters(ctx, criteria)
}

func (c *Client) buildFilters(ctx context.Context, criteria []Criterion) ([]Filter, error) {
	if len(criteria) == 0 {
		return []Filter{}, nil
	}
	cc, err := c.ColumnsConfig(ctx, filterConfigService)
	if err != nil {
		return nil, err
	}
	if len(cc.Columns) == 0 {
		// Every name would look unknown; say what is really wrong.
		return nil, &ServiceError{Service: filterConfigService, Msg: "columns config is empty"}
	}
	return buildFilters(cc, criteria)
}

// buildFilters is the pure part of BuildFilters.
func buildFilters(cc *ColumnConfig, criteria []Criterion) ([]Filter, error) {
	filters := make([]Filter, 0, len(criteria))
	for _, cr := range criteria {
		col, ok := cc.Lookup(cr.Name)
		if !ok || len(col.Props) == 0 || col.Name == "_selected_" { // astroquery: `if not col_info`
			return nil, &InvalidCriteriaError{Name: cr.Name, Suggestion: suggestColumn(cr.Name, cc)}
		}
		invalid := func(format string, a ...any) error {
			return &InvalidCriteriaError{Name: cr.Name, Reason: fmt.Sprintf(format, a...)}
		}
		if len(cr.Values) == 0 {
			return nil, invalid("no value given")
		}
		f := Filter{ParamName: cr.Name, Separator: col.Separator}
		if col.Continuous() {
			for _, v := range cr.Values {
				var lo, hi string
				switch {
				case v.Wildcard:
					return nil, invalid("%s is continuous: use a value or a range lo..hi, not a wildcard", col.Name)
				case v.IsRange:
					lo, hi = v.Lo, v.Hi
				default:
					lo, hi = v.Text, v.Text
				}
				min, err := numberValue(col, lo)
				if err != nil {
					return nil, invalid("%v", err)
				}
				max, err := numberValue(col, hi)
				if err != nil {
					return nil, invalid("%v", err)
				}
				if a, b := mustFloat(min), mustFloat(max); a > b {
					return nil, invalid("empty range %s..%s", lo, hi)
				}
				f.Ranges = append(f.Ranges, Range{Min: min, Max: max})
			}
		} else {
			f.Values = []string{}
			for _, v := range cr.Values {
				switch {
				case v.IsRange:
					return nil, invalid("%s is not continuous (datatype %q): ranges are not allowed", col.Name, col.Datatype())
				case v.Wildcard:
					if f.FreeText != "" {
						return nil, invalid("only one wildcard value may be used per criterion")
					}
					f.FreeText = strings.ReplaceAll(v.Text, "*", "%")
				default:
					f.Values = append(f.Values, v.Text)
				}
			}
		}
		filters = append(filters, f)
	}
	return filters, nil
}

// numberValue validates one bound of a continuous criterion. A JSON
// number is kept verbatim; another spelling of a finite float (".5",
// "+5") is normalised; on an MJD column an ISO date becomes its MJD.
func numberValue(col Column, s string) (json.Number, error) {
	s = strings.TrimSpace(s)
	if isJSONNumber(s) {
		if _, err := strconv.ParseFloat(s, 64); err == nil { // rejects 1e999
			return json.Number(s), nil
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) &&
		!strings.ContainsAny(s, "xXpP_") {
		return json.Number(pyFloatRepr(f)), nil
	}
	if col.MJD() {
		if mjd, ok := isoToMJD(s); ok {
			return json.Number(pyFloatRepr(mjd)), nil
		}
		return "", fmt.Errorf("%q is neither a number nor an ISO date (YYYY-MM-DD[THH:MM[:SS[.fff]]])", s)
	}
	return "", fmt.Errorf("%q is not a number", s)
}

func mustFloat(n json.Number) float64 {
	f, _ := n.Float64()
	return f
}

// mjdUnixEpoch is the MJD of 1970-01-01T00:00:00.
const mjdUnixEpoch = 40587

// isoDateLayouts are the accepted date spellings, read as UTC.
var isoDateLayouts = []string{
	"2006-01-02",
	"2006-01-02T15:04",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04",
	"2006-01-02 15:04:05",
	"2006-01-02 15:04:05.999999999",
}

// isoToMJD converts an ISO date or date-time (UTC, optional trailing Z) to
// a Modified Julian Date. Leap seconds are ignored, as MJD columns in
// CAOM are UTC day counts.
func isoToMJD(s string) (float64, bool) {
	s = strings.TrimSuffix(s, "Z")
	for _, layout := range isoDateLayouts {
		t, err := time.Parse(layout, s)
		if err != nil {
			continue
		}
		days := t.Unix() / 86400
		rem := t.Sub(time.Unix(days*86400, 0).UTC())
		if rem < 0 { // before 1970: floor, not truncate
			days--
			rem += 24 * time.Hour
		}
		return float64(days+mjdUnixEpoch) + rem.Seconds()/86400, true
	}
	return 0, false
}
