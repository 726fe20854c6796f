package mastemu

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The fidelity test drives the real astroquery.mast (Debian's
// python3-astroquery, run by /usr/bin/python3) against the emulator with
// testdata/fidelity.py, and checks that what astroquery returns is exactly
// the emulator's catalog, computed here from Catalog data with independent
// predicates. Where they disagree, the emulator is wrong.

const systemPython = "/usr/bin/python3"

type fidelityCase struct {
	ID    string         `json:"id"`
	Op    string         `json:"op"`
	Args  map[string]any `json:"args,omitempty"`
	check func(t *testing.T, r fidelityResult)
}

type fidelityResult struct {
	Value    json.RawMessage
	Error    string
	Warnings []string
}

func requireAstroquery(t *testing.T) {
	t.Helper()
	out, err := exec.Command(systemPython, "-c", "import astroquery.mast").CombinedOutput()
	if err == nil {
		return
	}
	msg := fmt.Sprintf("astroquery not usable with %s: %v\n%s", systemPython, err, out)
	if os.Getenv("MASTFS_REQUIRE_ASTROQUERY") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg + "(set MASTFS_REQUIRE_ASTROQUERY=1 to fail instead)")
}

// runFidelity serves opts, runs every case through astroquery, then checks
// them; it returns the server for its Stats.
func runFidelity(t *testing.T, opts Options, cases []fidelityCase) *Server {
	t.Helper()
	requireAstroquery(t)
	srv := New(opts)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o755); err != nil {
		t.Fatal(err)
	}
	plan, err := json.Marshal(map[string]any{"server": ts.URL, "token": opts.Token, "workdir": work, "cases": cases})
	if err != nil {
		t.Fatal(err)
	}
	planFile, outFile := filepath.Join(dir, "plan.json"), filepath.Join(dir, "out.json")
	if err := os.WriteFile(planFile, plan, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, systemPython, "testdata/fidelity.py", planFile, outFile)
	// A private HOME keeps astropy's config and cache out of the real one;
	// no proxy may intercept the loopback emulator.
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_CONFIG_HOME="+dir, "XDG_CACHE_HOME="+dir,
		"NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("fidelity.py: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		AstroqueryVersion string `json:"astroquery_version"`
		Results           map[string]fidelityResult
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	t.Logf("astroquery %s", out.AstroqueryVersion)
	for _, c := range cases {
		t.Run(c.ID, func(t *testing.T) {
			r, ok := out.Results[c.ID]
			if !ok {
				t.Fatal("no result")
			}
			if c.check != nil {
				c.check(t, r)
			}
		})
	}
	return srv
}

func decodeValue(t *testing.T, r fidelityResult, v any) {
	t.Helper()
	if r.Error != "" {
		t.Fatalf("astroquery raised %s", r.Error)
	}
	dec := json.NewDecoder(bytes.NewReader(r.Value))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%v: %s", err, r.Value)
	}
}

// sameValue compares an astroquery table cell with a catalog value.
func sameValue(got, want any) bool {
	if want == nil {
		return got == nil
	}
	switch w := want.(type) {
	case string:
		return got == w
	case bool:
		return got == w
	case int64, float64:
		wf, _ := toFloat(w)
		var gf float64
		switch g := got.(type) {
		case json.Number:
			gf, _ = g.Float64()
		case string: // obsid and objID are "string" columns holding integers
			return g == str(w)
		default:
			return false
		}
		return math.Abs(gf-wf) <= 1e-9*math.Max(1, math.Abs(wf))
	}
	return false
}

// checkObservations checks rows against the observations wantIDs, in order,
// every column; pos adds the distance column of positional services.
func checkObservations(t *testing.T, c *Catalog, rows []map[string]any, wantIDs []string, pos *cone) {
	t.Helper()
	if len(wantIDs) == 0 {
		t.Fatal("weak case: nothing expected")
	}
	if got := obsids(rows); !equalStrings(got, wantIDs) {
		t.Fatalf("obsids\n got %v\nwant %v", got, wantIDs)
	}
	for k, row := range rows {
		o, _ := c.Observation(wantIDs[k])
		for _, f := range c.Fields() {
			if !sameValue(row[f.Name], o[f.Name]) {
				t.Errorf("obsid %s %s: astroquery %#v, catalog %#v", wantIDs[k], f.Name, row[f.Name], o[f.Name])
			}
		}
		if pos != nil {
			d, _ := row["distance"].(json.Number).Float64()
			want := separation(pos.ra, pos.dec, o["s_ra"].(float64), o["s_dec"].(float64)) * 3600
			if math.Abs(d-want) > 1e-6 {
				t.Errorf("obsid %s distance %v, want %v", wantIDs[k], d, want)
			}
		}
	}
}

