package fs

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mastfs/mastfs/mast/mastemu"
)

// The parity test lists query directories on a mount and asks Debian's
// astroquery 0.4.6 (tablesPython, testdata/parity.py) the same
// questions of the same emulator: query_criteria, get_product_list,
// filter_products, unique by dataURI, query_criteria_count.

// parityCase is one query directory and the astroquery calls it stands for.
type parityCase struct {
	ID       string         `json:"id"`
	Criteria map[string]any `json:"criteria"`
	MRPOnly  bool           `json:"mrp_only,omitempty"`
	Ext      []string       `json:"extension,omitempty"`
	Filters  map[string]any `json:"filters,omitempty"`
	segs     []string       // path under criteria/
}

type parityResult struct {
	Count    *int64
	Products [][2]string // dataURI, productFilename
	Error    string
}

// runAstroquery runs every case through parity.py against the server at url.
func runAstroquery(t *testing.T, url string, cases []parityCase) map[string]parityResult {
	t.Helper()
	dir := t.TempDir()
	plan, err := json.Marshal(map[string]any{"server": url, "cases": cases})
	if err != nil {
		t.Fatal(err)
	}
	planFile, outFile := filepath.Join(dir, "plan.json"), filepath.Join(dir, "out.json")
	if err := os.WriteFile(planFile, plan, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tablesPython, "testdata/parity.py", planFile, outFile)
	// A private HOME keeps astropy's config and cache out of the real one;
	// no proxy may intercept the loopback emulator.
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_CONFIG_HOME="+dir, "XDG_CACHE_HOME="+dir,
		"NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("parity.py: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		AstroqueryVersion string `json:"astroquery_version"`
		Results           map[string]parityResult
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	t.Logf("astroquery %s", out.AstroqueryVersion)
	return out.Results
}

// collisionName is the name assignNames gives a product whose file name
// another product of the directory shares (docs/paths.md).
func collisionName(base, uri string) string {
	sum := sha1.Sum([]byte(uri))
	stem, ext := base, ""
	if dot := strings.Index(base, "."); dot > 0 {
		stem, ext = base[:dot], base[dot:]
	}
	return stem + "~" + hex.EncodeToString(sum[:])[:8] + ext
}

// checkParity compares one query directory with astroquery's answer and
// returns how many colliding names it checked.
func checkParity(t *testing.T, m *mounted, c parityCase, r parityResult) int {
	t.Helper()
	if r.Error != "" {
		t.Fatalf("astroquery raised %s", r.Error)
	}
	if len(r.Products) == 0 || r.Count == nil || *r.Count == 0 {
		t.Fatalf("weak case: astroquery found %d products, count %v", len(r.Products), r.Count)
	}
	dir := m.Path(append([]string{"criteria"}, c.segs...)...)
	names := listDir(t, dir)
	if len(names) != len(r.Products) {
		t.Errorf("%d files, astroquery has %d unique products", len(names), len(r.Products))
	}
	byURI := map[string]string{}
	for _, n := range names {
		uri := getxattr(t, dir+"/"+n, "user.mast.dataURI")
		if prev, dup := byURI[uri]; dup {
			t.Errorf("%s is listed twice, as %s and %s", uri, prev, n)
		}
		byURI[uri] = n
	}
	baseCount := map[string]int{}
	for _, p := range r.Products {
		baseCount[path.Base(p[1])]++
	}
	collisions := 0
	var wantNames []string
	for _, p := range r.Products {
		uri, base := p[0], path.Base(p[1])
		want := base
		if baseCount[base] > 1 {
			want = collisionName(base, uri)
			collisions++
		}
		wantNames = append(wantNames, want)
		got, ok := byURI[uri]
		switch {
		case !ok:
			t.Errorf("astroquery's %s (%s) is not in the directory", uri, base)
		case got != want:
			t.Errorf("%s is named %s, want %s", uri, got, want)
		}
		delete(byURI, uri)
	}
	for uri, n := range byURI {
		t.Errorf("the directory lists %s (%s), astroquery does not", n, uri)
	}
	sort.Strings(wantNames)
	if strings.Join(names, "\n") != strings.Join(wantNames, "\n") {
		t.Errorf("file names differ from astroquery's productFilename set")
	}
	count, err := os.ReadFile(dir + "/.count")
	if err != nil || strings.TrimSpace(string(count)) != strconv.FormatInt(*r.Count, 10) {
		t.Errorf(".count = %q, %v; query_criteria_count = %d", count, err, *r.Count)
	}
	return collisions
}

// isoMJD is the MJD of a date, as the client converts ISO dates.
func isoMJD(y int, mo time.Month, d int) float64 {
	return float64(time.Date(y, mo, d, 0, 0, 0, 0, time.UTC).Unix())/86400 + mjdEpoch
}

