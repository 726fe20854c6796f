package mast

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const testCacheBreaker = "1f0c6b8e-7a43-4f53-9a5e-2c1d7b3f9e10"

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testClient is a Client against an httptest server, with a fixed
// cacheBreaker and a sleep that only records its delays.
type testClient struct {
	*Client
	srv *httptest.Server

	mu     sync.Mutex
	sleeps []time.Duration
}

func newTestClient(t testing.TB, h http.Handler, cfg Config) *testClient {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	if cfg.BaseURL == "" {
		cfg.BaseURL = srv.URL
	}
	if cfg.ResolverURL == "" {
		cfg.ResolverURL = srv.URL + "/Santa-war/query"
	}
	tc := &testClient{Client: New(cfg), srv: srv}
	tc.newCacheBreaker = func() string { return testCacheBreaker }
	tc.sleep = func(ctx context.Context, d time.Duration) error {
		tc.mu.Lock()
		tc.sleeps = append(tc.sleeps, d)
		tc.mu.Unlock()
		return ctx.Err()
	}
	return tc
}

// mashupRequest is a decoded invoke body.
type mashupRequest struct {
	Raw      string // the body as sent
	Service  string
	Params   map[string]any
	Format   string
	PageSize int
	Page     int
}

func readMashupRequest(t testing.TB, r *http.Request) mashupRequest {
	t.Helper()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		t.Error(err)
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		t.Errorf("body %q: %v", body, err)
	}
	dec := json.NewDecoder(strings.NewReader(form.Get("request")))
	dec.UseNumber()
	var env map[string]any
	if err := dec.Decode(&env); err != nil {
		t.Errorf("request %q: %v", form.Get("request"), err)
	}
	m := mashupRequest{Raw: string(body)}
	m.Service, _ = env["service"].(string)
	m.Params, _ = env["params"].(map[string]any)
	m.Format, _ = env["format"].(string)
	if n, ok := env["pagesize"].(json.Number); ok {
		v, _ := n.Int64()
		m.PageSize = int(v)
	}
	if n, ok := env["page"].(json.Number); ok {
		v, _ := n.Int64()
		m.Page = int(v)
	}
	return m
}

// python returns the Debian python3 (the one that sees python3-astropy),
// skipping the test when it is absent.
func python(t testing.TB) string {
	t.Helper()
	const p = "/usr/bin/python3"
	if _, err := os.Stat(p); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	return p
}

// runPython runs a script with stdin and returns its stdout.
func runPython(t testing.TB, script, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(python(t), append([]string{"-c", script}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, stderr.String())
	}
	return string(out)
}

func jsonNum(s string) json.Number { return json.Number(s) }

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustUnmarshal(t testing.TB, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("%q: %v", s, err)
	}
}

func fmtSscan(s string, v any) (int, error) { return fmt.Sscan(s, v) }
