package mast

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mastfs/mastfs/retry"
)

// ObjectInfo describes a product as the download endpoint reports it.
type ObjectInfo struct {
	Size         int64 // -1 when the archive gives no length (generated products)
	ETag         string
	AcceptRanges bool
	LastModified time.Time // zero when absent
	ContentType  string
}

// DownloadURL is the on-premise URL of a product, quoted as astroquery's
// download_file does (quote(uri, safe=":/"), so "?&=" in HLA cgi URIs
// survive).
func (c *Client) DownloadURL(uri string) string {
	return c.cfg.BaseURL + "/api/v0.1/Download/file?uri=" + pyQuote(uri, ":/")
}

// downloadRequest is a GET/HEAD of a product. Identity encoding keeps
// byte offsets and lengths those of the product itself.
func (c *Client) downloadRequest(ctx context.Context, method, uri string) (*http.Request, error) {
	req, err := c.newRequest(ctx, method, c.DownloadURL(uri), nil, true)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept-Encoding", "identity")
	return req, nil
}

// Head returns the size and validators of a product. When HEAD gives no
// length (or is not allowed), a one-byte ranged GET is tried, whose
// Content-Range carries the total.
func (c *Client) Head(ctx context.Context, uri string) (ObjectInfo, error) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	req, err := c.downloadRequest(ctx, http.MethodHead, uri)
	if err != nil {
		return ObjectInfo{}, err
	}
	info := ObjectInfo{Size: -1}
	resp, err := c.do(req)
	var he *HTTPError
	switch {
	case errors.As(err, &he) && (he.StatusCode == http.StatusMethodNotAllowed || he.StatusCode == http.StatusNotImplemented):
	case err != nil:
		return ObjectInfo{}, err
	default:
		resp.Body.Close()
		info = objectInfo(resp)
		info.Size = resp.ContentLength
	}
	if info.Size >= 0 {
		return info, nil
	}
	if err := c.probeSize(ctx, uri, &info); err != nil {
		return ObjectInfo{}, err
	}
	return info, nil
}

func objectInfo(resp *http.Response) ObjectInfo {
	info := ObjectInfo{
		Size:         -1,
		ETag:         resp.Header.Get("ETag"),
		AcceptRanges: strings.Contains(strings.ToLower(resp.Header.Get("Accept-Ranges")), "bytes"),
		ContentType:  resp.Header.Get("Content-Type"),
	}
	if t, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		info.LastModified = t
	}
	return info
}

// probeSize learns the size from a "Range: bytes=0-0" GET. The body is
// not read: for a generated product it may be the whole thing.
func (c *Client) probeSize(ctx context.Context, uri string, info *ObjectInfo) error {
	req, err := c.downloadRequest(ctx, http.MethodGet, uri)
	if err != nil {
		return err
	}
	req.Header.Set("Range", "bytes=0-0")
	resp, err := c.do(req)
	var he *HTTPError
	if errors.As(err, &he) && he.StatusCode == http.StatusRequestedRangeNotSatisfiable {
		info.Size = 0 // nothing to give a byte of
		return nil
	}
	if err != nil {
		return err
	}
	resp.Body.Close()
	got := objectInfo(resp)
	if info.ETag == "" {
		info.ETag = got.ETag
	}
	if info.LastModified.IsZero() {
		info.LastModified = got.LastModified
	}
	if info.ContentType == "" {
		info.ContentType = got.ContentType
	}
	switch resp.StatusCode {
	case http.StatusPartialContent:
		if cr, err := parseContentRange(resp.Header.Get("Content-Range")); err == nil && cr.total >= 0 {
			info.Size = cr.total
			info.AcceptRanges = true
		}
	case http.StatusOK:
		info.Size = resp.ContentLength
	}
	return nil
}

// contentRange is a parsed "bytes first-last/total" (total -1 for "*").
type contentRange struct {
	first, last, total int64
}

