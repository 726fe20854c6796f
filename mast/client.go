package mast

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"time"

	"github.com/mastfs/mastfs/retry"
)

// Defaults used by New for zero Config fields.
const (
	DefaultBaseURL      = "https://mast.stsci.edu"
	DefaultResolverURL  = "http://mastresolver.stsci.edu/Santa-war/query"
	DefaultPageSize     = 50000 // astroquery's conf.pagesize
	DefaultTimeout      = 2 * time.Minute
	DefaultPollDeadline = 10 * time.Minute // astroquery's conf.timeout
	DefaultUserAgent    = "mastfs (+https://github.com/mastfs/mastfs)"
	DefaultRetries      = 4 // attempts per request, the first included
	DefaultRetryBase    = 200 * time.Millisecond
	DefaultRetryCap     = 5 * time.Second
	DefaultStallTimeout = 30 * time.Second
)

// Config configures a Client. Zero fields take the defaults above.
type Config struct {
	// BaseURL serves invoke, columnsconfig, Download/file and bundle.sh.
	BaseURL string
	// ResolverURL is the SANTA name resolver.
	ResolverURL string
	// PathLookupURL maps dataURIs to cloud keys; default BaseURL+"/api/v0.1/path_lookup/".
	PathLookupURL string
	// Token is a MAST API token. It is sent as "Authorization: token …" and
	// as the mast_token cookie to archive endpoints only, never to the
	// resolver or path_lookup, and never appears in errors or logs.
	Token string
	// HTTPClient defaults to a client with http.DefaultTransport.
	HTTPClient *http.Client
	// PageSize is the Mashup page size.
	PageSize int
	// Timeout bounds every method call (for Open: every wait for bytes).
	// Negative disables it; the caller's ctx still applies.
	Timeout time.Duration
	// PollDeadline bounds how long one request may stay EXECUTING.
	PollDeadline time.Duration
	// Logger receives debug lines for each request; default discards.
	Logger *slog.Logger
	// UserAgent is sent on every request.
	UserAgent string
	// Retries is how many attempts a request gets, the first included
	// (default DefaultRetries; negative or 1: no retry). Every request
	// mastfs sends is a read, so transport errors, resets, 429/500/502/
	// 503/504 (after Retry-After, honoured up to 30s) and broken,
	// truncated or stalled bodies are retried; other 4xx are not.
	Retries int
	// RetryBase and RetryCap shape the backoff between attempts: full
	// jitter in [0, min(RetryCap, RetryBase·2^n)).
	RetryBase time.Duration
	RetryCap  time.Duration
	// StallTimeout aborts (and retries) a request when no byte of its
	// answer arrives for that long (default DefaultStallTimeout; negative
	// disables it; Timeout still applies).
	StallTimeout time.Duration
}

// String and LogValue keep the token out of %v and structured logs.
func (c Config) String() string {
	return fmt.Sprintf("mast.Config{BaseURL:%s ResolverURL:%s PathLookupURL:%s Token:%s PageSize:%d Timeout:%v PollDeadline:%v Retries:%d RetryBase:%v RetryCap:%v StallTimeout:%v}",
		c.BaseURL, c.ResolverURL, c.PathLookupURL, redacted(c.Token), c.PageSize, c.Timeout, c.PollDeadline,
		c.Retries, c.RetryBase, c.RetryCap, c.StallTimeout)
}

// LogValue implements slog.LogValuer.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

func redacted(tok string) string {
	if tok == "" {
		return "none"
	}
	return "[redacted]"
}

// Client talks to MAST. It is safe for concurrent use; the only state it
// keeps is the per-service column configuration cache.
type Client struct {
	cfg  Config
	http *http.Client
	log  *slog.Logger

	// testing hooks
	newCacheBreaker func() string
	sleep           func(ctx context.Context, d time.Duration) error

	mu      sync.Mutex             // protects configs
	configs map[string]*configCall // columns config per service, single flight

	policy retry.Policy

	stats clientStats
}

