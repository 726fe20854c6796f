package mast

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
)

// mrpGroupDescription marks the products MAST recommends as a minimum.
const mrpGroupDescription = "Minimum Recommended Products"

// ProductFilterError is a product filter that cannot apply to a product
// table. Its message is astroquery's, word for word.
type ProductFilterError struct {
	Column string
	// Value is the item that did not parse as a number; "" when the column
	// itself is not in the table.
	Value string
}

func (e *ProductFilterError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("Column '%s' not found in product table.", e.Column)
	}
	return fmt.Sprintf("Could not parse numeric filter '%s' for column '%s'.", e.Value, e.Column)
}

// FilterProducts keeps the rows of a product table that pass every filter,
// in their original order, as astroquery's Observations.filter_products:
//
//   - MRPOnly: productGroupDescription is exactly "Minimum Recommended Products".
//   - Extensions: productFilename, lower-cased, ends with one of them
//     (lower-cased); a plain suffix, so "fits" does not match ".fits.gz".
//   - Column/Values: items are OR-ed, except items with a leading "!", which
//     are AND NOT-ed: pos = OR(positives) (all rows if none), neg =
//     AND(NOT negated) (all rows if none), keep pos AND neg.
//
// Filters, and the parts of one filter, are AND-ed.
//
// A column is numeric when its field type is a number type (int, long,
// short, number, double, float, decimal, ...) or when it is typed as a
// string but every non-empty value in the table is a decimal number (MAST
// types obsID and parent_obsid as strings). A numeric item is ">=N", "<=N",
// ">N", "<N" (checked in that order), "a..b" (inclusive), or else "N"
// (equality, exact for integers of any size); an item that does not parse is
// a *ProductFilterError. Empty cells never satisfy a numeric item, so they
// pass only negated ones. Other columns compare case-insensitively as text,
// with null and "" read as "--", as astropy prints a masked value.
//
// The column name matches exactly, or else case-insensitively when only one
// column matches; a column the table lacks is a *ProductFilterError. Rows are
// shared with t, not copied; t is not modified.
func FilterProducts(t *Table, filters []ProductFilter) (*Table, error) {
	if t == nil {
		t = &Table{}
	}
	keep := make([]bool, len(t.Rows))
	for i := range keep {
		keep[i] = true
	}
	for _, f := range filters {
		if f.MRPOnly {
			col, err := productColumn(t, "productGroupDescription")
			if err != nil {
				return nil, err
			}
			for i, r := range t.Rows {
				keep[i] = keep[i] && r[col] == mrpGroupDescription
			}
		}
		if len(f.Extensions) > 0 {
			col, err := productColumn(t, "productFilename")
			if err != nil {
				return nil, err
			}
			exts := make([]string, len(f.Extensions))
			for i, e := range f.Extensions {
				exts[i] = strings.ToLower(e)
			}
			for i, r := range t.Rows {
				keep[i] = keep[i] && r[col] != nil && hasAnySuffix(strings.ToLower(ValueString(r[col])), exts)
			}
		}
		if f.Column != "" {
			if err := applyColumnFilter(t, f.Column, f.Values, keep); err != nil {
				return nil, err
			}
		}
	}
	out := &Table{Fields: append([]Field(nil), t.Fields...)}
	for i, r := range t.Rows {
		if keep[i] {
			out.Rows = append(out.Rows, r)
		}
	}
	return out, nil
}

// UniqueProducts keeps the first row of each dataURI, in the original order,
// as astroquery's get_unique_product_list. Rows are shared with t.
func UniqueProducts(t *Table) *Table {
	if t == nil {
		return &Table{}
	}
	out := &Table{Fields: append([]Field(nil), t.Fields...)}
	seen := make(map[string]bool, len(t.Rows))
	for _, r := range t.Rows {
		uri := r.Str("dataURI")
		if seen[uri] {
			continue
		}
		seen[uri] = true
		out.Rows = append(out.Rows, r)
	}
	return out
}

func hasAnySuffix(s string, suffixes []string) bool {
	for _, x := range suffixes {
		if strings.HasSuffix(s, x) {
			return true
		}
	}
	return false
}

// productColumn finds a column: the exact name, or else the one column that
// matches it case-insensitively (astroquery is exact; the fallback forgives
// @producttype= in a path and changes nothing that would have matched).
func productColumn(t *Table, name string) (string, error) {
	if _, ok := t.Column(name); ok {
		return name, nil
	}
	found := ""
	for _, f := range t.Fields {
		if strings.EqualFold(f.Name, name) {
			if found != "" {
				return "", &ProductFilterError{Column: name}
			}
			found = f.Name
		}
	}
	if found == "" {
		return "", &ProductFilterError{Column: name}
	}
	return found, nil
}

// applyColumnFilter ANDs one column filter into keep.
func applyColumnFilter(t *Table, name string, values []string, keep []bool) error {
	col, err := productColumn(t, name)
	if err != nil {
		return err
	}
	field, _ := t.Column(col)
	type item struct {
		match   func(cell any) bool
		negated bool
	}
	items := make([]item, len(values))
	numeric := productColumnIsNumeric(t, field)
	for i, v := range values {
		negated := strings.HasPrefix(v, "!")
		v = strings.TrimPrefix(v, "!")
		if numeric {
			m, ok := numericProductMatch(v)
			if !ok {
				return &ProductFilterError{Column: name, Value: v}
			}
			items[i] = item{m, negated}
			continue
		}
		want := strings.ToLower(v)
		items[i] = item{func(cell any) bool { return strings.ToLower(productCellText(cell)) == want }, negated}
	}
	for r, row := range t.Rows {
		if !keep[r] {
			continue
		}
		cell := row[col]
		pos, anyPos, neg := false, false, true
		for _, it := range items {
			m := it.match(cell)
			if it.negated {
				neg = neg && !m
			} else {
				anyPos = true
				pos = pos || m
			}
		}
		keep[r] = (pos || !anyPos) && neg
	}
	return nil
}

