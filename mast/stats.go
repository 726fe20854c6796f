package mast

import (
	"context"
	"io"
	"maps"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
)

// Stats is a snapshot of a Client's counters since New. Keys name what a
// request asked for: the invoke service ("Mast.Caom.Filtered", count
// queries included), or the endpoint: "columnsconfig", "download" (HEAD and
// GET of Download/file), "bundle", "resolver", "path_lookup".
type Stats struct {
	// Requests counts HTTP requests sent (every EXECUTING poll and page).
	Requests map[string]int64
	// Errors counts requests that failed below HTTP or got a non-2xx
	// answer (an ERROR status inside a 200 answer is not counted).
	Errors map[string]int64
	// DownloadBytes is the product bytes received from Download/file.
	DownloadBytes int64
	// Retries counts attempts made after a failed one (a retried request
	// is counted again in Requests, its failure in Errors), Open's
	// resumptions included.
	Retries int64
}

// Stats returns a snapshot of the counters. It never contains the token.
func (c *Client) Stats() Stats {
	c.stats.mu.Lock()
	defer c.stats.mu.Unlock()
	return Stats{
		Requests:      maps.Clone(c.stats.requests),
		Errors:        maps.Clone(c.stats.errors),
		DownloadBytes: c.stats.downloadBytes.Load(),
		Retries:       c.stats.retries.Load(),
	}
}

// clientStats are the live counters behind Stats; the zero value is ready.
type clientStats struct {
	mu            sync.Mutex
	requests      map[string]int64
	errors        map[string]int64
	downloadBytes atomic.Int64
	retries       atomic.Int64
}

// serviceKey carries the invoke service name to do, which sees only the
// encoded request.
type serviceKey struct{}

func withService(ctx context.Context, service string) context.Context {
	return context.WithValue(ctx, serviceKey{}, service)
}

// endpoint names what req asks for, as Stats keys it.
func (c *Client) endpoint(req *http.Request) string {
	u := req.URL.String()
	p := req.URL.Path
	switch {
	case strings.HasPrefix(u, c.cfg.ResolverURL):
		return "resolver"
	case strings.HasPrefix(u, c.cfg.PathLookupURL):
		return "path_lookup"
	case strings.HasSuffix(p, "/api/v0/invoke"):
		if s, ok := req.Context().Value(serviceKey{}).(string); ok && s != "" {
			return s
		}
		return "invoke"
	case strings.HasSuffix(p, "/columnsconfig"):
		return "columnsconfig"
	case strings.Contains(p, "/Download/file"):
		return "download"
	case strings.HasSuffix(p, "/Download/bundle.sh"):
		return "bundle"
	}
	return "other"
}

// count records one request's outcome; a download body is wrapped so its
// bytes are counted as the caller reads them.
func (c *Client) count(req *http.Request, resp *http.Response, err error) (*http.Response, error) {
	ep := c.endpoint(req)
	s := &c.stats
	s.mu.Lock()
	if s.requests == nil {
		s.requests, s.errors = map[string]int64{}, map[string]int64{}
	}
	s.requests[ep]++
	if err != nil {
		s.errors[ep]++
	}
	s.mu.Unlock()
	if err == nil && ep == "download" && resp.Body != nil {
		resp.Body = &countingBody{ReadCloser: resp.Body, n: &s.downloadBytes}
	}
	return resp, err
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}
