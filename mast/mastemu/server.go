package mastemu

import (
	"net/http"
	"strings"
	"sync"
)

// Options configures a Server. The zero value serves Recorded() like the
// real archive: no paging cap, no long polling, ranges honoured.
type Options struct {
	// Catalog to serve; nil means Recorded().
	Catalog *Catalog
	// PageSizeCap, when > 0, is the most rows one invoke page returns,
	// whatever pagesize the client asked for; paging numbers follow it.
	PageSizeCap int
	// ExecutingPolls makes every distinct invoke request (same body, so
	// same cacheBreaker and page) answer {"status":"EXECUTING"} that many
	// times before the real answer, as long-running MAST jobs do.
	ExecutingPolls int
	// Token, when set, is the MAST API token that unlocks EXCLUSIVE_ACCESS
	// products (header "Authorization: token <t>", "Authorization: Bearer
	// <t>" or cookie mast_token=<t>). Without it those products are 401.
	Token string
	// IgnoreRange answers ranged GETs with 200 and the whole body.
	IgnoreRange bool
	// OmitContentLength drops Content-Length from every download response
	// (the body is then chunked), as for dynamically generated files.
	OmitContentLength bool
}

// Server is an http.Handler that speaks the MAST protocol over a Catalog.
type Server struct {
	opts Options
	cat  *Catalog

	mu    sync.Mutex
	polls map[string]int
	stats Stats
}

// New returns a Server for opts.
func New(opts Options) *Server {
	s := &Server{opts: opts, cat: opts.Catalog, polls: map[string]int{}}
	if s.cat == nil {
		s.cat = Recorded()
	}
	s.stats = newStats()
	return s
}

// Catalog returns the served catalog.
func (s *Server) Catalog() *Catalog { return s.cat }

// Endpoint names used in Stats.
const (
	EndpointInvoke        = "invoke"
	EndpointColumnsConfig = "columnsconfig"
	EndpointDownload      = "download"
	EndpointBundle        = "bundle"
	EndpointPathLookup    = "path_lookup"
	EndpointSanta         = "santa"
	EndpointWhoami        = "whoami"
	EndpointOther         = "other"
)

func endpointOf(p string) string {
	switch {
	case p == "/api/v0/invoke":
		return EndpointInvoke
	case strings.HasSuffix(p, "/Mashup.asmx/columnsconfig"):
		return EndpointColumnsConfig
	case p == "/api/v0.1/Download/file" || p == "/api/v0.1/Download/file/":
		return EndpointDownload
	case p == "/api/v0.1/Download/bundle.sh":
		return EndpointBundle
	case p == "/api/v0.1/path_lookup/" || p == "/api/v0.1/path_lookup":
		return EndpointPathLookup
	case p == "/Santa-war/query":
		return EndpointSanta
	case p == "/whoami":
		return EndpointWhoami
	}
	return EndpointOther
}

// ServeHTTP routes a request to the emulated endpoint.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ep := endpointOf(r.URL.Path)
	entry := &LogEntry{Method: r.Method, Path: r.URL.Path, Endpoint: ep, Range: r.Header.Get("Range")}
	// The request is recorded when its response starts, before the client
	// can see it, so Stats read after a response always include it.
	rec := &statusRecorder{ResponseWriter: w, s: s, entry: entry}
	defer rec.start(http.StatusOK)
	switch ep {
	case EndpointInvoke:
		s.serveInvoke(rec, r, entry)
	case EndpointColumnsConfig:
		s.serveColumnsConfig(rec, r)
	case EndpointDownload:
		s.serveDownload(rec, r, entry)
	case EndpointBundle:
		s.serveBundle(rec, r)
	case EndpointPathLookup:
		s.servePathLookup(rec, r)
	case EndpointSanta:
		s.serveSanta(rec, r)
	case EndpointWhoami:
		s.serveWhoami(rec, r)
	default:
		http.NotFound(rec, r)
	}
}

// authorized reports whether the request carries the configured token.
func (s *Server) authorized(r *http.Request) bool {
	if s.opts.Token == "" {
		return false
	}
	if a := r.Header.Get("Authorization"); a != "" {
		scheme, tok, _ := strings.Cut(a, " ")
		if (strings.EqualFold(scheme, "token") || strings.EqualFold(scheme, "bearer")) && strings.TrimSpace(tok) == s.opts.Token {
			return true
		}
	}
	if ck, err := r.Cookie("mast_token"); err == nil && ck.Value == s.opts.Token {
		return true
	}
	return false
}

// statusRecorder logs the request when the response starts and counts
// download body bytes as they are written.
type statusRecorder struct {
	http.ResponseWriter
	s       *Server
	entry   *LogEntry
	started bool
}

func (w *statusRecorder) start(code int) {
	if !w.started {
		w.started = true
		w.entry.Status = code
		w.s.record(*w.entry)
	}
}

func (w *statusRecorder) WriteHeader(code int) {
	w.start(code)
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	w.start(http.StatusOK)
	if w.entry.Endpoint != EndpointDownload {
		return w.ResponseWriter.Write(b)
	}
	// Count before the bytes can reach the client, then correct.
	w.s.addDownloadBytes(int64(len(b)))
	n, err := w.ResponseWriter.Write(b)
	w.s.addDownloadBytes(int64(n - len(b)))
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusRecorder) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
