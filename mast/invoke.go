package mast

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// InvokeOptions tunes one Mashup call.
type InvokeOptions struct {
	// PageSize overrides Config.PageSize for this call.
	PageSize int
	// Page, when non-zero, fetches only that page (astroquery's page=N);
	// zero fetches every page and stacks them.
	Page int
	// Format is the envelope "format"; default "json".
	Format string
	// Extra are further top-level envelope keys, in order, placed after
	// "page" as astroquery's **kwargs are. A key that already exists
	// (format, pagesize, page) is overwritten in place.
	Extra Params
}

// Polling backoff while the server answers EXECUTING. astroquery re-posts
// immediately; a short capped backoff keeps latency low for quick jobs
// without hammering the server on slow ones.
const (
	pollFirstDelay = 100 * time.Millisecond
	pollMaxDelay   = 2 * time.Second
)

// paging is the Mashup "paging" object.
type paging struct {
	Page          int64 `json:"page"`
	PageSize      int64 `json:"pageSize"`
	PagesFiltered int64 `json:"pagesFiltered"`
	Rows          int64 `json:"rows"`
	RowsFiltered  int64 `json:"rowsFiltered"`
	RowsTotal     int64 `json:"rowsTotal"`
}

// mashupResponse is one decoded answer. Data stays raw because its shape
// depends on the format (a row list for json, an object for extjs).
type mashupResponse struct {
	Status string          `json:"status"`
	Msg    string          `json:"msg"`
	Data   json.RawMessage `json:"data"`
	Fields []Field         `json:"fields"`
	Paging *paging         `json:"paging"`
}

// envelope is the request object, in astroquery's key order.
func (c *Client) envelope(service string, params any, opt InvokeOptions, page int, cacheBreaker string) (Params, error) {
	if params == nil {
		params = Params{}
	}
	pageSize := opt.PageSize
	if pageSize <= 0 {
		pageSize = c.cfg.PageSize
	}
	format := opt.Format
	if format == "" {
		format = "json"
	}
	env := Params{
		{"service", service},
		{"params", params},
		{"format", format},
		{"pagesize", pageSize},
		{"page", page},
	}
	for _, p := range opt.Extra {
		env.Set(p.Key, p.Value)
	}
	env.Set("cacheBreaker", cacheBreaker)
	return env, nil
}

// encodeRequest is astroquery's _prepare_service_request_string:
// "request=" + quote(json.dumps(envelope)).
func encodeRequest(env Params) ([]byte, error) {
	js, err := pyJSON(env)
	if err != nil {
		return nil, err
	}
	return []byte("request=" + pyQuote(string(js), "/")), nil
}

// Invoke calls a Mashup service through /api/v0/invoke and returns the
// stacked table of every page (or of opt.Page only). It polls while the
// server answers EXECUTING, re-sending the identical request (same
// cacheBreaker) as MAST requires.
func (c *Client) Invoke(ctx context.Context, service string, params any, opt InvokeOptions) (*Table, error) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	return c.invoke(ctx, service, params, opt)
}