// inCone lists the observations pred accepts inside a cone, nearest first.
func inCone(c *Catalog, pos cone, pred func(map[string]any) bool) []string {
	type d struct {
		id   string
		dist float64
	}
	var hits []d
	for _, o := range c.Observations() {
		s := separation(pos.ra, pos.dec, o["s_ra"].(float64), o["s_dec"].(float64))
		if s <= pos.radius && (pred == nil || pred(o)) {
			hits = append(hits, d{str(o["obsid"]), s})
		}
	}
	for i := 1; i < len(hits); i++ { // insertion sort: stable, like the archive's ORDER BY
		for j := i; j > 0 && hits[j].dist < hits[j-1].dist; j-- {
			hits[j], hits[j-1] = hits[j-1], hits[j]
		}
	}
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.id
	}
	return out
}

func obsCase(c *Catalog, id, op string, args map[string]any, want func() []string, pos *cone) fidelityCase {
	return fidelityCase{ID: id, Op: op, Args: args, check: func(t *testing.T, r fidelityResult) {
		var rows []map[string]any
		decodeValue(t, r, &rows)
		checkObservations(t, c, rows, want(), pos)
	}}
}

func countCase(id, op string, args map[string]any, want func() int) fidelityCase {
	return fidelityCase{ID: id, Op: op, Args: args, check: func(t *testing.T, r fidelityResult) {
		var n int
		decodeValue(t, r, &n)
		if n != want() || n == 0 {
			t.Fatalf("count %d, want %d", n, want())
		}
	}}
}

// productsOf is what get_product_list returns for observations, in order.
func productsOf(c *Catalog, ids []string, keep func(map[string]any) bool) []map[string]any {
	var out []map[string]any
	for _, id := range ids {
		for _, p := range c.ProductsFor(id) {
			if keep == nil || keep(p) {
				out = append(out, p)
			}
		}
	}
	return out
}

func productCase(id, op string, args map[string]any, want func() []map[string]any) fidelityCase {
	return fidelityCase{ID: id, Op: op, Args: args, check: func(t *testing.T, r fidelityResult) {
		var rows []map[string]any
		decodeValue(t, r, &rows)
		exp := want()
		if len(exp) == 0 {
			t.Fatal("weak case: no products expected")
		}
		if len(rows) != len(exp) {
			t.Fatalf("%d products, want %d", len(rows), len(exp))
		}
		for k := range rows {
			for _, f := range ProductFields {
				if !sameValue(rows[k][f.Name], exp[k][f.Name]) {
					t.Errorf("row %d (%v) %s: astroquery %#v, catalog %#v", k, exp[k]["dataURI"], f.Name, rows[k][f.Name], exp[k][f.Name])
				}
			}
		}
	}}
}

func downloadCase(c *Catalog, id, uri string, wantStatus string) fidelityCase {
	return fidelityCase{ID: id, Op: "download_file", Args: map[string]any{"uri": uri, "local_name": id + ".bin"},
		check: func(t *testing.T, r fidelityResult) {
			var res struct {
				Status string
				Msg    *string
				Path   *string
			}
			decodeValue(t, r, &res)
			if res.Status != wantStatus {
				t.Fatalf("status %s (%v), want %s", res.Status, res.Msg, wantStatus)
			}
			if wantStatus != "COMPLETE" {
				if res.Msg == nil || !strings.Contains(*res.Msg, "401") {
					t.Fatalf("msg %v, want a 401", res.Msg)
				}
				return
			}
			got, err := os.ReadFile(*res.Path)
			if err != nil {
				t.Fatal(err)
			}
			if want := productBytes(t, c, uri); !bytes.Equal(got, want) {
				t.Fatalf("downloaded %d bytes differ from the catalog's %d", len(got), len(want))
			}
		}}
}

