package mastemu

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

var m103Cone = map[string]any{"service": "Mast.Caom.Cone", "params": map[string]any{"ra": 23.34086, "dec": 60.658, "radius": 0.2}}

func TestPagingWithCap(t *testing.T) {
	_, ts := startServer(t, Options{PageSizeCap: 4})
	var all []string
	for page := 1; page <= 6; page++ {
		req := map[string]any{"service": "Mast.Caom.Cone", "params": m103Cone["params"], "pagesize": 50000, "page": page}
		m := invoke(t, ts.URL, req)
		want := min(4, max(0, 19-(page-1)*4))
		if len(m.Data) != want {
			t.Fatalf("page %d: %d rows, want %d", page, len(m.Data), want)
		}
		p := *m.Paging
		if p != (paging{Page: page, PageSize: 4, PagesFiltered: 5, Rows: want, RowsFiltered: 19, RowsTotal: 19}) {
			t.Fatalf("page %d: paging %+v", page, p)
		}
		all = append(all, obsids(m.Data)...)
	}
	_, plain := startServer(t, Options{})
	if whole := obsids(invokeAll(t, plain.URL, map[string]any{"service": "Mast.Caom.Cone", "params": m103Cone["params"]})); !equalStrings(all, whole) {
		t.Fatalf("pages %v\nwhole %v", all, whole)
	}
	// Client-side page size below the cap (Mast.service_request(pagesize=3, page=2)).
	m := invoke(t, ts.URL, map[string]any{"service": "Mast.Caom.Cone", "params": m103Cone["params"], "pagesize": 3, "page": 2})
	if !equalStrings(obsids(m.Data), all[3:6]) || m.Paging.PagesFiltered != 7 {
		t.Fatalf("pagesize 3 page 2: %v (paging %+v), want %v", obsids(m.Data), m.Paging, all[3:6])
	}
}

func TestExecutingPolls(t *testing.T) {
	s, ts := startServer(t, Options{ExecutingPolls: 2})
	req := map[string]any{"service": "Mast.Caom.Cone", "params": m103Cone["params"], "cacheBreaker": "a"}
	for i, want := range []string{"EXECUTING", "EXECUTING", "COMPLETE", "COMPLETE"} {
		if m := invoke(t, ts.URL, req); m.Status != want {
			t.Fatalf("poll %d: %s, want %s", i, m.Status, want)
		}
	}
	req["cacheBreaker"] = "b" // a new request polls again
	if m := invoke(t, ts.URL, req); m.Status != "EXECUTING" {
		t.Fatalf("new cacheBreaker: %s", m.Status)
	}
	lookup := map[string]any{"service": "Mast.Name.Lookup", "params": map[string]any{"input": "M101"}}
	if m := invoke(t, ts.URL, lookup); m.Status == "EXECUTING" {
		t.Fatal("Mast.Name.Lookup must answer at once")
	}
	st := s.Stats()
	if st.Executing != 3 || st.Services["Mast.Caom.Cone"] != 5 {
		t.Fatalf("Executing %d, Cone requests %d", st.Executing, st.Services["Mast.Caom.Cone"])
	}
}