// New returns a Client for cfg with defaults filled in.
func New(cfg Config) *Client {
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	if cfg.ResolverURL == "" {
		cfg.ResolverURL = DefaultResolverURL
	}
	if cfg.PathLookupURL == "" {
		cfg.PathLookupURL = cfg.BaseURL + "/api/v0.1/path_lookup/"
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = DefaultPageSize
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.PollDeadline <= 0 {
		cfg.PollDeadline = DefaultPollDeadline
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	switch {
	case cfg.Retries == 0:
		cfg.Retries = DefaultRetries
	case cfg.Retries < 0:
		cfg.Retries = 1
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = DefaultRetryBase
	}
	if cfg.RetryCap <= 0 {
		cfg.RetryCap = max(DefaultRetryCap, cfg.RetryBase)
	}
	if cfg.StallTimeout == 0 {
		cfg.StallTimeout = DefaultStallTimeout
	}
	c := &Client{
		cfg:             cfg,
		http:            cfg.HTTPClient,
		log:             cfg.Logger,
		newCacheBreaker: uuid4,
		sleep:           sleepCtx,
		configs:         make(map[string]*configCall),
		policy:          retry.Policy{Attempts: cfg.Retries, Base: cfg.RetryBase, Cap: cfg.RetryCap},
	}
	if c.http == nil {
		c.http = &http.Client{}
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c
}

// Config returns the effective configuration (defaults filled in).
func (c *Client) Config() Config { return c.cfg }

// withTimeout applies Config.Timeout on top of ctx.
func (c *Client) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.cfg.Timeout < 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, c.cfg.Timeout)
}

// newRequest builds a request. archive marks MAST archive endpoints, the
// only ones that get the token (astroquery's session cookie reaches exactly
// those; SANTA and path_lookup use a fresh session).
func (c *Client) newRequest(ctx context.Context, method, url string, body io.Reader, archive bool) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return nil, fmt.Errorf("mast: %w", err)
	}
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	if archive && c.cfg.Token != "" {
		req.Header.Set("Authorization", "token "+c.cfg.Token)
		req.AddCookie(&http.Cookie{Name: "mast_token", Value: c.cfg.Token})
	}
	return req, nil
}

// portalHeaders are the three headers astroquery sends to invoke and columnsconfig.
func portalHeaders(req *http.Request) {
	req.Header.Set("Content-type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/plain")
}

// do sends req, with retries, and turns non-2xx answers and transport
// failures into typed errors, counting every attempt in Stats. On success
// the caller owns resp.Body, which is not retried: callers that read the
// whole body use fetch.
func (c *Client) do(req *http.Request) (*http.Response, error) {
	var resp *http.Response
	err := c.retrying(req.Context(), req, func() error {
		var err error
		resp, err = c.sendOnce(req, c.cfg.StallTimeout)
		return err
	})
	return resp, err
}

// fetch is do and reading the whole body, the two retried together.
func (c *Client) fetch(req *http.Request) ([]byte, error) {
	ctx := req.Context()
	var out []byte
	err := c.retrying(ctx, req, func() error {
		resp, err := c.sendOnce(req, c.cfg.StallTimeout)
		if err != nil {
			return err
		}
		out, err = c.readBody(ctx, resp)
		if err != nil && ctx.Err() == nil {
			return &transient{err: err}
		}
		return err
	})
	return out, err
}

// transient marks an error worth another attempt, with the delay the
// server asked for. It never leaves the package: retrying and its peers
// return the error it wraps.
type transient struct {
	err   error
	after time.Duration
}

func (e *transient) Error() string { return e.err.Error() }
func (e *transient) Unwrap() error { return e.err }

// unmark strips the transient mark.
func unmark(err error) error {
	if t, ok := err.(*transient); ok {
		return t.err
	}
	return err
}

// isTransient reports whether err may be retried and how long the server
// asked us to wait.
func isTransient(err error) (bool, time.Duration) {
	t, ok := err.(*transient)
	if !ok {
		return false, 0
	}
	return true, t.after
}

// retrying runs attempt until it succeeds, fails for good, or the
// attempts are spent, sleeping the policy's backoff between tries.
func (c *Client) retrying(ctx context.Context, req *http.Request, attempt func() error) error {
	for try := 0; ; try++ {
		err := attempt()
		if err == nil {
			return nil
		}
		ok, after := isTransient(err)
		if !ok || try+1 >= c.cfg.Retries || ctx.Err() != nil || !replayable(req) {
			return unmark(err)
		}
		if err := c.backoff(ctx, try, after, req.Method+" "+req.URL.Redacted(), unmark(err)); err != nil {
			return err
		}
	}
}

// backoff waits before retry number try (0 for the first) and counts it.
func (c *Client) backoff(ctx context.Context, try int, after time.Duration, what string, cause error) error {
	d := c.policy.Delay(try, after)
	c.stats.retries.Add(1)
	c.log.Debug("mast: retrying", "request", what, "retry", try+1, "delay", d, "err", cause)
	if err := c.sleep(ctx, d); err != nil {
		return fmt.Errorf("mast: %w (retrying after: %v)", err, cause)
	}
	return nil
}

// replayable: a request without a body, or whose body can be made again.
func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// sendOnce sends one attempt of req under its own context. The body it
// returns carries a stall watchdog (no byte for stall aborts the attempt)
// and ends the attempt on Close. For Download/file, the wait for the
// answer's headers is bounded by stall as well; Portal queries may take
// long to compute, so only Config.Timeout bounds theirs. Errors worth
// another attempt come marked transient.
// headerWatch is a timer started at most once, on the first connection
// request of an attempt, and stopped when its answer's headers are in.
type headerWatch struct {
	mu      sync.Mutex
	timer   *time.Timer
	stopped bool
}