func loginCase(id, token string, ok bool) fidelityCase {
	args := map[string]any{}
	if token != "" {
		args["token"] = token
	}
	return fidelityCase{ID: id, Op: "login", Args: args, check: func(t *testing.T, r fidelityResult) {
		var res struct {
			Authenticated, Anon bool
			Ezid                string
		}
		decodeValue(t, r, &res)
		if res.Authenticated != ok || res.Anon == ok {
			t.Fatalf("login with %q: %+v (warnings %v)", token, res, r.Warnings)
		}
		if !ok && !strings.Contains(strings.Join(r.Warnings, "\n"), "MAST API token invalid") {
			t.Fatalf("no invalid-token warning: %v", r.Warnings)
		}
	}}
}

func missionsCase(c *Catalog) fidelityCase {
	return fidelityCase{ID: "list_missions", Op: "list_missions", check: func(t *testing.T, r fidelityResult) {
		var got []string
		decodeValue(t, r, &got)
		if !equalStrings(got, c.Missions()) {
			t.Fatalf("%v, want %v", got, c.Missions())
		}
	}}
}

func metadataCases(t *testing.T) []fidelityCase {
	var cfg map[string]map[string]any
	raw := recordedFile("columnsconfig.json")
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	keys, _ := objectKeys(raw)
	var obsNames, obsLabels []string
	for _, k := range keys {
		if k == "_selected_" || cfg[k]["remove"] == true {
			continue
		}
		obsNames = append(obsNames, k)
		label, ok := cfg[k]["text"].(string)
		if !ok {
			label = k
		}
		obsLabels = append(obsLabels, label)
	}
	check := func(names, labels []string, extra map[string]string) func(*testing.T, fidelityResult) {
		return func(t *testing.T, r fidelityResult) {
			var rows []map[string]any
			decodeValue(t, r, &rows)
			var gotNames, gotLabels []string
			for _, row := range rows {
				gotNames = append(gotNames, row["Column Name"].(string))
				gotLabels = append(gotLabels, row["Column Label"].(string))
				if want, ok := extra[row["Column Name"].(string)]; ok && row["Column Label"] != want {
					t.Errorf("%s label %v, want %s", row["Column Name"], row["Column Label"], want)
				}
			}
			if !equalStrings(gotNames, names) || (labels != nil && !equalStrings(gotLabels, labels)) {
				t.Fatalf("names %v labels %v\nwant %v %v", gotNames, gotLabels, names, labels)
			}
		}
	}
	var prodNames []string
	for _, f := range ProductFields {
		prodNames = append(prodNames, f.Name)
	}
	return []fidelityCase{
		{ID: "metadata_observations", Op: "get_metadata", Args: map[string]any{"query_type": "observations"}, check: check(obsNames, obsLabels, nil)},
		{ID: "metadata_products", Op: "get_metadata", Args: map[string]any{"query_type": "products"},
			check: check(prodNames, nil, map[string]string{"obs_id": "Observation ID", "obsID": "Product Group ID", "obs_collection": "Mission", "parent_obsid": "Parent Product Group ID"})},
	}
}

func likePrefix(v any, prefix string) bool {
	return strings.HasPrefix(strings.ToLower(str(v)), strings.ToLower(prefix))
}

func inRange(v any, lo, hi float64) bool {
	f, ok := toFloat(v)
	return ok && f >= lo && f <= hi
}

