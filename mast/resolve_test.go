package mast

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
)

// santaServer serves resolver.json, filtered to the names asked as SANTA
// does, and records query strings and whether a token came along.
type santaServer struct {
	t       *testing.T
	mu      sync.Mutex
	queries []string
	leaked  bool
}

func (s *santaServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.queries = append(s.queries, r.URL.RawQuery)
	if r.Header.Get("Authorization") != "" || r.Header.Get("Cookie") != "" {
		s.leaked = true
	}
	s.mu.Unlock()
	switch r.URL.Path {
	case "/Santa-war/query":
		var all struct {
			ResolvedCoordinate []map[string]any `json:"resolvedCoordinate"`
		}
		mustUnmarshal(s.t, string(fixture(s.t, "resolver.json")), &all)
		name := strings.ToLower(r.URL.Query().Get("name"))
		var keep []map[string]any
		for _, rc := range all.ResolvedCoordinate {
			if rc["searchString"] == name {
				keep = append(keep, rc)
			}
		}
		fmt.Fprintf(w, `{"resolvedCoordinate": %s, "status": ""}`, mustJSON(s.t, keep))
	case "/api/v0.1/path_lookup/":
		out := map[string]any{}
		for _, u := range r.URL.Query()["uri"] {
			switch {
			case u == "mast:HST/product/u9o40504m_c3m.fits":
				out[u] = map[string]any{"status_code": 200, "path": "/hst/public/u9o4/u9o40504m/u9o40504m_c3m.fits"}
			case strings.Contains(u, "does_not_exist"):
				out[u] = map[string]any{"status_code": 404, "path": nil}
			case strings.Contains(u, "absent"):
			default:
				out[u] = map[string]any{"status_code": 200, "path": "/x/" + u}
			}
		}
		w.Write([]byte(mustJSON(s.t, out)))
	default:
		w.WriteHeader(404)
	}
}

func TestResolve(t *testing.T) {
	for _, tc := range []struct {
		name, resolver string
		ra, dec        float64
		query          string
	}{
		{"TIC 307210830", "", 124.531756290083, -68.3129998725044, "outputFormat=json&resolveAll=False&name=TIC+307210830"},
		{"TIC 307210830", "simbad", 124.5317560026638, -68.3130014904408, "outputFormat=json&resolveAll=False&resolver=SIMBAD&resolver=TIC&name=TIC+307210830"},
		{"M1", "SIMBAD", 83.6324, 22.0174, "outputFormat=json&resolveAll=False&resolver=SIMBAD&name=M1"},
		{" M101 ", "", 210.802429, 54.34875, "outputFormat=json&resolveAll=False&name=M101"},
		{"Barnard's Star", "", 269.4520769586187, 4.6933649665767, "outputFormat=json&resolveAll=False&name=Barnard%27s+Star"},
	} {
		s := &santaServer{t: t}
		c := newTestClient(t, s, Config{Token: "tok"})
		ra, dec, err := c.Resolve(context.Background(), tc.name, tc.resolver)
		if err != nil {
			t.Errorf("%s/%s: %v", tc.name, tc.resolver, err)
			continue
		}
		if ra != tc.ra || dec != tc.dec {
			t.Errorf("%s/%s = (%v, %v), want (%v, %v)", tc.name, tc.resolver, ra, dec, tc.ra, tc.dec)
		}
		if s.queries[0] != tc.query {
			t.Errorf("query %s\n want %s", s.queries[0], tc.query)
		}
		if s.leaked {
			t.Error("token sent to the resolver")
		}
	}
}

func TestResolveErrors(t *testing.T) {
	c := newTestClient(t, &santaServer{t: t}, Config{})
	_, _, err := c.Resolve(context.Background(), "nonexisting", "")
	var re *ResolveError
	if !errors.As(err, &re) || !errors.Is(err, ErrNotFound) || err.Error() != `Could not resolve "nonexisting" to a sky position.` {
		t.Errorf("unknown name: %v", err)
	}
	_, _, err = c.Resolve(context.Background(), "Barnard's Star", "ned")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `using resolver "NED"`) {
		t.Errorf("resolver without an answer: %v", err)
	}
	_, _, err = c.Resolve(context.Background(), "M1", "invalid")
	if !errors.As(err, &re) || errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "Invalid resolver") {
		t.Errorf("invalid resolver: %v", err)
	}
	bad := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(502) }), Config{})
	if _, _, err := bad.Resolve(context.Background(), "M1", ""); !errors.Is(err, ErrServer) {
		t.Errorf("502: %v", err)
	}
}

func TestPathLookup(t *testing.T) {
	s := &santaServer{t: t}
	c := newTestClient(t, s, Config{Token: "tok"})
	uris := []string{"mast:HST/product/u9o40504m_c3m.fits", "mast:HST/product/does_not_exist.fits", "mast:absent"}
	for i := 0; i < 100; i++ {
		uris = append(uris, fmt.Sprintf("mast:TESS/product/f%03d.fits", i))
	}
	uris = append(uris, uris[3]) // a repeat costs nothing
	got, err := c.PathLookup(context.Background(), uris)
	if err != nil {
		t.Fatal(err)
	}
	if got["mast:HST/product/u9o40504m_c3m.fits"] != "hst/public/u9o4/u9o40504m/u9o40504m_c3m.fits" {
		t.Errorf("hit: %q", got["mast:HST/product/u9o40504m_c3m.fits"])
	}
	if _, ok := got["mast:HST/product/does_not_exist.fits"]; ok {
		t.Error("null path present in the map")
	}
	if _, ok := got["mast:absent"]; ok {
		t.Error("absent key present in the map")
	}
	if len(got) != 101 {
		t.Errorf("%d entries, want 101", len(got))
	}
	if len(s.queries) != 3 { // 103 unique URIs in batches of 40
		t.Fatalf("%d requests, want 3", len(s.queries))
	}
	first := s.queries[0]
	if !strings.HasPrefix(first, "uri=mast%3AHST%2Fproduct%2Fu9o40504m_c3m.fits&uri=") || !strings.HasSuffix(first, "&use_cloud_path=True") {
		t.Errorf("query %s", first)
	}
	var counts []int
	for _, q := range s.queries {
		counts = append(counts, strings.Count(q, "uri="))
	}
	sort.Ints(counts)
	if fmt.Sprint(counts) != "[23 40 40]" {
		t.Errorf("batch sizes %v", counts)
	}
	if s.leaked {
		t.Error("token sent to path_lookup")
	}
}