func TestFilterSemantics(t *testing.T) {
	c := generated()
	_, ts := startServer(t, Options{Catalog: c})
	hstProp, _ := c.BusiestProposal("HST")
	// A t_min that exists, to check that ranges are inclusive.
	var tmin float64
	for _, o := range c.Observations() {
		if o["obs_collection"] == "JWST" {
			tmin = o["t_min"].(float64)
			break
		}
	}
	type f = map[string]any
	cases := []struct {
		name    string
		filters []map[string]any
		pred    func(o map[string]any) bool
	}{
		{"case-insensitive name and value",
			[]map[string]any{{"paramName": "OBS_Collection", "values": []any{"hst"}}},
			func(o f) bool { return o["obs_collection"] == "HST" }},
		{"OR within a filter",
			[]map[string]any{{"paramName": "obs_collection", "values": []any{"JWST", "iue"}}},
			func(o f) bool { return o["obs_collection"] == "JWST" || o["obs_collection"] == "IUE" }},
		{"AND across filters, numbers as strings",
			[]map[string]any{{"paramName": "obs_collection", "values": []any{"HST"}}, {"paramName": "proposal_id", "values": []any{hstProp}}, {"paramName": "calib_level", "values": []any{"3", 2}}},
			func(o f) bool {
				return o["obs_collection"] == "HST" && o["proposal_id"] == hstProp && (o["calib_level"] == int64(3) || o["calib_level"] == int64(2))
			}},
		{"freeText prefix LIKE",
			[]map[string]any{{"paramName": "instrument_name", "values": []any{}, "freeText": "acs%"}},
			func(o f) bool { return strings.HasPrefix(o["instrument_name"].(string), "ACS") }},
		{"freeText with _ and inner %",
			[]map[string]any{{"paramName": "Instrument_Name", "values": []any{}, "freeText": "w_c3%uvis"}},
			func(o f) bool { return o["instrument_name"] == "WFC3/UVIS" }},
		{"freeText OR values",
			[]map[string]any{{"paramName": "instrument_name", "values": []any{"GALEX"}, "freeText": "%/IR"}},
			func(o f) bool {
				return o["instrument_name"] == "GALEX" || strings.HasSuffix(o["instrument_name"].(string), "/IR")
			}},
		{"inclusive range",
			[]map[string]any{{"paramName": "t_min", "values": []any{map[string]any{"min": tmin, "max": tmin + 30}}}},
			func(o f) bool { v := o["t_min"].(float64); return v >= tmin && v <= tmin+30 }},
		{"separator token",
			[]map[string]any{{"paramName": "filters", "separator": ";", "values": []any{"f814w"}}},
			func(o f) bool { return hasToken(o["filters"].(string), ";", "F814W") }},
		{"separator whole string",
			[]map[string]any{{"paramName": "filters", "separator": ";", "values": []any{"F475W;F814W"}}},
			func(o f) bool { return o["filters"] == "F475W;F814W" }},
		{"separator column without separator in the request",
			[]map[string]any{{"paramName": "filters", "values": []any{"F814W"}}},
			func(o f) bool { return hasToken(o["filters"].(string), ";", "F814W") }},
		{"no separator column: whole string only",
			[]map[string]any{{"paramName": "instrument_name", "values": []any{"ACS"}, "freeText": "%WFC"}},
			func(o f) bool { return strings.HasSuffix(o["instrument_name"].(string), "WFC") }},
		{"boolean column",
			[]map[string]any{{"paramName": "mtFlag", "values": []any{"true"}}},
			func(o f) bool { return o["mtFlag"] == true }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := expectObsids(c, tc.pred)
			if len(want) == 0 || len(want) == c.Len() {
				t.Fatalf("weak case: %d of %d observations match", len(want), c.Len())
			}
			req := filtered(tc.filters...)
			got := obsids(invokeAll(t, ts.URL, req))
			if !equalStrings(got, want) {
				t.Fatalf("got %d rows, want %d\n got %v\nwant %v", len(got), len(want), got, want)
			}
			req["params"].(map[string]any)["columns"] = "COUNT_BIG(*)"
			m := invoke(t, ts.URL, req)
			if len(m.Data) != 1 || fmt.Sprint(m.Data[0]["Column1"]) != strconv.Itoa(len(want)) {
				t.Fatalf("count %v, want %d", m.Data, len(want))
			}
		})
	}
}

func TestFilterErrors(t *testing.T) {
	_, ts := startServer(t, Options{})
	m := invoke(t, ts.URL, filtered(map[string]any{"paramName": "instrumentname", "values": []any{"x"}}))
	if m.Status != "ERROR" || !strings.Contains(m.Msg, "instrumentname") {
		t.Fatalf("unknown column: %s %q", m.Status, m.Msg)
	}
	m = invoke(t, ts.URL, filtered(map[string]any{"paramName": "s_ra", "values": []any{map[string]any{"min": "a", "max": 2}}}))
	if m.Status != "ERROR" {
		t.Fatalf("bad range: %s", m.Status)
	}
	m = invoke(t, ts.URL, map[string]any{"service": "Mast.Caom.Products", "params": map[string]any{"obsid": "2003738726,U9O40504M"}})
	if m.Status != "ERROR" || m.Msg != "Error converting data type varchar to bigint." {
		t.Fatalf("obs_id as obsid: %s %q", m.Status, m.Msg)
	}
	m = invoke(t, ts.URL, map[string]any{"service": "Mast.Nope", "params": map[string]any{}})
	if m.Status != "ERROR" {
		t.Fatalf("unknown service: %s", m.Status)
	}
}