func TestFidelityRecorded(t *testing.T) {
	c := Recorded()
	pred := func(p func(o map[string]any) bool) func() []string {
		return func() []string { return expectObsids(c, p) }
	}
	advSearch := map[string]any{"dataproduct_type": []any{"image"}, "proposal_pi": "Ost*", "s_dec": []any{43.5, 45.5}}
	advPred := func(o map[string]any) bool {
		return strings.EqualFold(str(o["dataproduct_type"]), "image") && likePrefix(o["proposal_pi"], "ost") && inRange(o["s_dec"], 43.5, 45.5)
	}
	m101ra, m101dec, _ := c.Resolve("M101")
	m101 := cone{m101ra, m101dec, 0.75}
	nuvFuv := func(o map[string]any) bool {
		return hasToken(str(o["filters"]), ";", "NUV") || hasToken(str(o["filters"]), ";", "FUV")
	}
	m103 := cone{23.34086, 60.658, 0.2}
	m103obj := cone{radius: 0.1}
	m103obj.ra, m103obj.dec, _ = c.Resolve("M103")
	region := map[string]any{"coordinates": map[string]any{"ra": m103.ra, "dec": m103.dec}, "radius": m103.radius}
	const u9o = "2003738726"
	dyn := findProduct(t, c, "dynamic", func(p ProductInfo) bool { return p.Dynamic })
	jpg := findProduct(t, c, "JPEG", func(p ProductInfo) bool { return strings.HasSuffix(p.Filename, ".jpg") && !p.Dynamic })

	cases := []fidelityCase{
		missionsCase(c),
		obsCase(c, "criteria_wildcard_range", "query_criteria", advSearch, pred(advPred), nil),
		obsCase(c, "criteria_position", "query_criteria", map[string]any{"filters": []any{"NUV", "FUV"}, "objectname": "M101", "radius": 0.75},
			func() []string { return inCone(c, m101, nuvFuv) }, &m101),
		obsCase(c, "criteria_case_values", "query_criteria", map[string]any{"obs_collection": "hla", "instrument_name": "wfpc2/*", "t_min": []any{49756.1, 49756.2}},
			pred(func(o map[string]any) bool {
				return o["obs_collection"] == "HLA" && likePrefix(o["instrument_name"], "WFPC2/") && inRange(o["t_min"], 49756.1, 49756.2)
			}), nil),
		obsCase(c, "criteria_list", "query_criteria", map[string]any{"proposal_id": []any{"5371", "8880"}},
			pred(func(o map[string]any) bool { return o["proposal_id"] == "5371" || o["proposal_id"] == "8880" }), nil),
		// astroquery 0.4.6 looks names up case-sensitively on its side, so
		// the server's case-insensitive names are checked through Mast.
		obsCase(c, "case_insensitive_names", "service_request", map[string]any{"service": "Mast.Caom.Filtered", "params": map[string]any{
			"columns": "*", "filters": []any{
				map[string]any{"paramName": "Instrument_Name", "values": []any{}, "freeText": "%wfpc2/pc%"},
				map[string]any{"paramName": "PROPOSAL_ID", "values": []any{"5092"}}}}},
			pred(func(o map[string]any) bool { return o["instrument_name"] == "WFPC2/PC" && o["proposal_id"] == "5092" }), nil),
		obsCase(c, "query_region", "query_region", region, func() []string { return inCone(c, m103, nil) }, &m103),
		obsCase(c, "query_object", "query_object", map[string]any{"objectname": "M103", "radius": 0.1}, func() []string { return inCone(c, m103obj, nil) }, &m103obj),
		obsCase(c, "service_request_page", "service_request", map[string]any{"service": "Mast.Caom.Cone",
			"params": map[string]any{"ra": m103.ra, "dec": m103.dec, "radius": m103.radius}, "pagesize": 3, "page": 2},
			func() []string { return inCone(c, m103, nil)[3:6] }, &m103),
		countCase("criteria_count", "query_criteria_count", advSearch, func() int { return len(expectObsids(c, advPred)) }),
		countCase("region_count", "query_region_count", region, func() int { return len(inCone(c, m103, nil)) }),
		countCase("object_count", "query_object_count", map[string]any{"objectname": "M103", "radius": 0.1}, func() int { return len(inCone(c, m103obj, nil)) }),
		productCase("products_of_region", "get_product_list", map[string]any{"query": region},
			func() []map[string]any { return productsOf(c, inCone(c, m103, nil), nil) }),
		productCase("products_recorded", "get_product_list", map[string]any{"obsid": u9o},
			func() []map[string]any { return productsOf(c, []string{u9o}, nil) }),
		productCase("products_two_obsids", "get_product_list", map[string]any{"obsid": u9o + ",2003520266"},
			func() []map[string]any { return productsOf(c, []string{u9o, "2003520266"}, nil) }),
		{ID: "products_obs_id_error", Op: "get_product_list", Args: map[string]any{"obsid": "U9O40504M"}, check: func(t *testing.T, r fidelityResult) {
			if r.Error != "RemoteServiceError: Error converting data type varchar to bigint." {
				t.Fatalf("error %q", r.Error)
			}
		}},
		productCase("filter_science", "filter_products", map[string]any{"obsid": u9o, "filters": map[string]any{"productType": "SCIENCE"}},
			func() []map[string]any {
				return productsOf(c, []string{u9o}, func(p map[string]any) bool { return p["productType"] == "SCIENCE" })
			}),
		productCase("filter_mrp", "filter_products", map[string]any{"obsid": u9o, "mrp_only": true},
			func() []map[string]any {
				return productsOf(c, []string{u9o}, func(p map[string]any) bool { return p["productGroupDescription"] == MRP })
			}),
		productCase("filter_extension", "filter_products", map[string]any{"obsid": "2007372631", "extension": "jpg"},
			func() []map[string]any {
				return productsOf(c, []string{"2007372631"}, func(p map[string]any) bool { return strings.HasSuffix(str(p["productFilename"]), "jpg") })
			}),
		downloadCase(c, "download_fits", "mast:HST/product/u9o40504m_c3m.fits", "COMPLETE"),
		downloadCase(c, "download_dynamic", dyn.DataURI, "COMPLETE"),
		downloadCase(c, "download_jpg", jpg.DataURI, "COMPLETE"),
		{ID: "download_products", Op: "download_products", Args: map[string]any{"obsid": u9o, "dir": "dp",
			"filters": map[string]any{"dataURI": []any{"mast:HST/product/u9o40504m_cgr.fits", "mast:HST/product/u9o40504j_jit.fits"}}},
			check: func(t *testing.T, r fidelityResult) {
				var rows []map[string]any
				decodeValue(t, r, &rows)
				if len(rows) != 2 {
					t.Fatalf("manifest %v", rows)
				}
				for _, row := range rows {
					path := row["Local Path"].(string)
					uri := "mast:HST/product/" + filepath.Base(path)
					if row["Status"] != "COMPLETE" || !strings.HasSuffix(filepath.Dir(path), "mastDownload/HST/U9O40504M") {
						t.Fatalf("manifest row %v", row)
					}
					got, err := os.ReadFile(path)
					if err != nil || !bytes.Equal(got, productBytes(t, c, uri)) {
						t.Fatalf("%s: %v, bytes differ", path, err)
					}
				}
			}},
	}
	cases = append(cases, metadataCases(t)...)
	st := runFidelity(t, Options{Catalog: c, PageSizeCap: 10, ExecutingPolls: 1}, cases).Stats()
	// Every invoke polled once; the 19-row cone came in two 10-row pages.
	if st.Executing == 0 || st.Services["Mast.Caom.Cone"] < 6 {
		t.Errorf("astroquery did not poll or page: Executing %d, Cone requests %d", st.Executing, st.Services["Mast.Caom.Cone"])
	}
}