func parseContentRange(s string) (contentRange, error) {
	bad := fmt.Errorf("bad Content-Range %q", s)
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), "bytes ")
	if !ok {
		return contentRange{}, bad
	}
	span, total, ok := strings.Cut(rest, "/")
	if !ok {
		return contentRange{}, bad
	}
	cr := contentRange{first: -1, last: -1, total: -1}
	if total != "*" {
		n, err := strconv.ParseInt(total, 10, 64)
		if err != nil || n < 0 {
			return contentRange{}, bad
		}
		cr.total = n
	}
	if span == "*" { // unsatisfied-range form
		return cr, nil
	}
	a, b, ok := strings.Cut(span, "-")
	if !ok {
		return contentRange{}, bad
	}
	var err1, err2 error
	cr.first, err1 = strconv.ParseInt(a, 10, 64)
	cr.last, err2 = strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || cr.first < 0 || cr.last < cr.first || cr.total >= 0 && cr.last >= cr.total {
		return contentRange{}, bad
	}
	return cr, nil
}

// ReadAt reads len(p) bytes of a product starting at off, with ranged GETs
// of Download/file. It follows io.ReaderAt: n < len(p) comes with an
// error, and io.EOF only when the product really ends before off+len(p).
// A server that ignores Range (200) still yields the right bytes; a wrong
// Content-Range, a short body or a broken connection is an ErrServer
// error, never a short read.
func (c *Client) ReadAt(ctx context.Context, uri string, p []byte, off int64) (int, error) {
	return c.ReadAtSize(ctx, uri, p, off, -1)
}

// ReadAtSize is ReadAt for a product the caller believes is size bytes long
// (-1: no belief). When the archive reports another total length, the product
// was replaced since the caller learned its size, and ReadAtSize returns an
// error wrapping ErrChanged instead of bytes of the new version.
func (c *Client) ReadAtSize(ctx context.Context, uri string, p []byte, off, size int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("mast: ReadAt %s: negative offset %d", uri, off)
	}
	if len(p) == 0 {
		return 0, nil
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	n := 0
	failures := 0 // consecutive failed attempts without a byte gained
	for n < len(p) {
		m, eof, err := c.readRange(ctx, uri, p[n:], off+int64(n), size)
		n += m
		if m > 0 {
			failures = 0
		}
		switch {
		case err != nil:
			// The m bytes of a broken answer are the product's bytes at
			// their offsets (readRange checked the range first), so they
			// are kept and the next attempt resumes after them.
			ok, after := isTransient(err)
			if !ok || ctx.Err() != nil || failures+1 >= c.cfg.Retries {
				return n, unmark(err)
			}
			if err := c.backoff(ctx, failures, after, "GET "+c.DownloadURL(uri), unmark(err)); err != nil {
				return n, err
			}
			failures++
			continue
		case eof:
			if n == len(p) {
				return n, nil
			}
			return n, io.EOF
		case m == 0:
			return n, fmt.Errorf("%w: %s: no bytes at offset %d", ErrServer, uri, off+int64(n))
		}
		// A server may legally answer a shorter range than asked; ask
		// again for the rest.
	}
	return n, nil
}