func TestRecordedQueries(t *testing.T) {
	c := Recorded()
	_, ts := startServer(t, Options{Catalog: c})
	// astroquery's query_criteria(dataproduct_type=["image"], proposal_pi="Ost*", s_dec=[43.5,45.5]).
	rows := invokeAll(t, ts.URL, filtered(
		map[string]any{"paramName": "dataproduct_type", "values": []any{"image"}},
		map[string]any{"paramName": "proposal_pi", "values": []any{}, "freeText": "Ost%"},
		map[string]any{"paramName": "s_dec", "values": []any{map[string]any{"min": 43.5, "max": 45.5}}}))
	if got := obsids(rows); !equalStrings(got, []string{"2003520266", "2003520267", "2003520268"}) {
		t.Fatalf("advSearch criteria: %v", got)
	}
	// query_criteria(filters=["NUV","FUV"], objectname="M101", radius=0.75): the
	// emulator matches centres, the archive footprints, hence the larger radius.
	m := invoke(t, ts.URL, map[string]any{"service": "Mast.Caom.Filtered.Position", "params": map[string]any{
		"columns": "*", "position": "210.802429, 54.34875, 0.75",
		"filters": []any{map[string]any{"paramName": "filters", "separator": ";", "values": []any{"NUV", "FUV"}}}}})
	if m.Status != "COMPLETE" || len(m.Data) != 6 {
		t.Fatalf("advSearchPos criteria: %s, %d rows", m.Status, len(m.Data))
	}
	last := m.Fields[len(m.Fields)-3:]
	if last[0].Name != "objID1" || last[1].Name != "distance" || last[2].Name != "_selected_" || last[2].Type != "boolean" {
		t.Fatalf("Filtered.Position fields end %v", last)
	}
	for _, r := range m.Data {
		if r["objID1"] == nil || r["objID1"].(json.Number) != r["objID"].(json.Number) {
			t.Errorf("objID1 %v objID %v", r["objID1"], r["objID"])
		}
		if v, ok := r["_selected_"]; !ok || v != nil {
			t.Errorf("_selected_ = %v, %v", v, ok)
		}
	}
}

func TestConeDistance(t *testing.T) {
	c := generated()
	_, ts := startServer(t, Options{Catalog: c})
	ra, dec, _ := c.Resolve("m101")
	radius := 0.1
	rows := invokeAll(t, ts.URL, map[string]any{"service": "Mast.Caom.Cone", "params": map[string]any{"RA": ra, "Dec": dec, "radius": radius}})
	want := expectObsids(c, func(o map[string]any) bool {
		return separation(ra, dec, o["s_ra"].(float64), o["s_dec"].(float64)) <= radius
	})
	if len(rows) != len(want) || len(want) < 3 {
		t.Fatalf("%d rows, want %d", len(rows), len(want))
	}
	wantSet := map[string]bool{}
	for _, id := range want {
		wantSet[id] = true
	}
	prev := -1.0
	for _, r := range rows {
		if !wantSet[fmt.Sprint(r["obsid"])] {
			t.Errorf("unexpected obsid %v", r["obsid"])
		}
		d, _ := r["distance"].(json.Number).Float64()
		sra, _ := r["s_ra"].(json.Number).Float64()
		sdec, _ := r["s_dec"].(json.Number).Float64()
		// Independent small-angle check: flat-sky distance in arcsec.
		flat := 3600 * math.Hypot((sra-ra)*math.Cos(dec*math.Pi/180), sdec-dec)
		if d < prev || math.Abs(d-flat) > 0.5 || d > radius*3600 {
			t.Errorf("obsid %v: distance %v (flat %v), previous %v", r["obsid"], d, flat, prev)
		}
		prev = d
	}
	// A count over the same cone (query_region_count).
	m := invoke(t, ts.URL, map[string]any{"service": "Mast.Caom.Filtered.Position", "params": map[string]any{
		"columns": "COUNT_BIG(*)", "filters": []any{}, "position": fmt.Sprintf("%v, %v, %v", ra, dec, radius)}})
	if fmt.Sprint(m.Data[0]["Column1"]) != strconv.Itoa(len(want)) || m.Fields[0].Type != "string" {
		t.Fatalf("count %v fields %v, want %d", m.Data, m.Fields, len(want))
	}
}

