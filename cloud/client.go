package cloud

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/mastfs/mastfs/mast"
)

// Defaults of Config.
const (
	DefaultBucket  = "stpubdata"
	DefaultRegion  = "us-east-1"
	DefaultTimeout = 2 * time.Minute
)

// Config configures a Client.
type Config struct {
	// Endpoint is the S3 endpoint URL; "" means AWS (virtual-hosted
	// addressing). When set, requests use path-style addressing.
	Endpoint string
	Bucket   string // default DefaultBucket
	Region   string // default DefaultRegion
	// Timeout bounds each Head and each ReadAt; default DefaultTimeout,
	// negative disables it (the caller's context still applies).
	Timeout time.Duration
	// HTTPClient replaces the transport built here (TLS verification on,
	// AWS_CA_BUNDLE honoured). Tests may use it; it must verify TLS too.
	HTTPClient aws.HTTPClient
	// RetryMaxAttempts is the SDK's attempts per request (default 3).
	RetryMaxAttempts int
	Logger           *slog.Logger
}

// Sentinel errors. Errors of Head and ReadAt wrap one of them (or a
// context error).
var (
	// ErrNotFound: the object does not exist (HTTP 404). A *NotFoundError
	// is errors.Is both ErrNotFound and io/fs.ErrNotExist.
	ErrNotFound = errors.New("cloud: object not found")
	// ErrForbidden: HTTP 401/403. S3 also answers 403 for a missing key
	// when listing is not allowed to the caller.
	ErrForbidden = errors.New("cloud: access denied")
	// ErrS3: any other failure (5xx after retries, transport errors, an
	// answer that does not match the request).
	ErrS3 = errors.New("cloud: S3 failure")
)

// NotFoundError is a missing object.
type NotFoundError struct {
	Bucket, Key string
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("cloud: s3://%s/%s: not found", e.Bucket, e.Key)
}

// Is makes a NotFoundError errors.Is(err, ErrNotFound) and
// errors.Is(err, fs.ErrNotExist).
func (e *NotFoundError) Is(target error) bool {
	return target == ErrNotFound || target == fs.ErrNotExist
}

// Stats are a Client's counters.
type Stats struct {
	Heads  int64 // HeadObject calls
	Gets   int64 // GetObject calls (ranged reads, retries included)
	Bytes  int64 // body bytes read by ReadAt
	Errors int64 // calls that failed (not-found excluded)
}

// Client is an anonymous S3 client for one bucket.
type Client struct {
	s3      *s3.Client
	bucket  string
	timeout time.Duration
	log     *slog.Logger

	heads, gets, bytes, errs atomic.Int64
}

// New builds a Client. It reads no AWS configuration: the only part of the
// environment it uses is AWS_CA_BUNDLE (extra trusted certificates).
func New(cfg Config) (*Client, error) {
	if cfg.Bucket == "" {
		cfg.Bucket = DefaultBucket
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.RetryMaxAttempts <= 0 {
		cfg.RetryMaxAttempts = 3
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		var err error
		if hc, err = newHTTPClient(os.Getenv("AWS_CA_BUNDLE")); err != nil {
			return nil, err
		}
	}
	awsCfg := aws.Config{
		Region:                     cfg.Region,
		Credentials:                aws.AnonymousCredentials{},
		HTTPClient:                 hc,
		RetryMaxAttempts:           cfg.RetryMaxAttempts,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		Logger:                     logging.Nop{},
	}
	endpoint := strings.TrimRight(cfg.Endpoint, "/")
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		// Set again on the client: nothing may replace them.
		o.Credentials = aws.AnonymousCredentials{}
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
			o.UsePathStyle = true
		}
	})
	return &Client{s3: client, bucket: cfg.Bucket, timeout: cfg.Timeout, log: cfg.Logger}, nil
}