// TestParityWithAstroquery: query directories list exactly the unique
// products astroquery's query_criteria → get_product_list →
// filter_products gives, under the documented names, and .count is
// query_criteria_count.
func TestParityWithAstroquery(t *testing.T) {
	requirePythonModule(t, "astroquery.mast")
	gen := mastemu.Generate(11, 600, 8)
	busy, _ := gen.BusiestProposal("HST")
	props := gen.Proposals("HST")
	if len(props) < 3 {
		t.Fatal("too few HST proposals")
	}
	second, third := props[1].ProposalID, props[2].ProposalID
	m101ra, m101dec, ok := gen.Resolve("M101")
	if !ok {
		t.Fatal("M101 does not resolve")
	}
	proposal := map[string]any{"obs_collection": "HST", "proposal_id": busy}
	withCrit := func(extra map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range proposal {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	propSegs := []string{"obs_collection=HST", "proposal_id=" + busy}
	seg := func(extra ...string) []string { return append(append([]string(nil), propSegs...), extra...) }
	pos := strconv.FormatFloat(m101ra, 'f', -1, 64) + "," + strconv.FormatFloat(m101dec, 'f', -1, 64)

	generated := []parityCase{
		{ID: "proposal", Criteria: proposal, segs: propSegs},
		{ID: "wildcard", Criteria: map[string]any{"instrument_name": "ACS*"}, segs: []string{"instrument_name=ACS*"}},
		{ID: "numeric_range", Criteria: map[string]any{"obs_collection": "JWST", "t_exptime": []float64{100, 1500}},
			segs: []string{"obs_collection=JWST", "t_exptime=100..1500"}},
		{ID: "iso_date_range", Criteria: map[string]any{"obs_collection": "TESS", "t_min": []float64{isoMJD(2020, 1, 1), isoMJD(2022, 6, 30)}},
			segs: []string{"t_min=2020-01-01..2022-06-30", "obs_collection=TESS"}},
		{ID: "comma_list", Criteria: map[string]any{"proposal_id": []string{second, third}}, segs: []string{"proposal_id=" + second + "," + third}},
		{ID: "separator_list", Criteria: map[string]any{"filters": []string{"F814W", "F160W"}}, segs: []string{"filters=F814W,F160W"}},
		{ID: "coordinates_radius_criteria", Criteria: map[string]any{"coordinates": map[string]float64{"ra": m101ra, "dec": m101dec},
			"radius": 0.05, "dataproduct_type": "image"},
			segs: []string{"coordinates=" + pos, "radius=3arcmin", "dataproduct_type=image"}},
		{ID: "objectname_criteria", Criteria: map[string]any{"objectname": "M8", "radius": 0.1, "obs_collection": []string{"HST", "JWST"}},
			segs: []string{"obs_collection=HST,JWST", "objectname=M8", "radius=0.1deg"}},
		{ID: "mrp", Criteria: proposal, MRPOnly: true, segs: seg("@mrp")},
		{ID: "extension", Criteria: proposal, Ext: []string{"fits", "fits.gz"}, segs: seg("@extension=fits,fits.gz")},
		{ID: "product_type_calib_level", Criteria: proposal, Filters: map[string]any{"productType": []string{"SCIENCE", "PREVIEW"}, "calib_level": []int{2, 3}},
			segs: seg("@productType=SCIENCE,PREVIEW", "@calib_level=2,3")},
		{ID: "wildcard_mrp_extension", Criteria: map[string]any{"instrument_name": "WFC3*"}, MRPOnly: true, Ext: []string{"fits"},
			segs: []string{"instrument_name=WFC3*", "@extension=fits", "@mrp"}},
		{ID: "chain_with_criteria", Criteria: withCrit(map[string]any{"dataproduct_type": "image"}),
			Filters: map[string]any{"productType": "SCIENCE", "calib_level": []int{1}}, Ext: []string{"fits"},
			segs: seg("dataproduct_type=image", "@calib_level=1", "@extension=fits", "@productType=SCIENCE")},
	}
	recorded := []parityCase{
		{ID: "recorded_wildcard_range", Criteria: map[string]any{"dataproduct_type": "image", "proposal_pi": "Ost*", "s_dec": []float64{43.5, 45.5}},
			segs: []string{"proposal_pi=Ost*", "dataproduct_type=image", "s_dec=43.5..45.5"}},
		{ID: "recorded_products", Criteria: map[string]any{"obs_id": "U9O40504M"}, Filters: map[string]any{"productType": "SCIENCE"},
			segs: []string{"obs_id=U9O40504M", "@productType=SCIENCE"}},
	}

	collisions := 0
	for _, cat := range []struct {
		name  string
		cat   *mastemu.Catalog
		cases []parityCase
	}{{"generated", gen, generated}, {"recorded", mastemu.Recorded(), recorded}} {
		m := mountForTest(t, mountConfig{catalog: cat.cat})
		results := runAstroquery(t, m.URL, cat.cases)
		for _, c := range cat.cases {
			t.Run(cat.name+"/"+c.ID, func(t *testing.T) {
				n := checkParity(t, m, c, results[c.ID])
				collisions += n
				t.Logf("criteria/%s: %d files, count %d, %d colliding names", strings.Join(c.segs, "/"),
					len(results[c.ID].Products), *results[c.ID].Count, n)
			})
		}
	}
	if collisions == 0 {
		t.Error("no case had colliding file names: the naming rule went unchecked")
	}
}
