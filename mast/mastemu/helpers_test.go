package mastemu

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// startServer runs a Server for opts behind httptest until the test ends.
func startServer(t *testing.T, opts Options) (*Server, *httptest.Server) {
	t.Helper()
	s := New(opts)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts
}

type paging struct {
	Page, PageSize, PagesFiltered, Rows, RowsFiltered, RowsTotal int
}

type mashup struct {
	Status string
	Msg    string
	Data   []map[string]any
	Fields []struct{ Name, Type string }
	Paging *paging
}

// invoke posts one Mashup request the way astroquery does and decodes the answer.
func invoke(t *testing.T, base string, req map[string]any) mashup {
	t.Helper()
	if _, ok := req["format"]; !ok {
		req["format"] = "json"
	}
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.PostForm(base+"/api/v0/invoke", url.Values{"request": {string(body)}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("invoke %s: HTTP %d", req["service"], resp.StatusCode)
	}
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	var m mashup
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("invoke %s: %v", req["service"], err)
	}
	return m
}

// invokeAll fetches every page, as astroquery's paging loop does.
func invokeAll(t *testing.T, base string, req map[string]any) []map[string]any {
	t.Helper()
	var rows []map[string]any
	for page := 1; ; page++ {
		req["page"] = page
		m := invoke(t, base, req)
		if m.Status != "COMPLETE" {
			t.Fatalf("%s page %d: status %s %s", req["service"], page, m.Status, m.Msg)
		}
		rows = append(rows, m.Data...)
		if m.Paging == nil || m.Paging.Page >= m.Paging.PagesFiltered {
			return rows
		}
	}
}

func filtered(filters ...map[string]any) map[string]any {
	list := make([]any, len(filters))
	for i, f := range filters {
		list[i] = f
	}
	return map[string]any{"service": "Mast.Caom.Filtered", "params": map[string]any{"columns": "*", "filters": list}}
}

func get(t *testing.T, url string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	return do(t, http.MethodGet, url, hdr...)
}

func do(t *testing.T, method, url string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// productBytes is the whole content of a product, from the catalog.
func productBytes(t *testing.T, c *Catalog, uri string) []byte {
	t.Helper()
	r, ok := c.Open(uri)
	if !ok {
		t.Fatalf("no product %s", uri)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func downloadURL(base, uri string) string {
	return base + "/api/v0.1/Download/file?uri=" + url.QueryEscape(uri)
}

// obsids returns the obsid column of rows as strings.
func obsids(rows []map[string]any) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = fmt.Sprint(r["obsid"])
	}
	return out
}

// expectObsids lists, in catalog order, the obsids of the observations pred accepts.
func expectObsids(c *Catalog, pred func(map[string]any) bool) []string {
	var out []string
	for _, o := range c.Observations() {
		if pred(o) {
			out = append(out, fmt.Sprint(o["obsid"]))
		}
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func hasToken(s, sep, tok string) bool {
	for _, t := range strings.Split(s, sep) {
		if strings.EqualFold(t, tok) {
			return true
		}
	}
	return false
}

// generated is a mid-sized catalog shared by tests that only read it.
var generated = sync.OnceValue(func() *Catalog { return Generate(7, 3000, 10) })
