package mast

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// fixtureMAST answers like astroquery's mocked tests: one fixture per
// service, a COUNT_BIG(*) answer for counts, and Products rows built from
// the requested obsids.
type fixtureMAST struct {
	t  *testing.T
	mu sync.Mutex
	// invokes records every invoke request in arrival order.
	invokes []mashupRequest
}

func (f *fixtureMAST) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t := f.t
	if r.URL.Path == "/portal/Mashup/Mashup.asmx/columnsconfig" {
		w.Write(fixture(t, "columnsconfig.json"))
		return
	}
	req := readMashupRequest(t, r)
	f.mu.Lock()
	f.invokes = append(f.invokes, req)
	f.mu.Unlock()
	if strings.Contains(req.Raw, "COUNT_BIG%28%2A%29") { // astroquery's own mock test
		w.Write(fixture(t, "countsResp.json"))
		return
	}
	switch req.Service {
	case ServiceCone:
		w.Write(fixture(t, "caom.json"))
	case ServiceFiltered:
		w.Write(fixture(t, "advSearch.json"))
	case ServiceFilteredPosition:
		w.Write(fixture(t, "advSearchPos.json"))
	case ServiceAll:
		w.Write(fixture(t, "missions.extjs"))
	case ServiceProducts:
		ids := strings.Split(req.Params["obsid"].(string), ",")
		var rows []string
		for _, id := range ids {
			rows = append(rows, fmt.Sprintf(`{"obsID": %s, "dataURI": "mast:X/product/%s.fits", "_selected_": null}`, id, id))
		}
		fmt.Fprintf(w, `{"status": "COMPLETE", "msg": "", "data": [%s], "fields": [{"name": "obsID", "type": "string"}, {"name": "dataURI", "type": "string"}, {"name": "_selected_", "type": "boolean"}], "paging": {"page": 1, "pageSize": 50000, "pagesFiltered": 1, "rows": %d, "rowsFiltered": %d, "rowsTotal": %d}}`,
			strings.Join(rows, ", "), len(rows), len(rows), len(rows))
	default:
		w.WriteHeader(400)
	}
}

func newFixtureClient(t *testing.T) (*testClient, *fixtureMAST) {
	f := &fixtureMAST{t: t}
	return newTestClient(t, f, Config{}), f
}

// paramsJSON is the params object as sent, re-encoded with sorted keys.
func sentParams(t *testing.T, r mashupRequest) string {
	return mustJSON(t, r.Params)
}

func TestObservationsServices(t *testing.T) {
	pos := &Position{RA: 23.34086, Dec: 60.658, Radius: 0.2}
	crits := []Criterion{crit("filters", lit("NUV", "FUV")...)}
	for _, tc := range []struct {
		name    string
		q       Query
		service string
		params  string
		rows    int
	}{
		{"cone", Query{Position: pos}, ServiceCone, `{"dec":60.658,"ra":23.34086,"radius":0.2}`, 19},
		{"filtered", Query{Criteria: crits}, ServiceFiltered,
			`{"columns":"*","filters":[{"paramName":"filters","separator":";","values":["NUV","FUV"]}]}`, 3},
		{"filtered position", Query{Criteria: crits, Position: pos}, ServiceFilteredPosition,
			`{"columns":"*","filters":[{"paramName":"filters","separator":";","values":["NUV","FUV"]}],"position":"23.34086, 60.658, 0.2"}`, 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, f := newFixtureClient(t)
			tab, err := c.Observations(context.Background(), tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if len(tab.Rows) != tc.rows || len(f.invokes) != 1 {
				t.Fatalf("%d rows from %d requests", len(tab.Rows), len(f.invokes))
			}
			r := f.invokes[0]
			if r.Service != tc.service || sentParams(t, r) != tc.params {
				t.Errorf("sent %s %s\nwant %s %s", r.Service, sentParams(t, r), tc.service, tc.params)
			}
			if _, ok := tab.Column("_selected_"); ok {
				t.Error("_selected_ column kept")
			}
		})
	}
}

func TestObservationsConeBytes(t *testing.T) {
	c, f := newFixtureClient(t)
	if _, err := c.Observations(context.Background(), Query{Position: &Position{RA: 23.34086, Dec: 60.658, Radius: 0.2}}); err != nil {
		t.Fatal(err)
	}
	if f.invokes[0].Raw != wireExample {
		t.Errorf("body\n got %s\nwant %s", f.invokes[0].Raw, wireExample)
	}
}

func TestObservationsNeedsSomething(t *testing.T) {
	c, f := newFixtureClient(t)
	_, err := c.Observations(context.Background(), Query{})
	var ice *InvalidCriteriaError
	if !errors.As(err, &ice) || !strings.Contains(err.Error(), "non-positional criterion") {
		t.Fatalf("err = %v", err)
	}
	_, err = c.Observations(context.Background(), Query{Criteria: []Criterion{crit("nope", lit("x")...)}})
	if !errors.As(err, &ice) || ice.Name != "nope" {
		t.Fatalf("err = %v", err)
	}
	if len(f.invokes) != 0 {
		t.Errorf("%d invokes for invalid queries", len(f.invokes))
	}
}