// newHTTPClient is the SDK's buildable client (which supports transport
// options) with TLS verification and the extra roots of caBundle.
func newHTTPClient(caBundle string) (aws.HTTPClient, error) {
	var roots *x509.CertPool
	if caBundle != "" {
		pem, err := os.ReadFile(caBundle)
		if err != nil {
			return nil, fmt.Errorf("cloud: AWS_CA_BUNDLE: %w", err)
		}
		roots, err = x509.SystemCertPool()
		if err != nil || roots == nil {
			roots = x509.NewCertPool()
		}
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("cloud: AWS_CA_BUNDLE %s: no certificates found", caBundle)
		}
	}
	return awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		if t.TLSClientConfig == nil {
			t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		t.TLSClientConfig.InsecureSkipVerify = false
		if roots != nil {
			t.TLSClientConfig.RootCAs = roots
		}
		t.MaxIdleConnsPerHost = 64
	}), nil
}

// Bucket is the bucket the client reads.
func (c *Client) Bucket() string { return c.bucket }

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	return Stats{Heads: c.heads.Load(), Gets: c.gets.Load(), Bytes: c.bytes.Load(), Errors: c.errs.Load()}
}

func (c *Client) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.timeout > 0 {
		return context.WithTimeout(ctx, c.timeout)
	}
	return context.WithCancel(ctx)
}

// Head returns the size and ETag (as S3 sends it, quotes included) of an
// object. A missing object is a *NotFoundError.
func (c *Client) Head(ctx context.Context, key string) (size int64, etag string, err error) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	c.heads.Add(1)
	out, err := c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(c.bucket), Key: aws.String(key)})
	if err != nil {
		err = c.classify(ctx, "HEAD", key, err)
		if !errors.Is(err, ErrNotFound) {
			c.errs.Add(1)
		}
		return 0, "", err
	}
	if out.ContentLength == nil || *out.ContentLength < 0 {
		c.errs.Add(1)
		return 0, "", fmt.Errorf("%w: HEAD s3://%s/%s: no Content-Length", ErrS3, c.bucket, key)
	}
	return *out.ContentLength, aws.ToString(out.ETag), nil
}

// classify turns an SDK error into one of the package's errors.
func (c *Client) classify(ctx context.Context, op, key string, err error) error {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		switch code := re.HTTPStatusCode(); {
		case code == http.StatusNotFound:
			return &NotFoundError{Bucket: c.bucket, Key: key}
		case code == http.StatusUnauthorized || code == http.StatusForbidden:
			return fmt.Errorf("%w: %s s3://%s/%s: HTTP %d", ErrForbidden, op, c.bucket, key, code)
		}
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%s s3://%s/%s: %w", op, c.bucket, key, ctxErr)
	}
	return fmt.Errorf("%w: %s s3://%s/%s: %v", ErrS3, op, c.bucket, key, err)
}

