package mast

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Defaults used by New for zero Config fields.
const (
	DefaultBaseURL      = "https://mast.stsci.edu"
	DefaultResolverURL  = "http://mastresolver.stsci.edu/Santa-war/query"
	DefaultPageSize     = 50000 // astroquery's conf.pagesize
	DefaultTimeout      = 2 * time.Minute
	DefaultPollDeadline = 10 * time.Minute // astroquery's conf.timeout
	DefaultUserAgent    = "mastfs (+https://github.com/mastfs/mastfs)"
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
}

// String and LogValue keep the token out of %v and structured logs.
func (c Config) String() string {
	return fmt.Sprintf("mast.Config{BaseURL:%s ResolverURL:%s PathLookupURL:%s Token:%s PageSize:%d Timeout:%v PollDeadline:%v}",
		c.BaseURL, c.ResolverURL, c.PathLookupURL, redacted(c.Token), c.PageSize, c.Timeout, c.PollDeadline)
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
	c := &Client{
		cfg:             cfg,
		http:            cfg.HTTPClient,
		log:             cfg.Logger,
		newCacheBreaker: uuid4,
		sleep:           sleepCtx,
		configs:         make(map[string]*configCall),
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

// do sends req and turns non-2xx answers and transport failures into typed
// errors, counting it in Stats. On success the caller owns resp.Body.
func (c *Client) do(req *http.Request) (*http.Response, error) {
	resp, err := c.send(req)
	return c.count(req, resp, err)
}

func (c *Client) send(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		err = c.transportError(req.Context(), err)
		c.log.Debug("mast request failed", "method", req.Method, "url", req.URL.Redacted(), "err", err)
		return nil, err
	}
	c.log.Debug("mast request", "method", req.Method, "url", req.URL.Redacted(),
		"status", resp.StatusCode, "elapsed", time.Since(start))
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
		return nil, &HTTPError{
			Method:     req.Method,
			URL:        req.URL.Redacted(),
			StatusCode: resp.StatusCode,
			Body:       c.scrub(strings.TrimSpace(string(snippet))),
		}
	}
	return resp, nil
}

// transportError classifies a failure below HTTP. Cancellation stays
// recognisable (errors.Is(err, context.Canceled)) and is not ErrServer,
// so a caller can tell an interrupted read from a broken archive.
func (c *Client) transportError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("mast: %w", ctx.Err())
	}
	return fmt.Errorf("%w: %s", ErrServer, c.scrub(err.Error()))
}

// scrub removes the token from text that came from elsewhere (a server
// echoing a header back, a transport error).
func (c *Client) scrub(s string) string {
	if c.cfg.Token == "" {
		return s
	}
	return strings.ReplaceAll(s, c.cfg.Token, "[redacted]")
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// readBody reads a whole response body, classifying a broken stream as ErrServer.
func (c *Client) readBody(ctx context.Context, resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("mast: %w", ctx.Err())
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: truncated response: %w", ErrServer, err)
		}
		return nil, fmt.Errorf("%w: reading response: %s", ErrServer, c.scrub(err.Error()))
	}
	return b, nil
}