func TestProductsService(t *testing.T) {
	c := generated()
	_, ts := startServer(t, Options{Catalog: c, PageSizeCap: 7})
	ids := []string{c.obsidString(18), c.obsidString(19), c.obsidString(5), c.obsidString(19)}
	rows := invokeAll(t, ts.URL, map[string]any{"service": "Mast.Caom.Products", "params": map[string]any{"obsid": strings.Join(ids, ", ")}})
	var want []map[string]any
	for _, id := range ids[:3] {
		want = append(want, c.ProductsFor(id)...)
	}
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(rows), len(want))
	}
	for i := range rows {
		for _, f := range ProductFields {
			if got, exp := fmt.Sprint(rows[i][f.Name]), fmt.Sprint(want[i][f.Name]); got != exp && !(rows[i][f.Name] == nil && want[i][f.Name] == nil) {
				t.Fatalf("row %d %s = %s, want %s", i, f.Name, got, exp)
			}
		}
	}
	asList := invokeAll(t, ts.URL, map[string]any{"service": "Mast.Caom.Products", "params": map[string]any{"obsid": []any{ids[0], ids[1]}}})
	if len(asList) != len(c.ProductsFor(ids[0]))+len(c.ProductsFor(ids[1])) {
		t.Fatalf("obsid as a JSON list: %d rows", len(asList))
	}
	m := invoke(t, ts.URL, map[string]any{"service": "Mast.Caom.Products", "params": map[string]any{"obsid": "999"}})
	if m.Status != "COMPLETE" || len(m.Data) != 0 || m.Paging.RowsFiltered != 0 {
		t.Fatalf("unknown obsid: %+v", m)
	}
}

func TestColumnsConfig(t *testing.T) {
	_, ts := startServer(t, Options{})
	post := func(id string) map[string]map[string]any {
		resp, err := http.Post(ts.URL+"/portal/Mashup/Mashup.asmx/columnsconfig", "application/x-www-form-urlencoded", strings.NewReader("colConfigId="+id))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		return m
	}
	for _, id := range []string{"Mast.Caom.Cone", "Mast.Caom.Filtered", "Mast.Caom.Filtered.Position"} {
		if m := post(id); len(m) != 51 || m["obsid"]["text"] != "Product Group ID" {
			t.Errorf("%s: %d keys", id, len(m))
		}
	}
	p := post("Mast.Caom.Products")
	for col, label := range map[string]string{"obs_id": "Observation ID", "obsID": "Product Group ID", "obs_collection": "Mission"} {
		if p[col]["text"] != label {
			t.Errorf("products %s label %v", col, p[col]["text"])
		}
	}
	for _, f := range ProductFields {
		e := p[f.Name]
		if e["text"] == nil || e["vot.datatype"] == nil || e["vot.description"] == nil {
			t.Errorf("products config %s: %v", f.Name, e)
		}
	}
	if m := post("Mast.Name.Lookup"); len(m) != 0 {
		t.Errorf("unknown id: %v", m)
	}
}

func TestMissions(t *testing.T) {
	for name, c := range map[string]*Catalog{"recorded": Recorded(), "generated": generated()} {
		_, ts := startServer(t, Options{Catalog: c})
		var doc struct {
			Status string
			Data   struct {
				Tables []struct {
					Columns []struct {
						Text               string
						ExtendedProperties struct{ HistObj json.RawMessage }
					}
				}
			}
		}
		raw := rawInvoke(t, ts.URL, `{"service":"Mast.Caom.All","params":{},"format":"extjs","pagesize":50000,"page":1}`)
		if err := json.Unmarshal(raw, &doc); err != nil || doc.Status != "COMPLETE" {
			t.Fatalf("%s: %v %s", name, err, doc.Status)
		}
		var got []string
		for _, col := range doc.Data.Tables[0].Columns {
			if col.Text == "obs_collection" {
				keys, err := objectKeys(col.ExtendedProperties.HistObj)
				if err != nil {
					t.Fatal(err)
				}
				for _, k := range keys {
					if k != "hist" {
						got = append(got, k)
					}
				}
			}
		}
		if !equalStrings(got, c.Missions()) {
			t.Errorf("%s missions %v, want %v", name, got, c.Missions())
		}
	}
}