func statusOf(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// bodyAttempts is how often a ranged GET whose body breaks off is tried
// (the SDK retries failed requests, not failed bodies).
const bodyAttempts = 3

// ReadAt reads len(p) bytes of an object starting at off with ranged
// GETs. It follows io.ReaderAt: n < len(p) comes with an error, io.EOF
// only when the object really ends before off+len(p). An answer whose
// Content-Range or length does not match the request is an ErrS3 error,
// never a short or shifted read.
func (c *Client) ReadAt(ctx context.Context, key string, p []byte, off int64) (int, error) {
	return c.ReadAtETag(ctx, key, "", p, off)
}

// ReadAtETag is ReadAt of one version of the object: when etag is not
// empty, every GET carries If-Match: etag and an answer with another ETag
// is refused, so a replaced object gives an error wrapping mast.ErrChanged
// (HTTP 412, or a server that ignores If-Match and answers with a different
// ETag), never bytes of the new version.
func (c *Client) ReadAtETag(ctx context.Context, key, etag string, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("cloud: ReadAt s3://%s/%s: negative offset %d", c.bucket, key, off)
	}
	if len(p) == 0 {
		return 0, nil
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	n := 0
	for n < len(p) {
		var (
			m   int
			eof bool
			err error
		)
		for attempt := 1; ; attempt++ {
			m, eof, err = c.readRange(ctx, key, etag, p[n:], off+int64(n))
			var be *bodyError
			if err == nil || !errors.As(err, &be) || attempt == bodyAttempts || ctx.Err() != nil {
				break
			}
			c.log.Debug("cloud: retrying broken read", "key", key, "off", off+int64(n), "err", err)
		}
		if err != nil {
			if !errors.Is(err, ErrNotFound) && !errors.Is(err, mast.ErrChanged) {
				c.errs.Add(1)
			}
			return n, err
		}
		n += m
		switch {
		case eof:
			if n == len(p) {
				return n, nil
			}
			return n, io.EOF
		case m == 0:
			c.errs.Add(1)
			return n, fmt.Errorf("%w: s3://%s/%s: no bytes at offset %d", ErrS3, c.bucket, key, off+int64(n))
		}
		// A shorter range than asked (legal HTTP, not seen from S3): ask
		// again for the rest.
	}
	return n, nil
}

// bodyError is a body that broke off or was shorter than announced; the
// read is worth another attempt.
type bodyError struct{ err error }

func (e *bodyError) Error() string { return e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }

// rangeBody is the validated answer to one ranged GET: body yields
// exactly size bytes that are the object's bytes at the asked offset.
type rangeBody struct {
	body  io.ReadCloser
	size  int64 // bytes the body will give (0: off is at or past the end)
	total int64 // object size, -1 when unknown
}

// openRange sends one ranged GET for length bytes at off and checks the
// answer before anything is read from it: a Content-Range that does not
// start at off or runs past the request, a length that disagrees with it,
// or another ETag are errors, never shifted bytes. A 200 (a server that
// ignores Range) is the whole object: the body is skipped to off.
func (c *Client) openRange(ctx context.Context, key, etag string, off, length int64) (rangeBody, error) {
	last := off + length - 1
	rng := fmt.Sprintf("bytes=%d-%d", off, last)
	c.gets.Add(1)
	in := &s3.GetObjectInput{Bucket: aws.String(c.bucket), Key: aws.String(key), Range: aws.String(rng)}
	if etag != "" {
		in.IfMatch = aws.String(etag)
	}
	out, err := c.s3.GetObject(ctx, in)
	if err != nil {
		switch statusOf(err) {
		case http.StatusRequestedRangeNotSatisfiable:
			return rangeBody{body: http.NoBody, total: -1}, nil // off is at or past the end
		case http.StatusPreconditionFailed:
			return rangeBody{}, fmt.Errorf("%w: s3://%s/%s: ETag is no longer %s", mast.ErrChanged, c.bucket, key, etag)
		}
		return rangeBody{}, c.classify(ctx, "GET", key, err)
	}
	fail := func(err error) (rangeBody, error) {
		out.Body.Close()
		return rangeBody{}, err
	}
	if got := aws.ToString(out.ETag); etag != "" && got != "" && !sameETag(got, etag) {
		return fail(fmt.Errorf("%w: s3://%s/%s: ETag %s, was %s", mast.ErrChanged, c.bucket, key, got, etag))
	}
	broken := func(format string, a ...any) error {
		return fmt.Errorf("%w: GET s3://%s/%s %s: %s", ErrS3, c.bucket, key, rng, fmt.Sprintf(format, a...))
	}
	contentLength := int64(-1)
	if out.ContentLength != nil {
		contentLength = *out.ContentLength
	}
	var size, total int64
	if cr := aws.ToString(out.ContentRange); cr != "" {
		f, l, t, perr := parseContentRange(cr)
		if perr != nil {
			return fail(broken("%v", perr))
		}
		if f != off || l > last {
			return fail(broken("got Content-Range %q", cr))
		}
		size, total = l-f+1, t
		if contentLength >= 0 && contentLength != size {
			return fail(broken("Content-Length %d does not match Content-Range %q", contentLength, cr))
		}
	} else {
		// No Content-Range: only a 200 (a server that ignores Range) is
		// the whole object.
		if code := rawStatus(out.ResultMetadata); code != http.StatusOK {
			return fail(broken("HTTP %d without Content-Range", code))
		}
		if contentLength < 0 {
			return fail(broken("neither Content-Range nor Content-Length"))
		}
		total = contentLength
		if off >= total {
			out.Body.Close()
			return rangeBody{body: http.NoBody, total: total}, nil
		}
		if _, err := io.CopyN(io.Discard, out.Body, off); err != nil {
			return fail(&bodyError{broken("skipping to the offset: %v", err)})
		}
		size = min(length, total-off)
	}
	return rangeBody{body: out.Body, size: size, total: total}, nil
}

// readBody fills p from rb, which must hold len(p) bytes.
func (c *Client) readBody(ctx context.Context, key string, rb rangeBody, p []byte, off int64) error {
	got, rerr := io.ReadFull(rb.body, p)
	c.bytes.Add(int64(got))
	if got < len(p) {
		if rerr == nil || rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			rerr = io.ErrUnexpectedEOF
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("GET s3://%s/%s: %w", c.bucket, key, ctxErr)
		}
		return &bodyError{fmt.Errorf("%w: GET s3://%s/%s at %d: body ended after %d of %d bytes: %v",
			ErrS3, c.bucket, key, off, got, len(p), rerr)}
	}
	return nil
}