// readRange does one ranged GET into p. eof reports that the product ends
// at off+n. Failures worth another attempt come marked transient; the n
// bytes given with such a failure are right.
func (c *Client) readRange(ctx context.Context, uri string, p []byte, off, wantTotal int64) (n int, eof bool, err error) {
	req, err := c.downloadRequest(ctx, http.MethodGet, uri)
	if err != nil {
		return 0, false, err
	}
	last := off + int64(len(p)) - 1
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, last))
	resp, err := c.sendOnce(req, c.cfg.StallTimeout)
	var he *HTTPError
	if errors.As(err, &he) && he.StatusCode == http.StatusRequestedRangeNotSatisfiable {
		return 0, true, nil // off is at or past the end
	}
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()
	broken := func(format string, a ...any) error {
		return &transient{err: fmt.Errorf("%w: %s: %s", ErrServer, uri, fmt.Sprintf(format, a...))}
	}
	switch resp.StatusCode {
	case http.StatusPartialContent:
		if strings.HasPrefix(resp.Header.Get("Content-Type"), "multipart/") {
			return 0, false, broken("multipart answer to a single range")
		}
		cr, err := parseContentRange(resp.Header.Get("Content-Range"))
		if err != nil {
			return 0, false, broken("%v", err)
		}
		if wantTotal >= 0 && cr.total >= 0 && cr.total != wantTotal {
			return 0, false, fmt.Errorf("%w: %s: now %d bytes, was %d", ErrChanged, uri, cr.total, wantTotal)
		}
		if cr.first != off || cr.last > last {
			return 0, false, broken("asked bytes %d-%d, got Content-Range %q", off, last, resp.Header.Get("Content-Range"))
		}
		size := cr.last - cr.first + 1
		if resp.ContentLength >= 0 && resp.ContentLength != size {
			return 0, false, broken("Content-Length %d does not match Content-Range %q", resp.ContentLength, resp.Header.Get("Content-Range"))
		}
		m, err := readFull(resp.Body, p[:size])
		if m < int(size) {
			return m, false, c.bodyError(ctx, uri, err, m, size)
		}
		return m, cr.total >= 0 && cr.last == cr.total-1, nil

	case http.StatusOK:
		// Range ignored: the body is the whole product. Skip to off.
		c.log.Debug("mast: server ignored Range", "uri", uri, "off", off)
		// Without a length, only a framed body (chunked, HTTP/2) says
		// where the product ends; a connection close could be a failure.
		framed := resp.ContentLength >= 0 || resp.ProtoMajor >= 2 ||
			len(resp.TransferEncoding) > 0 && resp.TransferEncoding[0] == "chunked"
		if wantTotal >= 0 && resp.ContentLength >= 0 && resp.ContentLength != wantTotal {
			return 0, false, fmt.Errorf("%w: %s: now %d bytes, was %d", ErrChanged, uri, resp.ContentLength, wantTotal)
		}
		if resp.ContentLength >= 0 && off >= resp.ContentLength {
			return 0, true, nil
		}
		skipped, err := io.CopyN(io.Discard, resp.Body, off)
		if skipped < off {
			if err == io.EOF && framed && resp.ContentLength < 0 {
				return 0, true, nil
			}
			return 0, false, c.bodyError(ctx, uri, err, int(skipped), off)
		}
		want := int64(len(p))
		if resp.ContentLength >= 0 {
			want = min(want, resp.ContentLength-off)
		}
		m, err := readFull(resp.Body, p[:want])
		switch {
		case int64(m) == want:
			return m, resp.ContentLength >= 0 && off+want == resp.ContentLength, nil
		case err == io.EOF && framed && resp.ContentLength < 0:
			return m, true, nil
		default:
			return m, false, c.bodyError(ctx, uri, err, m, want)
		}
	}
	return 0, false, fmt.Errorf("%w: %s: unexpected status %d for a ranged GET", ErrServer, uri, resp.StatusCode)
}