func TestFidelityGenerated(t *testing.T) {
	c := Generate(11, 600, 8)
	pred := func(p func(o map[string]any) bool) func() []string {
		return func() []string { return expectObsids(c, p) }
	}
	busy, _ := c.BusiestProposal("HST")
	byProposal := map[string]any{"obs_collection": "HST", "proposal_id": busy}
	byProposalPred := func(o map[string]any) bool { return o["obs_collection"] == "HST" && o["proposal_id"] == busy }
	sep := map[string]any{"filters": []any{"F814W", "F160W"}}
	sepPred := func(o map[string]any) bool {
		return hasToken(str(o["filters"]), ";", "F814W") || hasToken(str(o["filters"]), ";", "F160W")
	}
	// A generated target that has observations.
	var target string
	var pos cone
	recorded := map[string]bool{}
	for _, r := range recordedNames() {
		recorded[r.search] = true
	}
	for _, name := range c.TargetNames() {
		if recorded[name] {
			continue
		}
		ra, dec, _ := c.Resolve(name)
		if p := (cone{ra, dec, 0.05}); len(inCone(c, p, nil)) >= 3 {
			target, pos = strings.ToUpper(name), p
			break
		}
	}
	if target == "" {
		t.Fatal("no generated target with observations")
	}
	region := map[string]any{"coordinates": map[string]any{"ra": pos.ra, "dec": pos.dec}, "radius": pos.radius}
	object := map[string]any{"objectname": target, "radius": pos.radius}
	small := func(p ProductInfo) bool { return p.Length < 1<<20 && !p.Exclusive }
	fits := findProduct(t, c, "FITS", func(p ProductInfo) bool { return small(p) && strings.HasSuffix(p.Filename, ".fits") })
	gz := findProduct(t, c, "gzip", func(p ProductInfo) bool { return small(p) && strings.HasSuffix(p.Filename, ".fits.gz") })
	txt := findProduct(t, c, "text", func(p ProductInfo) bool { return small(p) && strings.HasSuffix(p.Filename, ".txt") })
	cat := findProduct(t, c, "dynamic", func(p ProductInfo) bool { return small(p) && p.Dynamic && strings.HasSuffix(p.Filename, ".cat") })
	excl := findProduct(t, c, "exclusive", func(p ProductInfo) bool { return p.Exclusive && p.Length < 1<<20 })
	hstIDs := expectObsids(c, byProposalPred)

	cases := []fidelityCase{
		missionsCase(c),
		obsCase(c, "criteria_proposal", "query_criteria", byProposal, pred(byProposalPred), nil),
		obsCase(c, "criteria_wildcard", "query_criteria", map[string]any{"instrument_name": "acs*"},
			pred(func(o map[string]any) bool { return likePrefix(o["instrument_name"], "ACS") }), nil),
		obsCase(c, "criteria_separator_list", "query_criteria", sep, pred(sepPred), nil),
		obsCase(c, "criteria_range_list_case", "query_criteria", map[string]any{"t_min": []any{59000, 60500}, "obs_collection": []any{"JWST", "tess"}},
			pred(func(o map[string]any) bool {
				return inRange(o["t_min"], 59000, 60500) && (o["obs_collection"] == "JWST" || o["obs_collection"] == "TESS")
			}), nil),
		obsCase(c, "criteria_position", "query_criteria", map[string]any{"coordinates": region["coordinates"], "radius": pos.radius, "dataproduct_type": "IMAGE"},
			func() []string {
				return inCone(c, pos, func(o map[string]any) bool { return o["dataproduct_type"] == "image" })
			}, &pos),
		obsCase(c, "case_insensitive_names", "service_request", map[string]any{"service": "Mast.Caom.Filtered", "params": map[string]any{
			"columns": "*", "filters": []any{
				map[string]any{"paramName": "OBS_COLLECTION", "values": []any{"Galex"}},
				map[string]any{"paramName": "Filters", "separator": ";", "values": []any{"nuv"}}}}},
			pred(func(o map[string]any) bool { return o["obs_collection"] == "GALEX" && o["filters"] == "NUV" }), nil),
		obsCase(c, "query_region", "query_region", region, func() []string { return inCone(c, pos, nil) }, &pos),
		obsCase(c, "query_object", "query_object", object, func() []string { return inCone(c, pos, nil) }, &pos),
		countCase("criteria_count", "query_criteria_count", sep, func() int { return len(expectObsids(c, sepPred)) }),
		countCase("region_count", "query_region_count", region, func() int { return len(inCone(c, pos, nil)) }),
		countCase("object_count", "query_object_count", object, func() int { return len(inCone(c, pos, nil)) }),
		// Several observations with 6+ products each: many 40-row pages.
		productCase("products_paged", "get_product_list", map[string]any{"query": byProposal},
			func() []map[string]any { return productsOf(c, hstIDs, nil) }),
		productCase("filter_mrp", "filter_products", map[string]any{"query": byProposal, "mrp_only": true},
			func() []map[string]any {
				return productsOf(c, hstIDs, func(p map[string]any) bool { return p["productGroupDescription"] == MRP })
			}),
		productCase("filter_extension", "filter_products", map[string]any{"query": byProposal, "extension": "fits.gz"},
			func() []map[string]any {
				return productsOf(c, hstIDs, func(p map[string]any) bool { return strings.HasSuffix(str(p["productFilename"]), "fits.gz") })
			}),
		productCase("filter_product_type", "filter_products", map[string]any{"query": byProposal, "filters": map[string]any{"productType": []any{"PREVIEW", "INFO"}}},
			func() []map[string]any {
				return productsOf(c, hstIDs, func(p map[string]any) bool { return p["productType"] == "PREVIEW" || p["productType"] == "INFO" })
			}),
		downloadCase(c, "download_fits", fits.DataURI, "COMPLETE"),
		downloadCase(c, "download_fits_gz", gz.DataURI, "COMPLETE"),
		downloadCase(c, "download_txt", txt.DataURI, "COMPLETE"),
		downloadCase(c, "download_dynamic", cat.DataURI, "COMPLETE"),
		downloadCase(c, "download_exclusive_anonymous", excl.DataURI, "ERROR"),
		loginCase("login_wrong_token", "not-the-token", false),
		loginCase("login", "", true),
		downloadCase(c, "download_exclusive_token", excl.DataURI, "COMPLETE"),
	}
	st := runFidelity(t, Options{Catalog: c, PageSizeCap: 40, ExecutingPolls: 1, Token: "fidelity-token-123"}, cases).Stats()
	pages := (len(productsOf(c, hstIDs, nil)) + 39) / 40
	if pages < 2 || st.Services["Mast.Caom.Products"] < 2*pages {
		t.Errorf("product list of %d pages took %d requests", pages, st.Services["Mast.Caom.Products"])
	}
}
