package mast

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strings"
	"testing"
)

func caomConfig(t testing.TB) *ColumnConfig {
	t.Helper()
	cc, err := parseColumnsConfig(ServiceCone, fixture(t, "columnsconfig.json"))
	if err != nil {
		t.Fatal(err)
	}
	return cc
}

func lit(s ...string) []Value {
	var v []Value
	for _, x := range s {
		v = append(v, Value{Text: x})
	}
	return v
}

func wild(s string) Value                 { return Value{Text: s, Wildcard: true} }
func rng(lo, hi string) Value             { return Value{IsRange: true, Lo: lo, Hi: hi} }
func crit(n string, v ...Value) Criterion { return Criterion{Name: n, Values: v} }

func filtersJSON(t testing.TB, f []Filter) string {
	t.Helper()
	b, err := pyJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestBuildFilters(t *testing.T) {
	cc := caomConfig(t)
	for _, tc := range []struct {
		name string
		in   []Criterion
		want string
	}{
		{"protocol doc example", []Criterion{
			crit("dataproduct_type", lit("image")...),
			crit("proposal_pi", wild("Ost%")),
			crit("s_dec", rng("43.5", "45.5")),
			crit("filters", lit("NUV", "FUV")...),
		}, `[{"paramName": "dataproduct_type", "values": ["image"]}, {"paramName": "proposal_pi", "values": [], "freeText": "Ost%"}, {"paramName": "s_dec", "values": [{"min": 43.5, "max": 45.5}]}, {"paramName": "filters", "separator": ";", "values": ["NUV", "FUV"]}]`},
		{"user spelling kept, case-insensitive lookup", []Criterion{crit("Instrument_Name", wild("*WFPC2*")), crit("proposal_ID", lit("8169")...)},
			`[{"paramName": "Instrument_Name", "values": [], "freeText": "%WFPC2%"}, {"paramName": "proposal_ID", "values": ["8169"]}]`},
		{"wildcard with literals", []Criterion{crit("obs_collection", Value{Text: "HST"}, wild("K2%"), Value{Text: "TESS"})},
			`[{"paramName": "obs_collection", "separator": ";", "values": ["HST", "TESS"], "freeText": "K2%"}]`},
		{"numbers verbatim", []Criterion{crit("em_min", rng("1e-10", "2E-07")), crit("s_ra", rng("-0", "10.000"))},
			`[{"paramName": "em_min", "values": [{"min": 1e-10, "max": 2E-07}]}, {"paramName": "s_ra", "values": [{"min": -0, "max": 10.000}]}]`},
		{"other float spellings normalised", []Criterion{crit("s_ra", rng(".5", "+7"))},
			`[{"paramName": "s_ra", "values": [{"min": 0.5, "max": 7.0}]}]`},
		{"single value on continuous", []Criterion{crit("t_exptime", lit("30")...)},
			`[{"paramName": "t_exptime", "values": [{"min": 30, "max": 30}]}]`},
		{"several ranges", []Criterion{crit("s_dec", rng("1", "2"), Value{Text: "5"}, rng("7", "8"))},
			`[{"paramName": "s_dec", "values": [{"min": 1, "max": 2}, {"min": 5, "max": 5}, {"min": 7, "max": 8}]}]`},
		{"ISO dates on MJD column", []Criterion{crit("t_min", rng("2020-01-01", "2020-02-01T12:00:00"))},
			`[{"paramName": "t_min", "values": [{"min": 58849.0, "max": 58880.5}]}]`},
		{"MJD numbers and dates mixed", []Criterion{crit("t_obs_release", rng("51544", "2000-01-02T06:00Z"))},
			`[{"paramName": "t_obs_release", "values": [{"min": 51544, "max": 51545.25}]}]`},
		{"non-ASCII value", []Criterion{crit("target_name", wild("Café*"))},
			`[{"paramName": "target_name", "values": [], "freeText": "Caf\u00e9%"}]`},
		{"literal percent stays a value", []Criterion{crit("obs_title", Value{Text: "100% done"})},
			`[{"paramName": "obs_title", "values": ["100% done"]}]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := buildFilters(cc, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := filtersJSON(t, f); got != tc.want {
				t.Errorf("\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestBuildFiltersErrors(t *testing.T) {
	cc := caomConfig(t)
	for _, tc := range []struct {
		name string
		in   Criterion
		msg  string
	}{
		{"unknown with suggestion", crit("instrument_nam", lit("x")...), "Filter 'instrument_nam' does not exist. Did you mean 'instrument_name'?"},
		{"unknown case-insensitive suggestion", crit("OBS_COLECTION", lit("x")...), "Filter 'OBS_COLECTION' does not exist. Did you mean 'obs_collection'?"},
		{"unknown no suggestion", crit("zzzz", lit("x")...), "Filter 'zzzz' does not exist."},
		{"_selected_ is not a filter", crit("_selected_", lit("x")...), "Filter '_selected_' does not exist."},
		{"range on discrete", crit("calib_level", rng("1", "3")), "ranges are not allowed"},
		{"two wildcards", crit("target_name", wild("M%"), wild("N%")), "only one wildcard"},
		{"wildcard on continuous", crit("s_ra", wild("1%")), "not a wildcard"},
		{"not a number", crit("s_ra", rng("1", "abc")), `"abc" is not a number`},
		{"date on non-MJD column", crit("s_ra", lit("2020-01-01")...), "is not a number"},
		{"bad date", crit("t_min", lit("2020-13-01")...), "neither a number nor an ISO date"},
		{"infinite", crit("s_ra", rng("1", "1e999")), "not a number"},
		{"NaN", crit("s_ra", lit("NaN")...), "not a number"},
		{"empty range", crit("s_dec", rng("5", "1")), "empty range"},
		{"no values", crit("s_dec"), "no value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := buildFilters(cc, []Criterion{crit("intentType", lit("science")...), tc.in})
			var ice *InvalidCriteriaError
			if !errors.As(err, &ice) {
				t.Fatalf("err = %v (%T), want *InvalidCriteriaError", err, err)
			}
			if ice.Name != tc.in.Name || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("err = %q (name %q), want it to contain %q", err, ice.Name, tc.msg)
			}
		})
	}
}

func TestBuildFiltersFetchesConeConfig(t *testing.T) {
	var ids []string
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 64)
		n, _ := r.Body.Read(b)
		ids = append(ids, string(b[:n]))
		w.Write(fixture(t, "columnsconfig.json"))
	}), Config{})
	for i := 0; i < 2; i++ {
		if _, err := c.BuildFilters(context.Background(), []Criterion{crit("obs_collection", lit("HST")...)}); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Join(ids, "|") != "colConfigId=Mast.Caom.Cone" {
		t.Errorf("config requests %q, want one for Mast.Caom.Cone", ids)
	}
}

func TestBuildFiltersEmptyConfig(t *testing.T) {
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("{}"))
	}), Config{})
	_, err := c.BuildFilters(context.Background(), []Criterion{crit("obs_collection", lit("HST")...)})
	if !isServiceError(err) {
		t.Fatalf("err = %v, want *ServiceError", err)
	}
}

func TestISOToMJD(t *testing.T) {
	for s, want := range map[string]float64{
		"1858-11-17":             0,
		"1970-01-01":             40587,
		"2000-01-01T12:00:00":    51544.5,
		"2020-01-01 06:00":       58849.25,
		"2020-01-01T00:00:01.5Z": 58849 + 1.5/86400,
		"1858-11-16T12:00:00":    -0.5,
	} {
		got, ok := isoToMJD(s)
		if !ok || math.Abs(got-want) > 1e-9 {
			t.Errorf("isoToMJD(%q) = %v, %v; want %v", s, got, ok, want)
		}
	}
	for _, s := range []string{"2020", "2020-1-1", "yesterday", "2020-01-01T25:00"} {
		if _, ok := isoToMJD(s); ok {
			t.Errorf("isoToMJD(%q) accepted", s)
		}
	}
}

// TestISOToMJDAgainstAstropy checks the conversion with astropy's Time
// (UTC) where python3-astropy is installed. Days that end in a leap
// second (1995-12-31) differ: astropy divides them into 86401 s.
func TestISOToMJDAgainstAstropy(t *testing.T) {
	dates := []string{"2020-01-01", "2009-03-07T03:14:15", "1995-12-30T23:59:59.25", "2031-06-15T12:34:56.789"}
	out := runPython(t, `
import sys
try:
    from astropy.time import Time
except ImportError:
    print("SKIP"); sys.exit()
for d in sys.argv[1:]:
    print(repr(Time(d, scale="utc").mjd))
`, "", dates...)
	if strings.TrimSpace(out) == "SKIP" {
		t.Skip("astropy not installed")
	}
	for i, line := range strings.Fields(out) {
		got, _ := isoToMJD(dates[i])
		var want float64
		if _, err := fmtSscan(line, &want); err != nil {
			t.Fatal(err)
		}
		// astropy carries two doubles; agreement to ~1 µs is what a float64 MJD holds.
		if math.Abs(got-want)*86400 > 1e-5 {
			t.Errorf("%s: MJD %v, astropy %v", dates[i], got, want)
		}
	}
}

func TestCloseMatch(t *testing.T) {
	for _, tc := range []struct {
		word  string
		cands []string
		want  string
	}{
		{"appel", []string{"ape", "apple", "peach", "puppy"}, "apple"},
		{"wheel", []string{"while", "wheel", "whelk"}, "wheel"},
		{"xyz", []string{"abc"}, ""},
		{"ab", []string{"ba", "ab2", "ab1"}, "ab2"}, // tie on score: the larger string wins
	} {
		if got := closeMatch(tc.word, tc.cands); got != tc.want {
			t.Errorf("closeMatch(%q, %q) = %q, want %q", tc.word, tc.cands, got, tc.want)
		}
	}
}

// TestCloseMatchAgainstDifflib compares with CPython's difflib on the
// CAOM column names and assorted misspellings, long ones included
// (autojunk starts at 200 characters).
func TestCloseMatchAgainstDifflib(t *testing.T) {
	cc := caomConfig(t)
	var names []string
	for _, c := range cc.Columns {
		names = append(names, c.Name)
	}
	words := []string{"instrument", "obs_colection", "sdec", "t_mn", "calib", "target", "proposal", "filter", "em_max_", "dataURL",
		"tmin", "objid", "distanc", "s_regio", "xx", strings.Repeat("ab", 120) + "t_min", strings.Repeat("s_ra", 60)}
	cands := append(append([]string{}, names...), strings.Repeat("ab", 110)+"t_max", strings.Repeat("s_dec", 45))
	out := runPython(t, `
import sys, json, difflib
words, cands = json.load(sys.stdin)
for w in words:
    m = difflib.get_close_matches(w, cands, n=1, cutoff=0.6)
    print(json.dumps(m[0] if m else ""))
    for c in cands[:8] + cands[-2:]:
        print(json.dumps(difflib.SequenceMatcher(None, c, w).ratio()))
`, mustJSON(t, []any{words, cands}))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	k := 0
	for _, w := range words {
		var want string
		mustUnmarshal(t, lines[k], &want)
		k++
		if got := closeMatch(w, cands); got != want {
			t.Errorf("closeMatch(%q) = %q, difflib %q", w, got, want)
		}
		m := newSequenceMatcherB([]rune(w))
		for _, c := range append(append([]string{}, cands[:8]...), cands[len(cands)-2:]...) {
			var want float64
			mustUnmarshal(t, lines[k], &want)
			k++
			if got := m.ratio([]rune(c)); got != want {
				t.Errorf("ratio(%q, %q) = %v, difflib %v", c, w, got, want)
			}
		}
	}
}