// readRange does one ranged GET into p. Nothing is copied into p unless the
// answer is exactly the bytes at off. eof reports that the object ends at
// off+n.
func (c *Client) readRange(ctx context.Context, key, etag string, p []byte, off int64) (n int, eof bool, err error) {
	rb, err := c.openRange(ctx, key, etag, off, int64(len(p)))
	if err != nil {
		return 0, false, err
	}
	defer rb.body.Close()
	if rb.size == 0 {
		return 0, true, nil
	}
	// A body that breaks off reports n = 0 (p is scratch then, as
	// io.ReaderAt allows).
	if err := c.readBody(ctx, key, rb, p[:rb.size], off); err != nil {
		return 0, false, err
	}
	return int(rb.size), rb.total >= 0 && off+rb.size == rb.total, nil
}

// ReadBlocks fills consecutive buffers (bufs[i] holds the bytes at off
// plus the lengths of bufs[:i]) with one ranged GET of one version (etag,
// "" any), calling filled(i) as soon as bufs[i] is complete. Every buffer
// must lie within the object. On error, buffers from the first unfilled
// one on hold no promised bytes; the caller fetches them again.
func (c *Client) ReadBlocks(ctx context.Context, key, etag string, off int64, bufs [][]byte, filled func(i int)) error {
	var length int64
	for _, b := range bufs {
		length += int64(len(b))
	}
	if off < 0 || length == 0 {
		return fmt.Errorf("cloud: ReadBlocks s3://%s/%s: bad range %d+%d", c.bucket, key, off, length)
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	rb, err := c.openRange(ctx, key, etag, off, length)
	if err != nil {
		if !errors.Is(err, ErrNotFound) && !errors.Is(err, mast.ErrChanged) {
			c.errs.Add(1)
		}
		return err
	}
	defer rb.body.Close()
	if rb.size != length {
		c.errs.Add(1)
		return fmt.Errorf("%w: s3://%s/%s: %d bytes at %d, asked for %d", ErrS3, c.bucket, key, rb.size, off, length)
	}
	for i, b := range bufs {
		if err := c.readBody(ctx, key, rb, b, off); err != nil {
			c.errs.Add(1)
			return err
		}
		off += int64(len(b))
		filled(i)
	}
	return nil
}

// sameETag compares ETags as S3 sends them, with or without quotes and a
// weak prefix.
func sameETag(a, b string) bool {
	norm := func(s string) string { return strings.Trim(strings.TrimPrefix(s, "W/"), `"`) }
	return norm(a) == norm(b)
}

// rawStatus is the HTTP status of an SDK answer (0 if unknown).
func rawStatus(md middleware.Metadata) int {
	if r, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response); ok && r != nil {
		return r.StatusCode
	}
	return 0
}

// parseContentRange reads "bytes first-last/total" (total -1 for "*").
func parseContentRange(s string) (first, last, total int64, err error) {
	bad := fmt.Errorf("bad Content-Range %q", s)
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), "bytes ")
	if !ok {
		return 0, 0, 0, bad
	}
	span, tot, ok := strings.Cut(rest, "/")
	if !ok {
		return 0, 0, 0, bad
	}
	total = -1
	if tot != "*" {
		if total, err = strconv.ParseInt(tot, 10, 64); err != nil || total < 0 {
			return 0, 0, 0, bad
		}
	}
	a, b, ok := strings.Cut(span, "-")
	if !ok {
		return 0, 0, 0, bad
	}
	first, err1 := strconv.ParseInt(a, 10, 64)
	last, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || first < 0 || last < first || total >= 0 && last >= total {
		return 0, 0, 0, bad
	}
	return first, last, total, nil
}