// readFull is io.ReadFull without turning a clean EOF into
// io.ErrUnexpectedEOF, so the caller can tell a framed end from a break.
func readFull(r io.Reader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := r.Read(p[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// bodyError classifies a body that stopped early: transient, unless the
// caller's ctx ended.
func (c *Client) bodyError(ctx context.Context, uri string, err error, got int, want int64) error {
	if ctx.Err() != nil {
		return fmt.Errorf("mast: %s: %w", uri, ctx.Err())
	}
	if errors.Is(err, retry.ErrStalled) {
		return &transient{err: fmt.Errorf("%w: %s: body stalled after %d of %d bytes: %w", ErrServer, uri, got, want, err)}
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return &transient{err: fmt.Errorf("%w: %s: body ended after %d of %d bytes: %s", ErrServer, uri, got, want, c.scrub(err.Error()))}
}

// Open streams a whole product (for products without a Content-Length,
// or a full download). Config.Timeout and Config.StallTimeout (the shorter
// one) bound the wait for the response and then every wait for more bytes,
// not the whole transfer. A failed attempt is retried as long as no byte
// was handed to the caller; after that, the transfer resumes with a Range
// from the first byte not yet delivered, when the product's length is
// known and unchanged (a different length or ETag is ErrChanged). A length
// mismatch or broken chunked stream that cannot be resumed reads as an
// ErrServer error.
func (c *Client) Open(ctx context.Context, uri string) (io.ReadCloser, error) {
	ctx, cancel := context.WithCancel(ctx)
	s := &stream{ctx: ctx, cancel: cancel, c: c, uri: uri, stall: c.openStall(), total: -1}
	if err := s.connect(); err != nil {
		cancel()
		return nil, err
	}
	return s, nil
}

// openStall is the shorter of Timeout and StallTimeout (0: neither).
func (c *Client) openStall() time.Duration {
	t, st := c.cfg.Timeout, c.cfg.StallTimeout
	switch {
	case t > 0 && st > 0:
		return min(t, st)
	case t > 0:
		return t
	case st > 0:
		return st
	}
	return 0
}

// stream is the body of Open, resumed after failures.
type stream struct {
	ctx    context.Context
	cancel context.CancelFunc
	c      *Client
	uri    string
	stall  time.Duration

	mu     sync.Mutex    // protects body and closed against a concurrent Close
	body   io.ReadCloser // nil between attempts
	closed bool

	pos      int64  // bytes handed to the caller
	total    int64  // length of the first answer, -1 unknown
	etag     string // ETag of the first answer
	opened   bool   // a first answer was accepted
	failures int    // consecutive failures without progress
}

// connect starts (or resumes at s.pos) the transfer, with retries.
func (s *stream) connect() error {
	for {
		err := s.try()
		if err == nil {
			return nil
		}
		ok, after := isTransient(err)
		if !ok || s.ctx.Err() != nil || s.failures+1 >= s.c.cfg.Retries {
			return unmark(err)
		}
		if err := s.c.backoff(s.ctx, s.failures, after, "GET "+s.c.DownloadURL(s.uri), unmark(err)); err != nil {
			return err
		}
		s.failures++
	}
}

// try is one attempt of connect.
func (s *stream) try() error {
	req, err := s.c.downloadRequest(s.ctx, http.MethodGet, s.uri)
	if err != nil {
		return err
	}
	if s.pos > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", s.pos))
	}
	resp, err := s.c.sendOnce(req, s.stall)
	if err != nil {
		if s.pos == 0 {
			return s.noResponse(err)
		}
		return err
	}
	fail := func(err error) error {
		resp.Body.Close()
		return err
	}
	changed := func(format string, a ...any) error {
		return fail(fmt.Errorf("%w: %s: %s", ErrChanged, s.uri, fmt.Sprintf(format, a...)))
	}
	etag := resp.Header.Get("ETag")
	if s.opened && s.etag != "" && etag != "" && etag != s.etag {
		return changed("ETag now %s, was %s", etag, s.etag)
	}
	switch {
	case resp.StatusCode == http.StatusPartialContent && s.pos > 0:
		cr, err := parseContentRange(resp.Header.Get("Content-Range"))
		if err != nil || cr.first != s.pos {
			return fail(&transient{err: fmt.Errorf("%w: %s: resuming at %d, got Content-Range %q", ErrServer, s.uri, s.pos, resp.Header.Get("Content-Range"))})
		}
		if s.total >= 0 && cr.total >= 0 && cr.total != s.total {
			return changed("now %d bytes, was %d", cr.total, s.total)
		}
		if cr.total < 0 || cr.last != cr.total-1 {
			// A shorter part than asked would end the stream early.
			return fail(fmt.Errorf("%w: %s: cannot resume: partial answer %q", ErrServer, s.uri, resp.Header.Get("Content-Range")))
		}
	case resp.StatusCode == http.StatusOK:
		if s.opened && s.total >= 0 && resp.ContentLength >= 0 && resp.ContentLength != s.total {
			return changed("now %d bytes, was %d", resp.ContentLength, s.total)
		}
		if s.pos > 0 {
			// Range ignored: the whole product again. Only bytes of the
			// same length can be skipped to the resume point.
			if s.total < 0 || resp.ContentLength != s.total {
				return fail(fmt.Errorf("%w: %s: cannot resume at byte %d: the archive gives no length", ErrServer, s.uri, s.pos))
			}
			if k, err := io.CopyN(io.Discard, resp.Body, s.pos); k < s.pos {
				return fail(s.c.bodyError(s.ctx, s.uri, err, int(k), s.pos))
			}
		}
		if !s.opened {
			s.total, s.etag = resp.ContentLength, etag
		}
	default:
		return fail(fmt.Errorf("%w: %s: unexpected status %d", ErrServer, s.uri, resp.StatusCode))
	}
	s.opened = true
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		resp.Body.Close()
		return fmt.Errorf("mast: %s: read after Close", s.uri)
	}
	s.body = resp.Body
	return nil
}

// current is the body of the attempt in progress, nil between attempts.
func (s *stream) current() io.ReadCloser {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.body
}

// drop closes the body of a failed attempt.
func (s *stream) drop() {
	s.mu.Lock()
	b := s.body
	s.body = nil
	s.mu.Unlock()
	if b != nil {
		b.Close()
	}
}

// noResponse names a header wait that hit the stall timeout.
func (s *stream) noResponse(err error) error {
	if ok, _ := isTransient(err); ok && strings.Contains(err.Error(), "no response within") {
		return &transient{err: fmt.Errorf("%w: %s: no response within %v", ErrServer, s.uri, s.stall)}
	}
	return err
}

func (s *stream) Read(p []byte) (int, error) {
	for {
		body := s.current()
		if body == nil {
			if err := s.connect(); err != nil {
				return 0, err
			}
			if body = s.current(); body == nil {
				return 0, fmt.Errorf("mast: %s: read after Close", s.uri)
			}
		}
		n, err := body.Read(p)
		s.pos += int64(n)
		if n > 0 {
			s.failures = 0
		}
		if err == nil || err == io.EOF {
			return n, err
		}
		if n > 0 {
			return n, nil // the body repeats its error on the next Read
		}
		switch {
		case s.ctx.Err() != nil:
			return 0, fmt.Errorf("mast: %s: %w", s.uri, s.ctx.Err())
		case errors.Is(err, retry.ErrStalled):
			err = fmt.Errorf("%w: %s: no data for %v: %w", ErrServer, s.uri, s.stall, retry.ErrStalled)
		default:
			err = fmt.Errorf("%w: %s: %s", ErrServer, s.uri, s.c.scrub(err.Error()))
		}
		s.drop()
		if s.failures+1 >= s.c.cfg.Retries {
			return 0, err
		}
		if berr := s.c.backoff(s.ctx, s.failures, 0, "GET "+s.c.DownloadURL(s.uri), err); berr != nil {
			return 0, berr
		}
		s.failures++
	}
}

// Close ends the transfer; it may be called while a Read is blocked.
func (s *stream) Close() error {
	s.cancel()
	s.mu.Lock()
	b := s.body
	s.body, s.closed = nil, true
	s.mu.Unlock()
	if b != nil {
		return b.Close()
	}
	return nil
}

// BundleScript asks MAST for a curl script that downloads the given
// products (astroquery's curl_flag download): POST Download/bundle.sh
// with one uri form field per product.
func (c *Client) BundleScript(ctx context.Context, uris []string) ([]byte, error) {
	if len(uris) == 0 {
		return nil, &InvalidCriteriaError{Reason: "no products to download"}
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	form := url.Values{"uri": uris}
	req, err := c.newRequest(ctx, http.MethodPost, c.cfg.BaseURL+"/api/v0.1/Download/bundle.sh",
		strings.NewReader(form.Encode()), true)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.fetch(req)
}