func rawInvoke(t *testing.T, base, req string) []byte {
	t.Helper()
	resp, err := http.PostForm(base+"/api/v0/invoke", url.Values{"request": {req}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return b
}

func TestNameResolution(t *testing.T) {
	c := generated()
	_, ts := startServer(t, Options{Catalog: c})
	type entries struct {
		ResolvedCoordinate []struct {
			SearchString, Resolver string
			RA                     float64 `json:"ra"`
			Decl                   float64 `json:"decl"`
		}
	}
	decode := func(b []byte) entries {
		var e entries
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatalf("%v: %s", err, b)
		}
		return e
	}
	// The old astroquery lookup: GET /api/v0/invoke?request=...
	_, b := get(t, ts.URL+"/api/v0/invoke?request="+url.QueryEscape(`{"service":"Mast.Name.Lookup","params":{"input":"M 101","format":"json"}}`))
	if e := decode(b); len(e.ResolvedCoordinate) != 1 || e.ResolvedCoordinate[0].RA != 210.802429 {
		t.Fatalf("Name.Lookup M 101: %s", b)
	}
	name := c.TargetNames()[10]
	_, b = get(t, ts.URL+"/Santa-war/query?"+url.Values{"name": {strings.ToUpper(name), "m1"}, "outputFormat": {"json"}, "resolveAll": {"False"}}.Encode())
	e := decode(b)
	ra, dec, _ := c.Resolve(name)
	if len(e.ResolvedCoordinate) != 2 || e.ResolvedCoordinate[0].RA != ra || e.ResolvedCoordinate[0].Decl != dec || e.ResolvedCoordinate[1].SearchString != "m1" {
		t.Fatalf("SANTA: %s", b)
	}
	rc := Recorded()
	_, ts2 := startServer(t, Options{Catalog: rc})
	_, b = get(t, ts2.URL+"/Santa-war/query?name=M101&outputFormat=json&resolveAll=true")
	if e := decode(b); len(e.ResolvedCoordinate) != 3 {
		t.Fatalf("resolveAll M101: %s", b)
	}
	_, b = get(t, ts2.URL+"/Santa-war/query?name=TIC+307210830&outputFormat=json&resolveAll=False&resolver=SIMBAD&resolver=TIC")
	if e := decode(b); len(e.ResolvedCoordinate) != 2 || e.ResolvedCoordinate[0].Resolver != "TIC" {
		t.Fatalf("resolver list: %s", b)
	}
	_, b = get(t, ts2.URL+"/Santa-war/query?name=nonexisting&outputFormat=json")
	if e := decode(b); len(e.ResolvedCoordinate) != 0 {
		t.Fatalf("unknown name: %s", b)
	}
}

func TestWhoami(t *testing.T) {
	_, ts := startServer(t, Options{Token: "s3cret"})
	var info struct {
		Ezid   string
		Anon   bool
		Attrib map[string]any
	}
	_, b := get(t, ts.URL+"/whoami")
	if err := json.Unmarshal(b, &info); err != nil || !info.Anon || info.Ezid != "anonymous" {
		t.Fatalf("anonymous whoami: %s", b)
	}
	_, b = get(t, ts.URL+"/whoami", "Cookie", "mast_token=s3cret")
	if err := json.Unmarshal(b, &info); err != nil || info.Anon || info.Attrib["display_name"] != "A. User" {
		t.Fatalf("logged-in whoami: %s", b)
	}
	_, b = get(t, ts.URL+"/whoami", "Cookie", "mast_token=wrong")
	if err := json.Unmarshal(b, &info); err != nil || !info.Anon {
		t.Fatalf("wrong token whoami: %s", b)
	}
}

func TestStats(t *testing.T) {
	s, ts := startServer(t, Options{})
	invoke(t, ts.URL, m103Cone)
	req := filtered(map[string]any{"paramName": "obs_collection", "values": []any{"HST"}})
	invoke(t, ts.URL, req)
	req["params"].(map[string]any)["columns"] = "COUNT_BIG(*)"
	invoke(t, ts.URL, req)
	uri := "mast:HST/product/u9o40504m_c3m.fits"
	get(t, downloadURL(ts.URL, uri), "Range", "bytes=0-99")
	do(t, http.MethodHead, downloadURL(ts.URL, uri))
	st := s.Stats()
	if st.Requests[EndpointInvoke] != 3 || st.Requests[EndpointDownload] != 2 {
		t.Errorf("Requests %v", st.Requests)
	}
	if st.Services["Mast.Caom.Cone"] != 1 || st.Services["Mast.Caom.Filtered"] != 1 || st.CountQueries["Mast.Caom.Filtered"] != 1 {
		t.Errorf("Services %v CountQueries %v", st.Services, st.CountQueries)
	}
	if st.DownloadBytes != 100 {
		t.Errorf("DownloadBytes %d, want 100", st.DownloadBytes)
	}
	e := st.Log[3]
	if e.Method != "GET" || e.URI != uri || e.Range != "bytes=0-99" || e.Status != http.StatusPartialContent {
		t.Errorf("log entry %+v", e)
	}
	s.ResetStats()
	if st := s.Stats(); len(st.Log) != 0 || len(st.Requests) != 0 || st.DownloadBytes != 0 {
		t.Errorf("after reset: %+v", st)
	}
}