// productCellText is a cell as astropy's str() of a masked column shows it.
func productCellText(v any) string {
	s := ValueString(v)
	if v == nil || s == "" {
		return "--"
	}
	return s
}

// numericFieldTypes are the MAST field types astroquery turns into integer
// or float columns (its parse_type), plus SQL spellings of the same.
var numericFieldTypes = map[string]bool{
	"int": true, "short": true, "long": true, "number": true,
	"double": true, "float": true, "decimal": true,
	"integer": true, "bigint": true, "smallint": true, "real": true, "numeric": true,
}

// stringFieldTypes are the types whose values may still be numbers
// (obsID, parent_obsid); the content decides.
var stringFieldTypes = map[string]bool{"string": true, "char": true, "varchar": true, "text": true, "": true}

func productColumnIsNumeric(t *Table, f Field) bool {
	typ := strings.ToLower(f.Type)
	if numericFieldTypes[typ] {
		return true
	}
	if !stringFieldTypes[typ] {
		return false
	}
	seen := false
	for _, r := range t.Rows {
		v := r[f.Name]
		if v == nil || v == "" {
			continue
		}
		if _, ok := productCellNumber(v); !ok {
			return false
		}
		seen = true
	}
	return seen
}

var plainDecimal = regexp.MustCompile(`^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$`)

// productCellNumber reads a numeric cell; nil, "" and non-numbers are null.
func productCellNumber(v any) (float64, bool) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = strings.TrimSpace(x)
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	default:
		return 0, false
	}
	if !plainDecimal.MatchString(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil || math.IsInf(f, 0)
}

var integerText = regexp.MustCompile(`^[+-]?\d+$`)

// productCellInteger reads an integer cell exactly, for equality on ids
// longer than a float64 holds (19-digit GALEX obs_ids).
func productCellInteger(v any) (*big.Int, bool) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = strings.TrimSpace(x)
	case int:
		return big.NewInt(int64(x)), true
	case int64:
		return big.NewInt(x), true
	default:
		return nil, false
	}
	if !integerText.MatchString(s) {
		return nil, false
	}
	return new(big.Int).SetString(strings.TrimPrefix(s, "+"), 10)
}

// numericRangeItem is astroquery's range pattern; its bounds come from
// splitting on "..", so "1....5" matches and then fails to parse, as there.
var numericRangeItem = regexp.MustCompile(`^[+-]?(\d+(\.\d*)?|\.\d+)\.\.[+-]?(\d+(\.\d*)?|\.\d+)$`)

// numericProductMatch builds the test for one numeric item (without "!").
func numericProductMatch(v string) (func(cell any) bool, bool) {
	cmp := func(bound string, test func(x, b float64) bool) (func(any) bool, bool) {
		b, ok := pythonFloat(bound)
		if !ok {
			return nil, false
		}
		return func(cell any) bool {
			x, ok := productCellNumber(cell)
			return ok && test(x, b)
		}, true
	}
	switch {
	case strings.HasPrefix(v, ">="):
		return cmp(v[2:], func(x, b float64) bool { return x >= b })
	case strings.HasPrefix(v, "<="):
		return cmp(v[2:], func(x, b float64) bool { return x <= b })
	case strings.HasPrefix(v, ">"):
		return cmp(v[1:], func(x, b float64) bool { return x > b })
	case strings.HasPrefix(v, "<"):
		return cmp(v[1:], func(x, b float64) bool { return x < b })
	case numericRangeItem.MatchString(v):
		bounds := strings.Split(v, "..")
		if len(bounds) != 2 {
			return nil, false
		}
		lo, ok1 := pythonFloat(bounds[0])
		hi, ok2 := pythonFloat(bounds[1])
		if !ok1 || !ok2 {
			return nil, false
		}
		return func(cell any) bool {
			x, ok := productCellNumber(cell)
			return ok && x >= lo && x <= hi
		}, true
	}
	want, ok := pythonFloat(v)
	if !ok {
		return nil, false
	}
	wantInt, isInt := productCellInteger(strings.TrimSpace(v))
	return func(cell any) bool {
		if isInt {
			if got, ok := productCellInteger(cell); ok {
				return got.Cmp(wantInt) == 0
			}
		}
		x, ok := productCellNumber(cell)
		return ok && x == want
	}, true
}

var pythonFloatText = regexp.MustCompile(`(?i)^[+-]?(?:inf|infinity|nan|(?:\d+(?:_\d+)*(?:\.(?:\d+(?:_\d+)*)?)?|\.\d+(?:_\d+)*)(?:e[+-]?\d+(?:_\d+)*)?)$`)

// pythonFloat parses as Python's float(str) does: surrounding whitespace,
// inf and nan, and _ between digits are fine; hex is not.
func pythonFloat(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	if !pythonFloatText.MatchString(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
	if err != nil && !math.IsInf(f, 0) { // overflow is inf in Python too
		return 0, false
	}
	return f, true
}
