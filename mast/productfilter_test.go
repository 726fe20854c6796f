package mast

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// productsFixtureTable decodes testdata/products.json (astroquery's
// recorded Mast.Caom.Products answer for obsid 2003738726: 22 rows) the way
// the client does: numbers kept as json.Number, _selected_ dropped.
func productsFixtureTable(t *testing.T) *Table {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "products.json"))
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		Fields []Field `json:"fields"`
		Data   []Row   `json:"data"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&resp); err != nil {
		t.Fatal(err)
	}
	tab := &Table{Rows: resp.Data}
	for _, f := range resp.Fields {
		if f.Name != "_selected_" {
			tab.Fields = append(tab.Fields, f)
		}
	}
	for _, r := range tab.Rows {
		delete(r, "_selected_")
	}
	if len(tab.Rows) != 22 {
		t.Fatalf("fixture has %d rows, want 22", len(tab.Rows))
	}
	return tab
}

func productFilenames(t *Table) []string {
	var names []string
	for _, r := range t.Rows {
		names = append(names, r.Str("productFilename"))
	}
	return names
}

func columnFilter(name string, values ...string) ProductFilter {
	return ProductFilter{Column: name, Values: values}
}

// TestFilterProductsAstroquery reproduces test_observations_filter_products
// (astroquery-tests.md A.4) and acceptance check C.3 on the same fixture.
func TestFilterProductsAstroquery(t *testing.T) {
	products := productsFixtureTable(t)
	sizeBelow := func(limit int64) func(Row) bool {
		return func(r Row) bool { n, ok := r.Int("size"); return ok && n < limit }
	}
	tests := []struct {
		name    string
		filters []ProductFilter
		want    int
		every   func(Row) bool
	}{
		{"productType any case", []ProductFilter{columnFilter("productType", "sCiEnCE")}, 7,
			func(r Row) bool { return r.Str("productType") == "SCIENCE" }},
		{"mrp", []ProductFilter{{MRPOnly: true}}, 3,
			func(r Row) bool { return r.Str("productGroupDescription") == "Minimum Recommended Products" }},
		{"extension FITS", []ProductFilter{{Extensions: []string{"FITS"}}}, 22, nil},
		{"extension png", []ProductFilter{{Extensions: []string{"png"}}}, 0, nil},
		{"size<50000", []ProductFilter{columnFilter("size", "<50000")}, 7, sizeBelow(50000)},
		{"size !207360,<50000", []ProductFilter{columnFilter("size", "!207360", "<50000")}, 7, sizeBelow(50000)},
		{"no filters", nil, 22, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := FilterProducts(products, tc.filters)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Rows) != tc.want {
				t.Fatalf("%d rows %v, want %d", len(got.Rows), productFilenames(got), tc.want)
			}
			for _, r := range got.Rows {
				if tc.every != nil && !tc.every(r) {
					t.Errorf("row %s does not satisfy the filter", r.Str("productFilename"))
				}
			}
		})
	}

	got, err := FilterProducts(products, []ProductFilter{{MRPOnly: true}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"u9o40504m_c0f.fits", "u9o40504m_c1f.fits", "u9o40504m_drz.fits"}; !slices.Equal(productFilenames(got), want) {
		t.Errorf("mrp gives %v, want %v", productFilenames(got), want)
	}
}

func TestFilterProductsErrors(t *testing.T) {
	products := productsFixtureTable(t)
	tests := []struct {
		name    string
		filters []ProductFilter
		want    string
	}{
		{"size=invalid", []ProductFilter{columnFilter("size", "invalid")},
			"Could not parse numeric filter 'invalid' for column 'size'."},
		{"unknown column", []ProductFilter{columnFilter("invalid", "True")},
			"Column 'invalid' not found in product table."},
		{"bad comparison", []ProductFilter{columnFilter("size", ">=abc")},
			"Could not parse numeric filter '>=abc' for column 'size'."},
		{"negated bad item", []ProductFilter{columnFilter("size", "<5", "!x")},
			"Could not parse numeric filter 'x' for column 'size'."},
		// astroquery splits "1....5" on ".." into three parts and fails.
		{"range with four dots", []ProductFilter{columnFilter("size", "1....5")},
			"Could not parse numeric filter '1....5' for column 'size'."},
		{"hex is not a Python float", []ProductFilter{columnFilter("size", "0x10")},
			"Could not parse numeric filter '0x10' for column 'size'."},
		{"error after a good filter", []ProductFilter{{MRPOnly: true}, columnFilter("nope", "x")},
			"Column 'nope' not found in product table."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := FilterProducts(products, tc.filters)
			var pe *ProductFilterError
			if !errors.As(err, &pe) {
				t.Fatalf("got %v, %v; want a *ProductFilterError", got, err)
			}
			if err.Error() != tc.want {
				t.Errorf("error %q, want %q", err, tc.want)
			}
		})
	}
}

func TestFilterProductsSemantics(t *testing.T) {
	products := productsFixtureTable(t)
	tests := []struct {
		name    string
		filters []ProductFilter
		want    int
	}{
		{"negation", []ProductFilter{columnFilter("productType", "!auxiliary")}, 7},
		{"two negations AND", []ProductFilter{columnFilter("productType", "!AUXILIARY", "!SCIENCE")}, 0},
		{"positives OR, negation AND NOT", []ProductFilter{columnFilter("productType", "SCIENCE", "AUXILIARY", "!science")}, 15},
		{"unknown value", []ProductFilter{columnFilter("productType", "PREVIEW")}, 0},
		{"range inclusive", []ProductFilter{columnFilter("size", "31680..34560")}, 4},
		{"negated range", []ProductFilter{columnFilter("size", "!31680..34560")}, 18},
		{"range with signs and fractions", []ProductFilter{columnFilter("size", "+31679.5..34560.")}, 4},
		{">=", []ProductFilter{columnFilter("size", ">=5184000")}, 6},
		{">", []ProductFilter{columnFilter("size", ">5184000")}, 3},
		{"<=", []ProductFilter{columnFilter("size", "<=25920")}, 1},
		{"equality", []ProductFilter{columnFilter("size", "5184000")}, 3},
		{"equality as float", []ProductFilter{columnFilter("size", "5184000.0")}, 3},
		{"Python float spellings", []ProductFilter{columnFilter("size", " 5_184_000 ")}, 3},
		{"OR of forms", []ProductFilter{columnFilter("size", "25920", "31680..31680", ">=27227520")}, 4},
		{"inf bound", []ProductFilter{columnFilter("size", "<inf")}, 22},
		{"nan matches nothing", []ProductFilter{columnFilter("size", "nan")}, 0},
		{"AND across filters", []ProductFilter{columnFilter("productType", "SCIENCE"), columnFilter("size", ">5184000")}, 3},
		{"mrp AND column", []ProductFilter{{MRPOnly: true}, columnFilter("size", "<6000000")}, 1},
		{"extension list OR", []ProductFilter{{Extensions: []string{"png", "C0F.FITS", "_drz.fits"}}}, 2},
		{"extension is a plain suffix", []ProductFilter{{Extensions: []string{"fits.gz"}}}, 0},
		{"case-insensitive column fallback", []ProductFilter{columnFilter("PRODUCTTYPE", "science")}, 7},
		// obsID is typed string but holds numbers only, so it is numeric.
		{"numeric by content", []ProductFilter{columnFilter("obsID", ">=2003738726")}, 22},
		{"numeric by content, no match", []ProductFilter{columnFilter("obsID", "<2003738726")}, 0},
		// Nulls compare as "--", like astropy's masked values.
		{"null as --", []ProductFilter{columnFilter("productGroupDescription", "--")}, 19},
		{"not null", []ProductFilter{columnFilter("productGroupDescription", "!--")}, 3},
		{"empty value list is no filter", []ProductFilter{columnFilter("size")}, 22},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := FilterProducts(products, tc.filters)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Rows) != tc.want {
				t.Errorf("%d rows %v, want %d", len(got.Rows), productFilenames(got), tc.want)
			}
		})
	}
}

// TestFilterProductsChain covers the contract's example
// @productType=SCIENCE,PREVIEW/@calib_level=<=2 on a table with the current
// product columns, nulls included.
func TestFilterProductsChain(t *testing.T) {
	tab := &Table{
		Fields: []Field{{"productFilename", "string"}, {"productType", "string"}, {"calib_level", "int"}, {"size", "int"}},
		Rows: []Row{
			{"productFilename": "a_raw.fits", "productType": "SCIENCE", "calib_level": json.Number("1"), "size": json.Number("10")},
			{"productFilename": "a_flt.fits", "productType": "SCIENCE", "calib_level": json.Number("2"), "size": json.Number("20")},
			{"productFilename": "a_drz.fits", "productType": "SCIENCE", "calib_level": json.Number("3"), "size": json.Number("30")},
			{"productFilename": "a.jpg", "productType": "PREVIEW", "calib_level": json.Number("2"), "size": nil},
			{"productFilename": "a_asn.fits", "productType": "AUXILIARY", "calib_level": json.Number("1"), "size": json.Number("5")},
			{"productFilename": "a_x.fits", "productType": "SCIENCE", "calib_level": nil, "size": json.Number("7")},
		},
	}
	run := func(filters ...ProductFilter) []string {
		t.Helper()
		got, err := FilterProducts(tab, filters)
		if err != nil {
			t.Fatal(err)
		}
		return productFilenames(got)
	}
	check := func(got, want []string) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	}
	check(run(columnFilter("productType", "SCIENCE", "PREVIEW"), columnFilter("calib_level", "<=2")),
		[]string{"a_raw.fits", "a_flt.fits", "a.jpg"})
	// A null never satisfies a positive numeric item, and passes a negated one.
	check(run(columnFilter("size", "<100")), []string{"a_raw.fits", "a_flt.fits", "a_drz.fits", "a_asn.fits", "a_x.fits"})
	check(run(columnFilter("size", "!<100")), []string{"a.jpg"})
	check(run(columnFilter("calib_level", "!3")), []string{"a_raw.fits", "a_flt.fits", "a.jpg", "a_asn.fits", "a_x.fits"})
	check(run(columnFilter("calib_level", "1..2"), columnFilter("productType", "!preview")), []string{"a_raw.fits", "a_flt.fits", "a_asn.fits"})
	check(run(ProductFilter{Extensions: []string{".FITS"}}, columnFilter("calib_level", ">1")), []string{"a_flt.fits", "a_drz.fits"})
	// The input is untouched.
	if len(tab.Rows) != 6 || tab.Rows[3]["size"] != nil {
		t.Errorf("input table modified")
	}
}

// TestFilterProductsExactIntegers: 19-digit ids differ beyond float64
// precision; equality must not merge them.
func TestFilterProductsExactIntegers(t *testing.T) {
	tab := &Table{
		Fields: []Field{{"obs_id", "string"}, {"productFilename", "string"}},
		Rows: []Row{
			{"obs_id": "6374399093149532160", "productFilename": "a"},
			{"obs_id": "6374399093149532161", "productFilename": "b"},
		},
	}
	got, err := FilterProducts(tab, []ProductFilter{columnFilter("obs_id", "6374399093149532160")})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a"}; !slices.Equal(productFilenames(got), want) {
		t.Errorf("got %v, want %v", productFilenames(got), want)
	}
	got, err = FilterProducts(tab, []ProductFilter{columnFilter("obs_id", "!6374399093149532160")})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"b"}; !slices.Equal(productFilenames(got), want) {
		t.Errorf("negated: got %v, want %v", productFilenames(got), want)
	}
}

func TestFilterProductsTextColumns(t *testing.T) {
	tab := &Table{
		Fields: []Field{{"productFilename", "string"}, {"dataRights", "string"}, {"flag", "boolean"}, {"when", "date"}},
		Rows: []Row{
			{"productFilename": "a", "dataRights": "PUBLIC", "flag": true, "when": "2020-01-01"},
			{"productFilename": "b", "dataRights": "EXCLUSIVE_ACCESS", "flag": false, "when": "2021-01-01"},
			{"productFilename": "c", "dataRights": "", "flag": nil, "when": ""},
			{"productFilename": "d", "dataRights": "2", "flag": true, "when": "2020-01-01"},
		},
	}
	tests := []struct {
		filter ProductFilter
		want   []string
	}{
		{columnFilter("dataRights", "public"), []string{"a"}},
		{columnFilter("dataRights", "--"), []string{"c"}},
		// One non-number keeps a string column textual: "<5" is just text.
		{columnFilter("dataRights", "<5"), nil},
		{columnFilter("dataRights", "2"), []string{"d"}},
		{columnFilter("flag", "true"), []string{"a", "d"}},
		{columnFilter("flag", "!TRUE"), []string{"b", "c"}},
		// A date-typed column is never numeric.
		{columnFilter("when", "2020-01-01"), []string{"a", "d"}},
	}
	for _, tc := range tests {
		got, err := FilterProducts(tab, []ProductFilter{tc.filter})
		if err != nil {
			t.Fatalf("%v: %v", tc.filter, err)
		}
		if !slices.Equal(productFilenames(got), tc.want) {
			t.Errorf("%v: got %v, want %v", tc.filter, productFilenames(got), tc.want)
		}
	}
}

func TestFilterProductsAmbiguousColumn(t *testing.T) {
	tab := &Table{Fields: []Field{{"obsid", "string"}, {"obsID", "string"}}}
	if _, err := FilterProducts(tab, []ProductFilter{columnFilter("obsID", "1")}); err != nil {
		t.Errorf("exact name: %v", err)
	}
	if _, err := FilterProducts(tab, []ProductFilter{columnFilter("OBSID", "1")}); err == nil ||
		!strings.Contains(err.Error(), "not found") {
		t.Errorf("two case-insensitive matches: got %v, want not found", err)
	}
	if _, err := FilterProducts(&Table{}, []ProductFilter{{MRPOnly: true}}); err == nil {
		t.Errorf("mrp on a table without productGroupDescription: no error")
	}
	got, err := FilterProducts(nil, nil)
	if err != nil || len(got.Rows) != 0 {
		t.Errorf("nil table: %v, %v", got, err)
	}
}

func TestUniqueProducts(t *testing.T) {
	products := productsFixtureTable(t)
	if got := UniqueProducts(products); len(got.Rows) != 22 {
		t.Errorf("fixture has unique dataURIs, got %d rows", len(got.Rows))
	}
	tab := &Table{
		Fields: []Field{{"dataURI", "string"}, {"obsID", "string"}},
		Rows: []Row{
			{"dataURI": "mast:x/a", "obsID": "1"},
			{"dataURI": "mast:x/b", "obsID": "1"},
			{"dataURI": "mast:x/a", "obsID": "2"},
			{"dataURI": "mast:x/c", "obsID": "2"},
			{"dataURI": "mast:x/b", "obsID": "3"},
		},
	}
	got := UniqueProducts(tab)
	var keys []string
	for _, r := range got.Rows {
		keys = append(keys, r.Str("dataURI")+"@"+r.Str("obsID"))
	}
	if want := []string{"mast:x/a@1", "mast:x/b@1", "mast:x/c@2"}; !slices.Equal(keys, want) {
		t.Errorf("got %v, want %v", keys, want)
	}
	if len(got.Fields) != 2 || len(tab.Rows) != 5 {
		t.Errorf("fields %v, input rows %d", got.Fields, len(tab.Rows))
	}
}