func (w *headerWatch) start(d time.Duration, fire func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timer == nil && !w.stopped {
		w.timer = time.AfterFunc(d, fire)
	}
}

func (w *headerWatch) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	if w.timer != nil {
		w.timer.Stop()
	}
}

func (c *Client) sendOnce(req *http.Request, stall time.Duration) (*http.Response, error) {
	parent := req.Context()
	headerStall := stall
	if c.endpoint(req) != "download" {
		headerStall = 0
	}
	actx, cancel := context.WithCancel(parent)
	r := req.Clone(actx)
	if req.GetBody != nil && req.Body != nil && req.Body != http.NoBody {
		body, err := req.GetBody()
		if err != nil {
			cancel()
			return nil, fmt.Errorf("mast: %w", err)
		}
		r.Body = body
	}
	var stalled atomicBool
	watch := &headerWatch{}
	if headerStall > 0 {
		// The clock starts when the transport asks for a connection, not
		// now: time spent waiting for a slot of mastfs's request limiter
		// (an outer RoundTripper) is not the server stalling.
		r = r.WithContext(httptrace.WithClientTrace(r.Context(), &httptrace.ClientTrace{
			GetConn: func(string) { watch.start(headerStall, func() { stalled.set(); cancel() }) },
		}))
	}
	resp, err := c.send(r, func() error {
		if parent.Err() != nil {
			return fmt.Errorf("mast: %w", parent.Err())
		}
		if stalled.get() {
			return &transient{err: fmt.Errorf("%w: %s %s: no response within %v", ErrServer, req.Method, req.URL.Redacted(), stall)}
		}
		return nil
	})
	watch.stop()
	resp, err = c.count(r, resp, err)
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &attemptBody{StallReader: retry.NewStallReader(resp.Body, stall, cancel), cancel: cancel}
	return resp, nil
}

// attemptBody ends its attempt's context on Close.
type attemptBody struct {
	*retry.StallReader
	cancel context.CancelFunc
}

func (b *attemptBody) Close() error {
	err := b.StallReader.Close()
	b.cancel()
	return err
}

type atomicBool struct {
	mu sync.Mutex
	v  bool
}

func (b *atomicBool) set() { b.mu.Lock(); b.v = true; b.mu.Unlock() }
func (b *atomicBool) get() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.v
}

// send does one http.Do. why, consulted on a transport failure, says
// whether the attempt's context was ended on purpose (the caller's
// context, a stall).
func (c *Client) send(req *http.Request, why func() error) (*http.Response, error) {
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		if werr := why(); werr != nil {
			err = werr
		} else {
			err = &transient{err: fmt.Errorf("%w: %s", ErrServer, c.scrub(err.Error()))}
		}
		c.log.Debug("mast request failed", "method", req.Method, "url", req.URL.Redacted(), "err", err)
		return nil, err
	}
	c.log.Debug("mast request", "method", req.Method, "url", req.URL.Redacted(),
		"status", resp.StatusCode, "elapsed", time.Since(start))
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
		herr := &HTTPError{
			Method:     req.Method,
			URL:        req.URL.Redacted(),
			StatusCode: resp.StatusCode,
			Body:       c.scrub(strings.TrimSpace(string(snippet))),
		}
		if retry.RetryableStatus(resp.StatusCode) {
			return nil, &transient{err: herr, after: retry.RetryAfter(resp.Header, time.Now())}
		}
		return nil, herr
	}
	return resp, nil
}

// scrub removes the token from text that came from elsewhere (a server
// echoing a header back, a transport error).
func (c *Client) scrub(s string) string {
	if c.cfg.Token == "" {
		return s
	}
	return strings.ReplaceAll(s, c.cfg.Token, "[redacted]")
}

func sleepCtx(ctx context.Context, d time.Duration) error { return retry.Sleep(ctx, d) }

// MaxResponseBytes bounds one JSON answer held in memory. A full page of
// 50,000 CAOM rows is about 60 MB; a server sending more is broken or
// hostile, and must not make the daemon allocate without limit.
const MaxResponseBytes = 512 << 20

// maxResponseBytes is MaxResponseBytes; tests lower it.
var maxResponseBytes int64 = MaxResponseBytes

// readBody reads a whole response body, classifying a broken stream as ErrServer.
func (c *Client) readBody(ctx context.Context, resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err == nil && int64(len(b)) > maxResponseBytes {
		return nil, fmt.Errorf("%w: response larger than %d bytes (a page of %d rows is far less)", ErrServer, maxResponseBytes, c.cfg.PageSize)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("mast: %w", ctx.Err())
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: truncated response: %w", ErrServer, err)
		}
		if errors.Is(err, retry.ErrStalled) {
			return nil, fmt.Errorf("%w: reading response: %w", ErrServer, err)
		}
		return nil, fmt.Errorf("%w: reading response: %s", ErrServer, c.scrub(err.Error()))
	}
	return b, nil
}
