package mast

// Hostile values: whatever text a user puts into a criterion, an object
// name, an obsid list or a data URI reaches MAST verbatim in exactly the
// field it belongs to, and never changes the shape of the request (no extra
// filter, envelope key, form field or query parameter). Each test builds its
// request through the real client and decodes what an httptest server
// received on the wire.

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
)

// hostileValues are texts that break naive quoting in JSON, form encoding,
// URLs or shells, plus long and non-ASCII ones.
var hostileValues = []string{
	`a"b`, `a\b`, `\"`, `\u0000`, `"}]}, {"paramName": "obs_collection", "values": ["JWST"]}, {"x": "`,
	`{`, `}`, `[`, `]`, `:`, `,`, `{"a": [1, 2]}`, `a,b`, `'; rm -rf / #`, "a\x00b", "line1\nline2\r\n", "\t",
	"&request=x", "a=b&c=d", "%22%7D", "%2F%2C%25", "+ +", "#frag", "?q=1", `<script>`,
	"Ωμέγα 天体 Ünïcødé", "😀 astral", "\u2028\u2029", "\ufeffBOM", "\x7f",
	strings.Repeat("x", 255), strings.Repeat(`"\`, 2048),
}

// captureServer answers invoke with an empty COMPLETE table and
// columnsconfig with the recorded config, and keeps every request.
type captureServer struct {
	t  *testing.T
	mu sync.Mutex
	// bodies of invoke and columnsconfig requests; URLs of all requests.
	invokes, configs []string
	urls             []*url.URL
}

func (s *captureServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.urls = append(s.urls, r.URL)
	switch {
	case r.URL.Path == "/api/v0/invoke":
		s.invokes = append(s.invokes, string(body))
	case strings.HasSuffix(r.URL.Path, "/columnsconfig"):
		s.configs = append(s.configs, string(body))
	}
	s.mu.Unlock()
	switch {
	case r.URL.Path == "/api/v0/invoke":
		io.WriteString(w, `{"status": "COMPLETE", "msg": "", "data": [], "fields": [{"name": "obsid", "type": "string"}], "paging": {"page": 1, "pageSize": 50000, "pagesFiltered": 1, "rows": 0, "rowsFiltered": 0, "rowsTotal": 0}}`)
	case strings.HasSuffix(r.URL.Path, "/columnsconfig"):
		w.Write(fixture(s.t, "columnsconfig.json"))
	case r.URL.Path == "/Santa-war/query":
		io.WriteString(w, `{"resolvedCoordinate": [{"resolver": "NED", "ra": 1.5, "decl": -2.5}]}`)
	case r.URL.Path == "/api/v0.1/path_lookup/":
		io.WriteString(w, `{}`)
	case r.URL.Path == "/api/v0.1/Download/file":
		w.Header().Set("Content-Length", "3")
		if r.Method == http.MethodGet {
			io.WriteString(w, "abc")
		}
	default:
		http.NotFound(w, r)
	}
}

func (s *captureServer) reset() {
	s.mu.Lock()
	s.invokes, s.configs, s.urls = nil, nil, nil
	s.mu.Unlock()
}

// envelopeOf decodes one invoke body: exactly one form field, request,
// whose value is a JSON object with exactly astroquery's envelope keys.
func envelopeOf(t *testing.T, body string) map[string]any {
	t.Helper()
	form, err := url.ParseQuery(body)
	if err != nil {
		t.Fatalf("body is not form-encoded: %v\n%q", err, body)
	}
	if len(form) != 1 || len(form["request"]) != 1 {
		t.Fatalf("form fields %q, want only request=", slices.Sorted(maps.Keys(form)))
	}
	dec := json.NewDecoder(strings.NewReader(form.Get("request")))
	dec.UseNumber()
	var env map[string]any
	if err := dec.Decode(&env); err != nil {
		t.Fatalf("request is not JSON: %v\n%q", err, form.Get("request"))
	}
	if dec.More() {
		t.Fatalf("request has more after the JSON object: %q", form.Get("request"))
	}
	keys := slices.Sorted(maps.Keys(env))
	if want := []string{"cacheBreaker", "format", "page", "pagesize", "params", "service"}; !slices.Equal(keys, want) {
		t.Fatalf("envelope keys %q, want %q", keys, want)
	}
	return env
}

// filtersOf returns params.filters of an envelope, checking the params keys.
func filtersOf(t *testing.T, env map[string]any, wantParams ...string) []map[string]any {
	t.Helper()
	params, _ := env["params"].(map[string]any)
	if keys := slices.Sorted(maps.Keys(params)); !slices.Equal(keys, wantParams) {
		t.Fatalf("params keys %q, want %q", keys, wantParams)
	}
	raw, _ := params["filters"].([]any)
	out := make([]map[string]any, len(raw))
	for i, f := range raw {
		m, ok := f.(map[string]any)
		if !ok {
			t.Fatalf("filter %d is %T", i, f)
		}
		out[i] = m
	}
	return out
}

// TestHostileCriterionValues: each hostile text, as a literal value of a
// discrete column, is the one value of the one filter; as a wildcard it is
// the freeText; next to a second criterion nothing leaks between them.
func TestHostileCriterionValues(t *testing.T) {
	s := &captureServer{t: t}
	c := newTestClient(t, s, Config{})
	ctx := context.Background()
	for _, v := range hostileValues {
		s.reset()
		_, err := c.Observations(ctx, Query{Criteria: []Criterion{
			{Name: "target_name", Values: []Value{{Text: v}}},
			{Name: "obs_collection", Values: []Value{{Text: "HST"}, {Text: v}}},
		}})
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		if len(s.invokes) != 1 {
			t.Fatalf("%q: %d invoke requests", v, len(s.invokes))
		}
		env := envelopeOf(t, s.invokes[0])
		if env["service"] != ServiceFiltered {
			t.Fatalf("%q: service %v", v, env["service"])
		}
		fs := filtersOf(t, env, "columns", "filters")
		if len(fs) != 2 {
			t.Fatalf("%q: %d filters: %v", v, len(fs), fs)
		}
		checkFilter(t, v, fs[0], "target_name", []string{v}, "")
		checkFilter(t, v, fs[1], "obs_collection", []string{"HST", v}, "")
		if fs[1]["separator"] != ";" { // from the config, never from the value
			t.Fatalf("%q: obs_collection separator %v", v, fs[1]["separator"])
		}

		// The same text as the wildcard of a criterion.
		s.reset()
		if _, err := c.Observations(ctx, Query{Criteria: []Criterion{
			{Name: "proposal_pi", Values: []Value{{Text: "Ost"}, {Text: v + "%", Wildcard: true}}},
		}}); err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		fs = filtersOf(t, envelopeOf(t, s.invokes[0]), "columns", "filters")
		if len(fs) != 1 {
			t.Fatalf("%q: %d filters", v, len(fs))
		}
		checkFilter(t, v, fs[0], "proposal_pi", []string{"Ost"}, strings.ReplaceAll(v, "*", "%")+"%")
	}
}

// checkFilter: f has exactly paramName, values (and freeText when wanted),
// with the values verbatim.
func checkFilter(t *testing.T, v string, f map[string]any, name string, values []string, freeText string) {
	t.Helper()
	wantKeys := []string{"paramName", "values"}
	if freeText != "" {
		wantKeys = append(wantKeys, "freeText")
	}
	if name == "obs_collection" { // the config gives it a separator
		wantKeys = append(wantKeys, "separator")
	}
	slices.Sort(wantKeys)
	if keys := slices.Sorted(maps.Keys(f)); !slices.Equal(keys, wantKeys) {
		t.Fatalf("%q: filter keys %q, want %q", v, keys, wantKeys)
	}
	if f["paramName"] != name {
		t.Fatalf("%q: paramName %v, want %q", v, f["paramName"], name)
	}
	raw, _ := f["values"].([]any)
	var got []string
	for _, x := range raw {
		s, ok := x.(string)
		if !ok {
			t.Fatalf("%q: value %v is %T", v, x, x)
		}
		got = append(got, s)
	}
	if !slices.Equal(got, values) {
		t.Fatalf("values %q, want %q", got, values)
	}
	if freeText != "" && f["freeText"] != freeText {
		t.Fatalf("freeText %q, want %q", f["freeText"], freeText)
	}
}

// TestHostileRangeBoundsAreRefused: a continuous column takes numbers and
// dates only; anything else is refused before a request is sent.
func TestHostileRangeBoundsAreRefused(t *testing.T) {
	s := &captureServer{t: t}
	c := newTestClient(t, s, Config{})
	for _, v := range append(hostileValues, "1e999", "NaN", "Inf", "0x10", "1_0", "1}") {
		s.reset()
		_, err := c.Observations(context.Background(), Query{Criteria: []Criterion{
			{Name: "s_ra", Values: []Value{{IsRange: true, Lo: "1", Hi: v}}},
		}})
		var ice *InvalidCriteriaError
		if !errors.As(err, &ice) {
			t.Fatalf("s_ra=1..%q: %v, want InvalidCriteriaError", v, err)
		}
		if len(s.invokes) != 0 {
			t.Fatalf("s_ra=1..%q: sent %d invoke requests", v, len(s.invokes))
		}
	}
}

// TestHostileObjectNames: the resolver's query string carries the name
// verbatim (surrounding white space trimmed, as astroquery does) in one
// name parameter, and nothing else.
func TestHostileObjectNames(t *testing.T) {
	s := &captureServer{t: t}
	c := newTestClient(t, s, Config{})
	for _, v := range hostileValues {
		for _, resolver := range []string{"", "NED"} {
			name := "M101 " + v // never blank after trimming
			s.reset()
			if _, _, err := c.Resolve(context.Background(), name, resolver); err != nil {
				t.Fatalf("%q: %v", name, err)
			}
			if len(s.urls) != 1 || s.urls[0].Path != "/Santa-war/query" {
				t.Fatalf("%q: requests %v", name, s.urls)
			}
			q, err := url.ParseQuery(s.urls[0].RawQuery)
			if err != nil {
				t.Fatalf("%q: query %q: %v", name, s.urls[0].RawQuery, err)
			}
			want := url.Values{"outputFormat": {"json"}, "resolveAll": {"False"}, "name": {strings.TrimSpace(name)}}
			if resolver != "" {
				want["resolver"] = []string{resolver}
			}
			if !maps.EqualFunc(q, want, slices.Equal) {
				t.Fatalf("%q: query %q decodes to %q, want %q", name, s.urls[0].RawQuery, q, want)
			}
		}
	}
}

// TestHostileObsidsAndURIs: an obsid list, path_lookup URIs and download
// URIs carry hostile text verbatim in their one field.
func TestHostileObsidsAndURIs(t *testing.T) {
	s := &captureServer{t: t}
	c := newTestClient(t, s, Config{})
	ctx := context.Background()
	for _, v := range hostileValues {
		// Products: params is exactly {"obsid": "<ids>"}. Commas split ids
		// (astroquery joins them with ","), so compare the joined form.
		s.reset()
		if _, err := c.Products(ctx, []string{"2003738726", v}); err != nil {
			var ice *InvalidCriteriaError
			if !errors.As(err, &ice) {
				t.Fatalf("Products %q: %v", v, err)
			}
		}
		for _, body := range s.invokes {
			env := envelopeOf(t, body)
			params, _ := env["params"].(map[string]any)
			if keys := slices.Sorted(maps.Keys(params)); !slices.Equal(keys, []string{"obsid"}) {
				t.Fatalf("Products %q: params keys %q", v, keys)
			}
			var ids []string
			for _, id := range strings.Split(v, ",") {
				if id = strings.TrimSpace(id); id != "" && id != "2003738726" && !slices.Contains(ids, id) {
					ids = append(ids, id)
				}
			}
			if want := strings.Join(append([]string{"2003738726"}, ids...), ","); params["obsid"] != want {
				t.Fatalf("Products %q: obsid %q, want %q", v, params["obsid"], want)
			}
		}

		uri := "mast:HST/product/" + v + ".fits"
		s.reset()
		if _, err := c.PathLookup(ctx, []string{uri, "mast:HST/product/x.fits"}); err != nil {
			t.Fatalf("PathLookup %q: %v", uri, err)
		}
		if len(s.urls) != 1 {
			t.Fatalf("PathLookup %q: %d requests", uri, len(s.urls))
		}
		q, err := url.ParseQuery(s.urls[0].RawQuery)
		want := url.Values{"uri": {uri, "mast:HST/product/x.fits"}, "use_cloud_path": {"True"}}
		if err != nil || !maps.EqualFunc(q, want, slices.Equal) {
			t.Fatalf("PathLookup %q: query %q decodes to %q (%v), want %q", uri, s.urls[0].RawQuery, q, err, want)
		}

		s.reset()
		if _, err := c.Head(ctx, uri); err != nil {
			t.Fatalf("Head %q: %v", uri, err)
		}
		buf := make([]byte, 3)
		if _, err := c.ReadAt(ctx, uri, buf, 0); err != nil && !errors.Is(err, io.EOF) {
			t.Fatalf("ReadAt %q: %v", uri, err)
		}
		if len(s.urls) < 2 {
			t.Fatalf("Head+ReadAt %q: %d requests", uri, len(s.urls))
		}
		for _, u := range s.urls {
			q, err := url.ParseQuery(u.RawQuery)
			if err != nil || u.Path != "/api/v0.1/Download/file" || !maps.EqualFunc(q, url.Values{"uri": {uri}}, slices.Equal) {
				t.Fatalf("download of %q went to %q: path %q, query %q (%v)", uri, u, u.Path, q, err)
			}
		}
	}
}

// TestHostileDescribeQuery: mastfs explain prints the same envelope it
// would send, and it is JSON whatever the values.
func TestHostileDescribeQuery(t *testing.T) {
	s := &captureServer{t: t}
	c := newTestClient(t, s, Config{})
	for _, v := range hostileValues {
		_, env, err := c.DescribeQuery(context.Background(), Query{
			Criteria: []Criterion{{Name: "target_name", Values: []Value{{Text: v}}}},
			Position: &Position{RA: 1, Dec: 2, Radius: 0.2},
		}, "*")
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		var back struct {
			Params struct {
				Filters []struct {
					ParamName string   `json:"paramName"`
					Values    []string `json:"values"`
				} `json:"filters"`
				Position string `json:"position"`
			} `json:"params"`
		}
		if err := json.Unmarshal([]byte(env), &back); err != nil {
			t.Fatalf("%q: envelope is not JSON: %v\n%s", v, err, env)
		}
		if f := back.Params.Filters; len(f) != 1 || f[0].ParamName != "target_name" || !slices.Equal(f[0].Values, []string{v}) {
			t.Fatalf("%q: filters %+v", v, f)
		}
	}
}