func (c *Client) invoke(ctx context.Context, service string, params any, opt InvokeOptions) (*Table, error) {
	t := &Table{}
	seen := map[string]bool{}
	addPage := func(r *mashupResponse) (int, error) {
		var rows []Row
		if len(r.Data) > 0 {
			dec := json.NewDecoder(bytes.NewReader(r.Data))
			dec.UseNumber() // keep obsids and sizes exact
			if err := dec.Decode(&rows); err != nil {
				return 0, fmt.Errorf("%w: %s: data is not a row list: %v", ErrServer, service, err)
			}
		}
		// Columns: server order, _selected_ dropped, duplicates skipped
		// (astroquery does both); a later page may add columns.
		for _, f := range r.Fields {
			if f.Name == "_selected_" || seen[f.Name] {
				continue
			}
			seen[f.Name] = true
			t.Fields = append(t.Fields, f)
		}
		for _, row := range rows {
			delete(row, "_selected_")
		}
		t.Rows = append(t.Rows, rows...)
		return len(rows), nil
	}

	page := 1
	if opt.Page > 0 {
		page = opt.Page
	}
	cacheBreaker := c.newCacheBreaker()
	for {
		r, err := c.poll(ctx, service, params, opt, page, cacheBreaker)
		if err != nil {
			return nil, err
		}
		n, err := addPage(r)
		if err != nil {
			return nil, err
		}
		t.RowsFiltered = -1
		if r.Paging != nil {
			t.RowsFiltered = r.Paging.RowsFiltered
		}
		if opt.Page > 0 || r.Status != "COMPLETE" || r.Paging == nil {
			return t, nil
		}
		// Paging is driven by the server's page/pagesFiltered only, so a
		// server that returns fewer rows than asked still gets every page.
		p := r.Paging
		if p.Page >= p.PagesFiltered {
			return t, nil
		}
		// Guards astroquery lacks: a server that answers some other page,
		// or an empty page before the last, would make us loop forever.
		if p.Page != int64(page) {
			return nil, fmt.Errorf("%w: %s: asked for page %d, got page %d of %d", ErrServer, service, page, p.Page, p.PagesFiltered)
		}
		if n == 0 {
			return nil, fmt.Errorf("%w: %s: page %d of %d is empty", ErrServer, service, page, p.PagesFiltered)
		}
		page++
	}
}

// poll posts one page request until the answer is no longer EXECUTING.
func (c *Client) poll(ctx context.Context, service string, params any, opt InvokeOptions, page int, cacheBreaker string) (*mashupResponse, error) {
	env, err := c.envelope(service, params, opt, page, cacheBreaker)
	if err != nil {
		return nil, err
	}
	body, err := encodeRequest(env)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	delay := pollFirstDelay
	for {
		r, err := c.postInvoke(ctx, service, body)
		if err != nil {
			return nil, err
		}
		switch r.Status {
		case "COMPLETE":
			return r, nil
		case "ERROR":
			msg := r.Msg
			if msg == "" {
				msg = "There was an error with your request."
			}
			return nil, &ServiceError{Service: service, Msg: c.scrub(msg)}
		case "EXECUTING":
		default:
			// astroquery stops paging and keeps the data for any other
			// status; so do we, but say so.
			c.log.Warn("mast: unexpected status", "service", service, "status", r.Status)
			return r, nil
		}
		if waited := time.Since(start); waited >= c.cfg.PollDeadline {
			return nil, fmt.Errorf("%w: %s still EXECUTING after %v", ErrServer, service, waited.Round(time.Millisecond))
		}
		if err := c.sleep(ctx, delay); err != nil {
			return nil, fmt.Errorf("mast: %s: %w", service, err)
		}
		delay = min(2*delay, pollMaxDelay)
	}
}

// postInvoke sends one request and decodes the answer. A falsy JSON body
// ({} [] null "" 0 false) is an ERROR, as in astroquery.
func (c *Client) postInvoke(ctx context.Context, service string, body []byte) (*mashupResponse, error) {
	raw, err := c.postPortal(withService(ctx, service), "/api/v0/invoke", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		if json.Valid(raw) || len(raw) == 0 {
			return nil, &ServiceError{Service: service, Msg: "empty response"}
		}
		return nil, fmt.Errorf("%w: %s: response is not JSON", ErrServer, service)
	}
	var r mashupResponse
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("%w: %s: malformed response: %v", ErrServer, service, err)
	}
	if r.Status == "" {
		if bytes.Equal(bytes.Join(bytes.Fields(raw), nil), []byte("{}")) {
			return nil, &ServiceError{Service: service, Msg: "empty response"}
		}
		return nil, fmt.Errorf("%w: %s: response has no status", ErrServer, service)
	}
	return &r, nil
}

// uuid4 is a random RFC 4122 version 4 UUID, Python's str(uuid.uuid4()).
func uuid4() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// postPortal sends one Portal (Mashup) POST with astroquery's headers and
// returns the body.
func (c *Client) postPortal(ctx context.Context, path string, body io.Reader) ([]byte, error) {
	req, err := c.newRequest(ctx, http.MethodPost, c.cfg.BaseURL+path, body, true)
	if err != nil {
		return nil, err
	}
	portalHeaders(req)
	return c.fetch(req)
}