func TestCount(t *testing.T) {
	pos := &Position{RA: 23.34086, Dec: 60.658, Radius: 0.2}
	crits := []Criterion{crit("proposal_pi", wild("Ost%"))}
	for _, tc := range []struct {
		name    string
		q       Query
		service string
		params  string
	}{
		{"region (query_region_count)", Query{Position: pos}, ServiceFilteredPosition,
			`{"columns":"COUNT_BIG(*)","filters":[],"position":"23.34086, 60.658, 0.2"}`},
		{"criteria", Query{Criteria: crits}, ServiceFiltered,
			`{"columns":"COUNT_BIG(*)","filters":[{"freeText":"Ost%","paramName":"proposal_pi","values":[]}]}`},
		{"criteria and position", Query{Criteria: crits, Position: pos}, ServiceFilteredPosition,
			`{"columns":"COUNT_BIG(*)","filters":[{"freeText":"Ost%","paramName":"proposal_pi","values":[]}],"position":"23.34086, 60.658, 0.2"}`},
		{"archive total", Query{}, ServiceFiltered, `{"columns":"COUNT_BIG(*)","filters":[]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, f := newFixtureClient(t)
			n, err := c.Count(context.Background(), tc.q)
			if err != nil || n != 599 {
				t.Fatalf("Count = %d, %v", n, err)
			}
			r := f.invokes[0]
			if r.Service != tc.service || sentParams(t, r) != tc.params {
				t.Errorf("sent %s %s\nwant %s %s", r.Service, sentParams(t, r), tc.service, tc.params)
			}
		})
	}
}

func TestCountParsesStringsAndRejectsJunk(t *testing.T) {
	for body, want := range map[string]any{
		`[{"Column1": "42"}]`:   int64(42),
		`[{"Column1": 7.0}]`:    int64(7),
		`[{"Column1": "many"}]`: ErrServer,
		`[]`:                    ErrServer,
	} {
		c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `{"status": "COMPLETE", "data": %s, "fields": [{"name": "Column1", "type": "string"}]}`, body)
		}), Config{})
		n, err := c.Count(context.Background(), Query{})
		if e, ok := want.(error); ok {
			if !errors.Is(err, e) {
				t.Errorf("%s: %d, %v; want %v", body, n, err, e)
			}
		} else if err != nil || n != want {
			t.Errorf("%s: %d, %v; want %v", body, n, err, want)
		}
	}
}

func TestProductsBatches(t *testing.T) {
	c, f := newFixtureClient(t)
	var ids []string
	for i := 0; i < 1201; i++ {
		ids = append(ids, fmt.Sprint(3000000000+i))
	}
	// Repeats, blanks and comma lists are normalised away.
	in := append([]string{" " + ids[0] + " ", "", ids[1] + "," + ids[2]}, ids[3:]...)
	in = append(in, ids[5])
	tab, err := c.Products(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.invokes) != 3 {
		t.Fatalf("%d requests, want 3", len(f.invokes))
	}
	sizes := map[int]int{}
	for _, r := range f.invokes {
		if r.Service != ServiceProducts {
			t.Errorf("service %s", r.Service)
		}
		sizes[len(strings.Split(r.Params["obsid"].(string), ","))]++
	}
	if sizes[500] != 2 || sizes[201] != 1 {
		t.Errorf("batch sizes %v, want 500, 500, 201", sizes)
	}
	if len(tab.Rows) != 1201 {
		t.Fatalf("%d rows", len(tab.Rows))
	}
	for i, row := range tab.Rows { // batch order is kept despite concurrency
		if row.Str("obsID") != ids[i] {
			t.Fatalf("row %d is %s, want %s", i, row.Str("obsID"), ids[i])
		}
	}
	if fieldNames(tab) != "obsID,dataURI" {
		t.Errorf("fields %s", fieldNames(tab))
	}
}

func TestProductsErrors(t *testing.T) {
	c, _ := newFixtureClient(t)
	if _, err := c.Products(context.Background(), []string{" ", ","}); !strings.Contains(fmt.Sprint(err), "Observation list is empty") {
		t.Errorf("empty list: %v", err)
	}
	n := 0
	var mu sync.Mutex
	c2 := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		mu.Unlock()
		fmt.Fprint(w, `{"status": "ERROR", "msg": "Error converting data type varchar to bigint."}`)
	}), Config{})
	ids := make([]string, 2500)
	for i := range ids {
		ids[i] = fmt.Sprint("U9O4050", i)
	}
	_, err := c2.Products(context.Background(), ids)
	var se *ServiceError
	if !errors.As(err, &se) || se.Msg != "Error converting data type varchar to bigint." {
		t.Fatalf("err = %v", err)
	}
}

func TestMissions(t *testing.T) {
	c, f := newFixtureClient(t)
	m, err := c.Missions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := "BEFS EUVE FUSE GALEX HLA HST HUT IUE K2 K2FFI Kepler KeplerFFI SWIFT TUES WUPPE"
	if got := strings.Join(m, " "); got != want {
		t.Errorf("missions %s\nwant %s", got, want)
	}
	r := f.invokes[0]
	if r.Format != "extjs" || r.Service != ServiceAll || sentParams(t, r) != "{}" {
		t.Errorf("request %+v", r)
	}
}
