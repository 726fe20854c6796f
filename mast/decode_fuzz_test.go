package mast

// Fuzz targets for every decoder of a MAST answer the client parses. Each
// target feeds arbitrary bytes through the real code path (Client method →
// http.Client → readBody → decoder) by way of an in-memory RoundTripper, so
// no socket is involved and a run is fast. The properties, for every input:
//
//   - no panic;
//   - either an error or a result, never both, never neither;
//   - errors are the documented typed ones (ErrServer, *ServiceError, ...);
//   - results satisfy the decoder's own invariants (below, per target);
//   - a bounded number of requests (EXECUTING and paging loops end);
//   - allocation linear in the input: at most allocPerByte bytes per input
//     byte plus allocSlack, so no length or count inside an answer can make
//     the client allocate on its say-so.
//
// Seeds are the recorded answers of mast/testdata (f.Add of the file bytes),
// plus EXECUTING and multi-page sequences built from them;
// testdata/fuzz/<Target>/ holds the corpus the fuzzer grew from those.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// fuzzSep separates the answers of a multi-answer input (EXECUTING polls,
// pages). ASCII RS cannot appear raw inside a JSON string, so it rarely cuts
// a seed's JSON.
const fuzzSep = "\x1e"

const (
	allocPerByte = 256     // bytes allocated per input byte, at most
	allocSlack   = 4 << 20 // plus this much, for the client's fixed costs
	maxFuzzReqs  = 64      // requests one call may send
	maxFuzzPolls = 8       // EXECUTING polls one call may wait through
	hangLimit    = 5 * time.Second
	// maxAttempts is how often one request may be sent: the client retries
	// broken answers (DefaultRetries attempts).
	maxAttempts = 4
)

// fuzzTransport answers request i with answers[i] (the last one repeated).
type fuzzTransport struct {
	answers []fuzzAnswer
	reqs    []*http.Request
}

type fuzzAnswer struct {
	status int
	header http.Header
	body   []byte
	// length is the Content-Length; -2 means len(body).
	length int64
}

func (ft *fuzzTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	ft.reqs = append(ft.reqs, r)
	if len(ft.reqs) > maxFuzzReqs {
		return nil, errors.New("fuzz: too many requests")
	}
	a := ft.answers[min(len(ft.reqs), len(ft.answers))-1]
	h := a.header.Clone()
	if h == nil {
		h = http.Header{}
	}
	length := a.length
	if length == -2 {
		length = int64(len(a.body))
	}
	status := a.status
	if status == 0 {
		status = http.StatusOK
	}
	return &http.Response{
		Status: strconv.Itoa(status) + " " + http.StatusText(status), StatusCode: status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(bytes.NewReader(a.body)), ContentLength: length, Request: r,
	}, nil
}

// jsonAnswers splits a fuzz input into 200 answers with JSON bodies.
func jsonAnswers(data []byte) []fuzzAnswer {
	parts := bytes.Split(data, []byte(fuzzSep))
	if len(parts) > maxFuzzReqs {
		parts = parts[:maxFuzzReqs]
	}
	out := make([]fuzzAnswer, len(parts))
	for i, p := range parts {
		out[i] = fuzzAnswer{body: p, length: -2, header: http.Header{"Content-Type": {"application/json"}}}
	}
	return out
}

// fuzzClient is a Client whose every request goes to ft, with a fixed
// cacheBreaker and a sleep that gives up after maxFuzzPolls waits.
func fuzzClient(ft *fuzzTransport) *Client {
	c := New(Config{
		BaseURL:      "http://mast.invalid",
		ResolverURL:  "http://resolver.invalid/Santa-war/query",
		HTTPClient:   &http.Client{Transport: ft},
		Timeout:      -1, // no timer: the transport never blocks
		PollDeadline: time.Hour,
	})
	c.newCacheBreaker = func() string { return testCacheBreaker }
	polls := 0
	c.sleep = func(ctx context.Context, d time.Duration) error {
		polls++
		if polls > maxFuzzPolls {
			return context.DeadlineExceeded // as if the caller's deadline passed
		}
		return nil
	}
	return c
}

// boundedAlloc runs fn and fails if it allocated more than the linear bound
// for an input of n bytes.
func boundedAlloc(t *testing.T, n int, fn func()) {
	t.Helper()
	// A call that hangs crashes the worker with every goroutine's stack, so
	// the fuzzer saves the input (a fuzz worker has no per-input timeout).
	dog := time.AfterFunc(hangLimit, func() {
		buf := make([]byte, 1<<20)
		panic(fmt.Sprintf("fuzz: one input ran for %v:\n%s", hangLimit, buf[:runtime.Stack(buf, true)]))
	})
	defer dog.Stop()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(allocPerByte*n+allocSlack); got > limit {
		t.Fatalf("allocated %d bytes for a %d-byte input (bound %d)", got, n, limit)
	}
}

