package mast

import (
	"encoding/json"
	"strconv"
	"strings"
)

// Field is one column of a MAST response, in server order.
type Field struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Row is one record keyed by column name. Values are exactly what the JSON
// decoder gives with UseNumber: string, json.Number, bool or nil. Keeping
// json.Number means an obsid or a size is never rounded through float64.
type Row map[string]any

// Table is a decoded MAST response (all pages stacked). Fields keeps the
// server's column order, without `_selected_` (astroquery drops it too).
type Table struct {
	Fields []Field
	Rows   []Row
	// RowsFiltered is the server's count of rows matching the query (from
	// paging.rowsFiltered of the last page read), -1 when it gave none.
	RowsFiltered int64
}

// Str renders a value the way astroquery's table would print it: strings as
// is, numbers in their JSON spelling, null as "".
func (r Row) Str(col string) string { return ValueString(r[col]) }

// ValueString renders one decoded JSON value as text (null is "").
func ValueString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		if x {
			return "True"
		}
		return "False"
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

// Float returns a numeric column value and whether it was present and numeric.
func (r Row) Float(col string) (float64, bool) {
	switch x := r[col].(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case float64:
		return x, true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil
	}
	return 0, false
}

// Int returns an integer column value (sizes, obsids) and whether it was usable.
func (r Row) Int(col string) (int64, bool) {
	switch x := r[col].(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i, true
		}
		f, err := x.Float64()
		return int64(f), err == nil
	case float64:
		return int64(x), true
	case string:
		i, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		return i, err == nil
	}
	return 0, false
}

// Column reports whether the table has a column, case-sensitively as MAST names them.
func (t *Table) Column(name string) (Field, bool) {
	for _, f := range t.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// Value is one item of a criterion as the path grammar produced it.
// Exactly one of the three forms is used:
//   - a literal (Text), matched exactly (case-insensitively) by MAST;
//   - a wildcard (Wildcard true, Text already in MAST LIKE form with % as the wildcard);
//   - a range (IsRange true, Lo and Hi as the user wrote them: numbers or ISO dates).
type Value struct {
	Text     string
	Wildcard bool
	IsRange  bool
	Lo, Hi   string
}

// Criterion is one observation filter, name as the user spelled it.
type Criterion struct {
	Name   string
	Values []Value
}

// Position is a cone on the sky, all in degrees (ICRS).
type Position struct {
	RA, Dec, Radius float64
}

// Query is one observation query: criteria, an optional cone, or both.
// No criteria with a position is a Mast.Caom.Cone query; criteria without a
// position is Mast.Caom.Filtered; both is Mast.Caom.Filtered.Position.
type Query struct {
	Criteria []Criterion
	Position *Position
}

// ProductFilter is one client-side product filter, as astroquery's
// filter_products applies it (see FilterProducts).
type ProductFilter struct {
	// MRPOnly keeps only "Minimum Recommended Products".
	MRPOnly bool
	// Extensions is a case-insensitive suffix match on productFilename (OR).
	Extensions []string
	// Column filters: Column is a product column, Values are the raw items
	// ("SCIENCE", "!PREVIEW", ">=2", "1..3"), OR within, AND across filters.
	Column string
	Values []string
}