// typedError checks that err is one the package documents for a bad answer.
func typedError(t *testing.T, err error) {
	t.Helper()
	var se *ServiceError
	var re *ResolveError
	switch {
	case errors.Is(err, ErrServer), errors.As(err, &se), errors.As(err, &re),
		errors.Is(err, context.DeadlineExceeded): // maxFuzzPolls EXECUTING answers
	default:
		t.Fatalf("untyped error %T: %v", err, err)
	}
}

func fixtureSeed(f *testing.F, name string) []byte {
	f.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// pagedSeeds splits a recorded Mashup answer into n pages with consistent
// paging blocks, joined by fuzzSep.
func pagedSeeds(f *testing.F, raw []byte, n int) []byte {
	f.Helper()
	var r struct {
		Status string            `json:"status"`
		Msg    string            `json:"msg"`
		Data   []json.RawMessage `json:"data"`
		Fields json.RawMessage   `json:"fields"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		f.Fatal(err)
	}
	per := (len(r.Data) + n - 1) / n
	var pages [][]byte
	for p := 0; p < n; p++ {
		rows := r.Data[min(p*per, len(r.Data)):min((p+1)*per, len(r.Data))]
		data, _ := json.Marshal(rows)
		pages = append(pages, fmt.Appendf(nil,
			`{"status": "COMPLETE", "msg": "", "data": %s, "fields": %s, "paging": {"page": %d, "pageSize": %d, "pagesFiltered": %d, "rows": %d, "rowsFiltered": %d, "rowsTotal": %d}}`,
			data, r.Fields, p+1, per, n, len(rows), len(r.Data), len(r.Data)))
	}
	return bytes.Join(pages, []byte(fuzzSep))
}

const executingAnswer = `{"status": "EXECUTING", "msg": "", "data": [], "fields": []}`

// FuzzInvoke: Mashup invoke answers (postInvoke, poll, the paging loop and
// the row decoder), through Invoke and ObservationsLimit.
func FuzzInvoke(f *testing.F) {
	for _, name := range []string{"caom.json", "advSearch.json", "advSearchPos.json", "countsResp.json", "products.json"} {
		raw := fixtureSeed(f, name)
		f.Add(raw)
		f.Add([]byte(executingAnswer + fuzzSep + string(raw)))
	}
	caom := fixtureSeed(f, "caom.json")
	f.Add(pagedSeeds(f, caom, 2))
	f.Add(pagedSeeds(f, caom, 3))
	f.Add([]byte(executingAnswer + fuzzSep + executingAnswer + fuzzSep + string(pagedSeeds(f, caom, 2))))
	for _, s := range []string{
		`{}`, `[]`, `null`, ``, `{"status": "ERROR", "msg": "Error converting data type varchar to bigint."}`,
		`{"status": "COMPLETE", "data": {"a": 1}, "fields": []}`,
		`{"status": "COMPLETE", "data": [{"_selected_": true, "a": 1}], "fields": [{"name": "_selected_"}, {"name": "a"}, {"name": "a"}], "paging": {"page": 1, "pagesFiltered": 9223372036854775807, "rowsFiltered": 9223372036854775807}}`,
		`{"status": "COMPLETE", "data": [], "fields": [], "paging": {"page": 1, "pagesFiltered": 5}}`,
		`{"status": "COMPLETE", "data": [{"a": 1}], "fields": [], "paging": {"page": 7, "pagesFiltered": 8}}`,
		`{"status": "WEIRD", "data": [{"a": 1e999}], "fields": [{"name": 5}]}`,
		`{"status": "COMPLETE", "msg": "", "data": [{"a": 1}], "fields": [{"name": "a", "type": "int"}], "paging": {"page": 1, "pageSize": 1, "pagesFiltered": 2, "rows": 1, "rowsFiltered": -3, "rowsTotal": 2}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		boundedAlloc(t, len(data), func() {
			ft := &fuzzTransport{answers: jsonAnswers(data)}
			c := fuzzClient(ft)
			tbl, err := c.Invoke(context.Background(), ServiceFiltered, Params{{"columns", "*"}, {"filters", []Filter{}}}, InvokeOptions{})
			checkTable(t, tbl, err)
			if len(ft.reqs) > maxFuzzReqs {
				t.Fatalf("%d requests", len(ft.reqs))
			}
			for _, r := range ft.reqs {
				if r.URL.Path != "/api/v0/invoke" || r.Method != http.MethodPost {
					t.Fatalf("unexpected request %s %s", r.Method, r.URL)
				}
			}

			// ObservationsLimit decides the --max-observations refusal from
			// the same answers: never more rows than the limit, and a
			// refusal always says how many.
			const limit = 3
			ft2 := &fuzzTransport{answers: jsonAnswers(data)}
			tbl, total, err := fuzzClient(ft2).ObservationsLimit(context.Background(),
				Query{Position: &Position{RA: 23.34086, Dec: 60.658, Radius: 0.2}}, limit)
			switch {
			case err != nil:
				typedError(t, err)
				if tbl != nil {
					t.Fatalf("error %v with a table", err)
				}
			case tbl == nil:
				if total <= limit {
					t.Fatalf("refused with total %d <= limit %d", total, limit)
				}
			default:
				checkTable(t, tbl, nil)
				if len(tbl.Rows) > limit || total > limit || total < 0 {
					t.Fatalf("limit %d: %d rows, total %d", limit, len(tbl.Rows), total)
				}
			}
		})
	})
}

// checkTable: either an error or a table; a table's columns are unique and
// without _selected_, its rows too.
func checkTable(t *testing.T, tbl *Table, err error) {
	t.Helper()
	if err != nil {
		typedError(t, err)
		if tbl != nil {
			t.Fatalf("error %v with a table", err)
		}
		return
	}
	if tbl == nil {
		t.Fatal("neither table nor error")
	}
	seen := map[string]bool{}
	for _, fl := range tbl.Fields {
		if fl.Name == "_selected_" || seen[fl.Name] {
			t.Fatalf("field %q kept twice or _selected_ kept", fl.Name)
		}
		seen[fl.Name] = true
	}
	for _, r := range tbl.Rows {
		if _, ok := r["_selected_"]; ok {
			t.Fatal("row keeps _selected_")
		}
		for k, v := range r {
			switch v.(type) {
			case nil, string, json.Number, bool, []any, map[string]any:
			default:
				t.Fatalf("row value %q is a %T", k, v)
			}
			_ = ValueString(v)
		}
	}
}

// FuzzCount: the COUNT_BIG(*) answer. A count is a non-negative integer or
// an error.
func FuzzCount(f *testing.F) {
	raw := fixtureSeed(f, "countsResp.json")
	f.Add(raw)
	f.Add([]byte(executingAnswer + fuzzSep + string(raw)))
	for _, v := range []string{`599`, `"599"`, `599.0`, `"5.99e2"`, `-1`, `"-1"`, `1e300`, `9223372036854775808`, `null`, `true`, `"  12 "`, `{}`} {
		f.Add([]byte(`{"status": "COMPLETE", "msg": "", "data": [{"Column1": ` + v + `}], "fields": [{"name": "Column1", "type": "string"}]}`))
	}
	f.Add([]byte(`{"status": "COMPLETE", "msg": "", "data": [], "fields": [{"name": "Column1", "type": "string"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		boundedAlloc(t, len(data), func() {
			ft := &fuzzTransport{answers: jsonAnswers(data)}
			n, err := fuzzClient(ft).Count(context.Background(), Query{})
			if err != nil {
				typedError(t, err)
				if n != 0 {
					t.Fatalf("error %v with count %d", err, n)
				}
				return
			}
			if n < 0 {
				t.Fatalf("negative count %d", n)
			}
		})
	})
}

// FuzzColumnsConfig: the columnsconfig answer (parseColumnsConfig, key
// order kept), and what build_filter_set makes of a hostile config: filters
// that always encode to valid JSON.
func FuzzColumnsConfig(f *testing.F) {
	f.Add(fixtureSeed(f, "columnsconfig.json"))
	for _, s := range []string{
		`{}`, `[]`, ``, `{"a": 1, "a": {"text": "x"}}`, `{"A": {"type": "int"}, "a": {"vot.datatype": "double", "isMjd": "yes"}}`,
		`{"t_min": {"type": "float", "unit": "MJD", "separator": 5, "ignoreValue": [1, {"x": null}]}}`,
		`{"s": {"type": "string", "separator": ";", "remove": 0.0, "treatNumeric": "0"}}`,
		`{"x": {"type": "int"}} trailing`, `{"x": {"type": "int"},}`, "{\"\\ud800\": {\"text\": \"\\u0000\"}}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		boundedAlloc(t, len(data), func() {
			ft := &fuzzTransport{answers: []fuzzAnswer{{body: data, length: -2}}}
			cc, err := fuzzClient(ft).ColumnsConfig(context.Background(), ServiceCone)
			if err != nil {
				typedError(t, err)
				if cc != nil {
					t.Fatal("error with a config")
				}
				return
			}
			if cc == nil {
				t.Fatal("neither config nor error")
			}
			seen := map[string]bool{}
			for _, col := range cc.Columns {
				if seen[col.Name] {
					t.Fatalf("column %q twice", col.Name)
				}
				seen[col.Name] = true
				got, ok := cc.Lookup(col.Name)
				if !ok || got.Name != col.Name {
					t.Fatalf("Lookup(%q) = %q, %v", col.Name, got.Name, ok)
				}
				_, _, _, _ = col.Label(), col.Datatype(), col.Continuous(), col.MJD()
				// Each column as a criterion, in every value form: an
				// error or filters that encode to JSON naming only it.
				for _, vals := range [][]Value{
					{{Text: "1"}}, {{Text: "x\"y"}, {Text: "2"}}, {{Text: "a*", Wildcard: true}},
					{{IsRange: true, Lo: "1", Hi: "2"}}, {{IsRange: true, Lo: "2020-01-01", Hi: "2020-01-02"}},
				} {
					filters, err := buildFilters(cc, []Criterion{{Name: col.Name, Values: vals}})
					if err != nil {
						var ice *InvalidCriteriaError
						if !errors.As(err, &ice) {
							t.Fatalf("buildFilters: %T %v", err, err)
						}
						continue
					}
					checkFiltersJSON(t, filters, []string{col.Name})
				}
			}
			tbl := &Table{Rows: []Row{{"a": json.Number("0")}, {"a": "x"}, {"a": nil}}}
			cc.Mask(tbl)
		})
	})
}

// checkFiltersJSON: filters encode (Python spelling) to a JSON list whose
// paramNames are exactly names, in order.
func checkFiltersJSON(t *testing.T, filters []Filter, names []string) {
	t.Helper()
	js, err := pyJSON(Params{{"filters", filters}})
	if err != nil {
		t.Fatalf("encoding filters: %v", err)
	}
	var back struct {
		Filters []map[string]any `json:"filters"`
	}
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatalf("filters are not JSON: %v\n%s", err, js)
	}
	var got []string
	for _, fl := range back.Filters {
		s, _ := fl["paramName"].(string)
		got = append(got, s)
	}
	if !slices.Equal(got, names) {
		t.Fatalf("filters name %q, want %q\n%s", got, names, js)
	}
}

// FuzzResolve: SANTA answers. A position is finite; anything else is an
// error (ErrServer, or *ResolveError for a name the answer does not place).
func FuzzResolve(f *testing.F) {
	f.Add(fixtureSeed(f, "resolver.json"))
	for _, s := range []string{
		`{}`, `[]`, `null`, ``, `{"resolvedCoordinate": null}`,
		`{"resolvedCoordinate": [{"searchString": "m101", "resolver": "NED", "ra": "1", "decl": 2}]}`,
		`{"resolvedCoordinate": [{"resolver": "SIMBAD", "ra": 1e999, "decl": 2}]}`,
		`{"resolvedCoordinate": [{"searchString": null, "resolver": "NED", "ra": 210.8, "decl": 54.3}]}`,
		`{"resolvedCoordinate": [{"searchString": "M101", "ra": 210.8}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		boundedAlloc(t, len(data), func() {
			for _, resolver := range []string{"", "NED"} {
				ft := &fuzzTransport{answers: jsonAnswers(data)[:1]}
				ra, dec, err := fuzzClient(ft).Resolve(context.Background(), "M101", resolver)
				if len(ft.reqs) != 1 || ft.reqs[0].URL.Host != "resolver.invalid" {
					t.Fatalf("requests %v", ft.reqs)
				}
				if err != nil {
					typedError(t, err)
					if ra != 0 || dec != 0 {
						t.Fatalf("error %v with a position", err)
					}
					continue
				}
				for _, v := range []float64{ra, dec} {
					if math.IsNaN(v) || math.IsInf(v, 0) {
						t.Fatalf("position %v, %v", ra, dec)
					}
				}
			}
		})
	})
}

// FuzzPathLookup: path_lookup answers. Only the URIs asked for are placed,
// each at a non-empty key without a leading slash.
func FuzzPathLookup(f *testing.F) {
	f.Add(fixtureSeed(f, "mast_relative_path.json"))
	for _, s := range []string{
		`{}`, `[]`, `null`, ``, `{"mast:HST/product/u9o40504m_c3m.fits": null}`,
		`{"mast:HST/product/u9o40504m_c3m.fits": {"path": "///"}, "mast:other": {"path": "x"}}`,
		`{"mast:HST/product/u9o40504m_c3m.fits": {"path": 5}}`,
		`{"mast:HST/product/u9o40504m_c3m.fits": "x"}`,
	} {
		f.Add([]byte(s))
	}
	uris := []string{"mast:HST/product/u9o40504m_c3m.fits", "mast:HST/product/does_not_exist.fits", "mast:HST/product/u9o40504m_c3m.fits"}
	f.Fuzz(func(t *testing.T, data []byte) {
		boundedAlloc(t, len(data), func() {
			ft := &fuzzTransport{answers: jsonAnswers(data)[:1]}
			out, err := fuzzClient(ft).PathLookup(context.Background(), uris)
			if len(ft.reqs) != 1 || ft.reqs[0].URL.Path != "/api/v0.1/path_lookup/" {
				t.Fatalf("requests %v", ft.reqs)
			}
			if err != nil {
				typedError(t, err)
				if out != nil {
					t.Fatal("error with a result")
				}
				return
			}
			for u, key := range out {
				if !slices.Contains(uris, u) {
					t.Fatalf("placed %q, which was not asked", u)
				}
				if key == "" || strings.HasPrefix(key, "/") {
					t.Fatalf("key %q for %q", key, u)
				}
			}
		})
	})
}

// FuzzMissions: the Mast.Caom.All extjs answer. Mission names are sorted,
// unique, and never the histogram's "hist" key.
func FuzzMissions(f *testing.F) {
	raw := fixtureSeed(f, "missions.extjs")
	f.Add(raw)
	f.Add([]byte(executingAnswer + fuzzSep + string(raw)))
	for _, s := range []string{
		`{"status": "COMPLETE", "data": {"Tables": []}}`,
		`{"status": "COMPLETE", "data": {"Tables": [{"Columns": [{"text": "obs_collection", "ExtendedProperties": {"histObj": {"hist": 1, "HST": 2, "B": {}, "B": 3}}}]}]}}`,
		`{"status": "COMPLETE", "data": {"Tables": [{"Columns": [{"text": "obs_collection", "ExtendedProperties": {"histObj": null}}]}]}}`,
		`{"status": "COMPLETE", "data": [1, 2]}`, `{"status": "COMPLETE"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		boundedAlloc(t, len(data), func() {
			ft := &fuzzTransport{answers: jsonAnswers(data)}
			names, err := fuzzClient(ft).Missions(context.Background())
			if err != nil {
				typedError(t, err)
				if names != nil {
					t.Fatal("error with names")
				}
				return
			}
			if !sort.StringsAreSorted(names) || slices.Contains(names, "hist") || len(slices.Compact(slices.Clone(names))) != len(names) {
				t.Fatalf("names %q", names)
			}
		})
	})
}

// FuzzContentRange: parseContentRange accepts exactly well-formed
// "bytes first-last/total" (or "bytes */total", "bytes first-last/*"), and
// what it accepts spells back to an equal value.
func FuzzContentRange(f *testing.F) {
	for _, s := range []string{
		"bytes 0-0/1", "bytes 0-99/100", "bytes 100-199/*", "bytes */1234", "bytes */*", " bytes 5-9/10 ",
		"bytes 9-5/10", "bytes 0-10/10", "bytes -1-5/10", "bytes 0-5/-1", "bytes=0-5/10", "bytes 0-9223372036854775807/*",
		"bytes +1-+2/+3", "bytes 1-2/3/4", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cr, err := parseContentRange(s)
		if err != nil {
			if cr != (contentRange{}) {
				t.Fatalf("error with %+v", cr)
			}
			return
		}
		if cr.total < -1 {
			t.Fatalf("%q: total %d", s, cr.total)
		}
		if cr.first == -1 && cr.last == -1 {
			again, err := parseContentRange("bytes */" + totalString(cr.total))
			if err != nil || again != cr {
				t.Fatalf("%q -> %+v, again %+v, %v", s, cr, again, err)
			}
			return
		}
		if cr.first < 0 || cr.last < cr.first || cr.total >= 0 && cr.last >= cr.total {
			t.Fatalf("%q accepted as %+v", s, cr)
		}
		spelled := fmt.Sprintf("bytes %d-%d/%s", cr.first, cr.last, totalString(cr.total))
		if again, err := parseContentRange(spelled); err != nil || again != cr {
			t.Fatalf("%q -> %+v, %q -> %+v, %v", s, cr, spelled, again, err)
		}
	})
}

func totalString(n int64) string {
	if n < 0 {
		return "*"
	}
	return strconv.FormatInt(n, 10)
}

// FuzzDownloadAnswer: a hostile download service (status, Content-Range,
// Content-Length, Content-Type, body) against Head and ReadAtSize. A read
// never returns more than asked, never claims success short, never returns
// bytes that are not the body's bytes at the asked offset, and never grows
// a buffer on the server's word.
func FuzzDownloadAnswer(f *testing.F) {
	body := []byte("SIMPLE  =                    T / conforms to FITS standard")
	f.Add(uint16(206), "bytes 0-15/57", int64(16), "", body[:16], int64(0), uint8(16))
	f.Add(uint16(206), "bytes 8-23/57", int64(-1), "", body[8:24], int64(8), uint8(16))
	f.Add(uint16(206), "bytes 50-56/57", int64(7), "", body[50:], int64(50), uint8(16))
	f.Add(uint16(200), "", int64(57), "", body, int64(10), uint8(16))
	f.Add(uint16(200), "", int64(-1), "", body, int64(10), uint8(200))
	f.Add(uint16(206), "bytes 0-15/57", int64(16), "multipart/byteranges; boundary=x", body[:16], int64(0), uint8(16))
	f.Add(uint16(206), "bytes 0-1000000000/2000000000", int64(1000000001), "", body, int64(0), uint8(16))
	f.Add(uint16(416), "bytes */57", int64(0), "", []byte{}, int64(57), uint8(4))
	f.Add(uint16(405), "", int64(-1), "", []byte{}, int64(0), uint8(1))
	f.Fuzz(func(t *testing.T, status uint16, contentRange string, length int64, ctype string, data []byte, off int64, n uint8) {
		if status < 100 || status > 599 || off < 0 || length < -1 || !validHeader(contentRange) || !validHeader(ctype) {
			return
		}
		h := http.Header{}
		if contentRange != "" {
			h.Set("Content-Range", contentRange)
		}
		if ctype != "" {
			h.Set("Content-Type", ctype)
		}
		ans := fuzzAnswer{status: int(status), header: h, body: data, length: length}
		boundedAlloc(t, len(data)+len(contentRange)+int(n), func() {
			// Head: a HEAD, then maybe a one-byte probe; both answered alike.
			ft := &fuzzTransport{answers: []fuzzAnswer{ans}}
			info, err := fuzzClient(ft).Head(context.Background(), "mast:HST/product/x.fits")
			if err == nil && info.Size < -1 {
				t.Fatalf("size %d", info.Size)
			}
			if len(ft.reqs) > 2*maxAttempts {
				t.Fatalf("Head sent %d requests", len(ft.reqs))
			}

			ft = &fuzzTransport{answers: []fuzzAnswer{ans}}
			p := make([]byte, n)
			got, err := fuzzClient(ft).ReadAtSize(context.Background(), "mast:HST/product/x.fits", p, off, -1)
			if got < 0 || got > len(p) {
				t.Fatalf("read %d of %d", got, len(p))
			}
			if err == nil && got != len(p) {
				t.Fatalf("short read %d of %d without an error", got, len(p))
			}
			if len(ft.reqs) > max(len(p), 1)*maxAttempts {
				t.Fatalf("%d requests for %d bytes", len(ft.reqs), len(p))
			}
			// Every answer is the same body, so whatever was read must be
			// that body's bytes: from off when the server sent the whole
			// product (200), from the Content-Range start (== off) for 206.
			if got > 0 && status == 200 {
				if off+int64(got) > int64(len(data)) || !bytes.Equal(p[:got], data[off:off+int64(got)]) {
					t.Fatalf("200: read %q at %d, body %q", p[:got], off, data)
				}
			}
			if got > 0 && status == 206 && !bytes.Equal(p[:got], data[:got]) {
				t.Fatalf("206: read %q, body %q", p[:got], data)
			}
		})
	})
}

// validHeader: a value net/http would send (the transport is bypassed here).
func validHeader(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
