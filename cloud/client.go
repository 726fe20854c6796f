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
	awsretry "github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/mastfs/mastfs/mast"
	"github.com/mastfs/mastfs/retry"
)

// Defaults of Config.
const (
	DefaultBucket           = "stpubdata"
	DefaultRegion           = "us-east-1"
	DefaultTimeout          = 2 * time.Minute
	DefaultRetryMaxAttempts = 3
	DefaultRetryBase        = 100 * time.Millisecond
	DefaultRetryCap         = 5 * time.Second
	DefaultMaxRetryAfter    = 30 * time.Second
	DefaultStallTimeout     = 30 * time.Second
)

// throttleBase is the first backoff ceiling after a throttling answer
// (429, SlowDown) without Retry-After, as the SDK's own retryer does; it is
// capped by Config.RetryCap.
const throttleBase = time.Second

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
	// WrapHTTPClient, when set, wraps the client every attempt goes
	// through (mastfs's global request limiter). It sits outside the
	// per-attempt stall watchdog, so time spent waiting for a slot is not
	// taken for a stalled server.
	WrapHTTPClient func(aws.HTTPClient) aws.HTTPClient
	// RetryMaxAttempts bounds the attempts, the first included (default
	// DefaultRetryMaxAttempts), twice over: the SDK's attempts per request
	// (5xx, 429, SlowDown, transport errors, no headers within
	// StallTimeout), and ReadAt's and ReadBlocks's requests for a range
	// whose answer was broken (a body that broke off, stalled or was short,
	// a Content-Range that does not match the request). All requests are
	// GET or HEAD, so every retry is safe.
	RetryMaxAttempts int
	// RetryBase and RetryCap shape the backoff before a retry: full jitter
	// in [0, min(RetryCap, RetryBase·2^n)) (defaults DefaultRetryBase and
	// DefaultRetryCap). Throttling answers (429, SlowDown) start from 1s
	// instead, capped by RetryCap.
	RetryBase, RetryCap time.Duration
	// MaxRetryAfter caps how long a server's Retry-After (a floor on the
	// backoff) can make a retry wait (default DefaultMaxRetryAfter). The
	// caller's context and Timeout bound the wait as well.
	MaxRetryAfter time.Duration
	// StallTimeout aborts a request attempt when no answer headers, or no
	// byte of its body while one is being read, arrive for that long; the
	// attempt is then retried (default DefaultStallTimeout, negative
	// disables it).
	StallTimeout time.Duration
	Logger       *slog.Logger
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
	Gets   int64 // GetObject calls (ranged GETs, those re-sent after a broken answer included; the SDK's own retries are in Retries)
	Bytes  int64 // body bytes read by ReadAt and ReadBlocks
	Errors int64 // calls that failed (not-found and changed objects excluded)
	// Retries counts requests sent again: the SDK's retries of failed
	// requests and the GETs repeated after a broken answer.
	Retries int64
	// Stalls counts request attempts aborted because no headers or no body
	// bytes arrived for StallTimeout.
	Stalls int64
}

// Client is an anonymous S3 client for one bucket.
type Client struct {
	s3       *s3.Client
	bucket   string
	timeout  time.Duration
	attempts int          // per range, for broken answers
	policy   retry.Policy // backoff between those attempts
	log      *slog.Logger

	heads, gets, bytes, errs, retries, stalls atomic.Int64
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
		cfg.RetryMaxAttempts = DefaultRetryMaxAttempts
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = DefaultRetryBase
	}
	if cfg.RetryCap <= 0 {
		cfg.RetryCap = max(DefaultRetryCap, cfg.RetryBase)
	}
	if cfg.MaxRetryAfter <= 0 {
		cfg.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if cfg.StallTimeout == 0 {
		cfg.StallTimeout = DefaultStallTimeout
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
	c := &Client{
		bucket:   cfg.Bucket,
		timeout:  cfg.Timeout,
		attempts: cfg.RetryMaxAttempts,
		policy: retry.Policy{Attempts: cfg.RetryMaxAttempts, Base: cfg.RetryBase, Cap: cfg.RetryCap,
			MaxRetryAfter: cfg.MaxRetryAfter},
		log: cfg.Logger,
	}
	if cfg.StallTimeout > 0 {
		hc = &attemptClient{next: hc, stall: cfg.StallTimeout, stalls: &c.stalls}
	}
	if cfg.WrapHTTPClient != nil {
		hc = cfg.WrapHTTPClient(hc)
	}
	delayer := &backoff{policy: c.policy, throttle: awsretry.IsErrorThrottles(awsretry.DefaultThrottles),
		retries: &c.retries, log: cfg.Logger}
	retryer := awsretry.NewStandard(func(o *awsretry.StandardOptions) {
		o.MaxAttempts = cfg.RetryMaxAttempts
		o.MaxBackoff = cfg.RetryCap
		o.Backoff = delayer
	})
	awsCfg := aws.Config{
		Region:                     cfg.Region,
		Credentials:                aws.AnonymousCredentials{},
		HTTPClient:                 hc,
		Retryer:                    func() aws.Retryer { return retryer },
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		Logger:                     logging.Nop{},
	}
	endpoint := strings.TrimRight(cfg.Endpoint, "/")
	c.s3 = s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		// Set again on the client: nothing may replace them.
		o.Credentials = aws.AnonymousCredentials{}
		o.Retryer = retryer
		o.RetryMaxAttempts = 0 // no wrapper that would replace the backoff
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
			o.UsePathStyle = true
		}
	})
	return c, nil
}

// backoff is the SDK retryer's delay: the jittered backoff of policy
// (from throttleBase after a throttling answer), raised to the answer's
// Retry-After capped at policy.MaxRetryAfter. The SDK sleeps it under the
// request's context. It counts the retries: the SDK asks for a delay once
// per retry it makes.
type backoff struct {
	policy   retry.Policy
	throttle awsretry.IsErrorThrottle
	retries  *atomic.Int64
	log      *slog.Logger
}

func (b *backoff) BackoffDelay(attempt int, err error) (time.Duration, error) {
	b.retries.Add(1)
	d := b.delay(attempt-1, err)
	b.log.Debug("cloud: retrying S3 request", "attempt", attempt+1, "delay", d, "err", err)
	return d, nil
}

// delay before retry number n (0 for the first) after err.
func (b *backoff) delay(n int, err error) time.Duration {
	p := b.policy
	if b.throttle != nil && b.throttle.IsErrorThrottle(err).Bool() {
		p.Base = max(p.Base, min(throttleBase, p.Cap))
	}
	return p.Delay(n, retryAfterOf(err, time.Now()))
}

// retryAfterOf is the Retry-After of the HTTP answer behind err, 0 if none.
func retryAfterOf(err error, now time.Time) time.Duration {
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.ResponseError == nil || re.Response == nil || re.Response.Response == nil {
		return 0
	}
	return retry.RetryAfter(re.Response.Header, now)
}

// attemptClient gives every request attempt its own context, so that a
// silent server costs one attempt, not the whole call: the wait for the
// answer's headers is bounded by stall (a *stallError, which the SDK
// retries), and the body carries a stall watchdog that cancels the
// attempt when no byte arrives for stall while it is being read. The
// attempt's context ends when the body is closed. The caller's context is
// never cancelled here.
type attemptClient struct {
	next   aws.HTTPClient
	stall  time.Duration
	stalls *atomic.Int64
}

func (c *attemptClient) Do(req *http.Request) (*http.Response, error) {
	parent := req.Context()
	actx, cancel := context.WithCancel(parent)
	var fired atomic.Bool
	timer := time.AfterFunc(c.stall, func() { fired.Store(true); cancel() })
	resp, err := c.next.Do(req.WithContext(actx))
	stopped := timer.Stop()
	if err == nil && !stopped {
		// The headers came as the timer fired: the body is cut off.
		resp.Body.Close()
		err = context.Canceled
	}
	if err != nil {
		cancel()
		if fired.Load() && parent.Err() == nil {
			c.stalls.Add(1)
			return nil, &stallError{fmt.Errorf("%s %s: no answer within %v: %w", req.Method, req.URL.Redacted(), c.stall, retry.ErrStalled)}
		}
		return resp, err
	}
	body := &attemptBody{cancel: cancel, stalls: c.stalls}
	body.StallReader = retry.NewStallReader(resp.Body, c.stall, body.abort)
	resp.Body = body
	return resp, nil
}

// stallError is an attempt that got no answer in time; the SDK retries it.
type stallError struct{ err error }

func (e *stallError) Error() string        { return e.err.Error() }
func (e *stallError) Unwrap() error        { return e.err }
func (e *stallError) RetryableError() bool { return true }

// attemptBody is a body under a stall watchdog that ends its attempt's
// context on Close and on a stall.
type attemptBody struct {
	*retry.StallReader
	cancel context.CancelFunc
	stalls *atomic.Int64
}

func (b *attemptBody) abort() {
	b.stalls.Add(1)
	b.cancel()
}

func (b *attemptBody) Close() error {
	err := b.StallReader.Close()
	b.cancel()
	return err
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
	return Stats{Heads: c.heads.Load(), Gets: c.gets.Load(), Bytes: c.bytes.Load(), Errors: c.errs.Load(),
		Retries: c.retries.Load(), Stalls: c.stalls.Load()}
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
	if se := (*stallError)(nil); errors.As(err, &se) {
		// Not the SDK's error, which may hold the attempt's cancelled
		// context: the stall, which wraps retry.ErrStalled.
		return fmt.Errorf("%w: %s s3://%s/%s: %w", ErrS3, op, c.bucket, key, se)
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
// ETag), never bytes of the new version. With etag empty, the ETag of the
// first answer is asked for by the later GETs of the call (a short answer,
// a retry), so one call never splices two versions either.
//
// A broken answer (a body that breaks off, stalls or is short, a
// Content-Range that does not match) is asked again, up to
// Config.RetryMaxAttempts times with backoff; then it is an ErrS3 error
// (wrapping retry.ErrStalled for a stall).
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
			var got string
			m, eof, got, err = c.readRange(ctx, key, etag, p[n:], off+int64(n))
			if err == nil {
				if etag == "" {
					etag = got
				}
				break
			}
			if !c.retryBroken(ctx, key, off+int64(n), attempt, err) {
				break
			}
		}
		if err != nil {
			c.countErr(err)
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

// countErr counts a failed call; a missing or replaced object is an
// answer, not a failure.
func (c *Client) countErr(err error) {
	if !errors.Is(err, ErrNotFound) && !errors.Is(err, mast.ErrChanged) {
		c.errs.Add(1)
	}
}

// retryBroken decides whether a GET that failed with err on its attempt
// (1 for the first) is sent again, and waits the backoff if so. Only
// broken answers are: the SDK has already retried failed requests.
func (c *Client) retryBroken(ctx context.Context, key string, off int64, attempt int, err error) bool {
	var be *bodyError
	if !errors.As(err, &be) || attempt >= c.attempts || ctx.Err() != nil {
		return false
	}
	d := c.policy.Backoff(attempt - 1)
	c.log.Debug("cloud: retrying broken read", "key", key, "off", off, "attempt", attempt+1, "delay", d, "err", err)
	if retry.Sleep(ctx, d) != nil {
		return false
	}
	c.retries.Add(1)
	return true
}

// bodyError is a broken answer: a body that broke off, stalled or was
// shorter than announced, or headers that do not match the request. The
// read is worth another attempt.
type bodyError struct{ err error }

func (e *bodyError) Error() string { return e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }

// rangeBody is the validated answer to one ranged GET: body yields
// exactly size bytes that are the object's bytes at the asked offset.
type rangeBody struct {
	body  io.ReadCloser
	size  int64  // bytes the body will give (0: off is at or past the end)
	total int64  // object size, -1 when unknown
	etag  string // the answer's ETag, "" if none
}

// openRange sends one ranged GET for length bytes at off and checks the
// answer before anything is read from it: a Content-Range that does not
// start at off or runs past the request, or a length that disagrees with
// it, is a *bodyError; another ETag is mast.ErrChanged; never shifted
// bytes. A 200 (a server that ignores Range) is the whole object: the body
// is skipped to off.
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
	got := aws.ToString(out.ETag)
	if etag != "" && got != "" && !sameETag(got, etag) {
		return fail(fmt.Errorf("%w: s3://%s/%s: ETag %s, was %s", mast.ErrChanged, c.bucket, key, got, etag))
	}
	broken := func(format string, a ...any) error {
		return &bodyError{fmt.Errorf("%w: GET s3://%s/%s %s: "+format, append([]any{ErrS3, c.bucket, key, rng}, a...)...)}
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
			return rangeBody{body: http.NoBody, total: total, etag: got}, nil
		}
		if _, err := io.CopyN(io.Discard, out.Body, off); err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return fail(fmt.Errorf("GET s3://%s/%s: %w", c.bucket, key, ctxErr))
			}
			return fail(broken("skipping to the offset: %w", stalledOr(err)))
		}
		size = min(length, total-off)
	}
	return rangeBody{body: out.Body, size: size, total: total, etag: got}, nil
}

// stalledOr keeps a stall visible (errors.Is retry.ErrStalled) and hides
// any other body error's chain (which may hold the attempt's cancelled
// context) behind its text.
func stalledOr(err error) error {
	if errors.Is(err, retry.ErrStalled) {
		return err
	}
	return errors.New(err.Error())
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
		return &bodyError{fmt.Errorf("%w: GET s3://%s/%s at %d: body ended after %d of %d bytes: %w",
			ErrS3, c.bucket, key, off, got, len(p), stalledOr(rerr))}
	}
	return nil
}

// readRange does one ranged GET into p. Nothing is copied into p unless the
// answer is exactly the bytes at off. eof reports that the object ends at
// off+n; etag is the answer's.
func (c *Client) readRange(ctx context.Context, key, etag string, p []byte, off int64) (n int, eof bool, got string, err error) {
	rb, err := c.openRange(ctx, key, etag, off, int64(len(p)))
	if err != nil {
		return 0, false, "", err
	}
	defer rb.body.Close()
	if rb.size == 0 {
		return 0, true, rb.etag, nil
	}
	// A body that breaks off reports n = 0 (p is scratch then, as
	// io.ReaderAt allows).
	if err := c.readBody(ctx, key, rb, p[:rb.size], off); err != nil {
		return 0, false, "", err
	}
	return int(rb.size), rb.total >= 0 && off+rb.size == rb.total, rb.etag, nil
}

// ReadBlocks fills consecutive buffers (bufs[i] holds the bytes at off
// plus the lengths of bufs[:i]) with one ranged GET of one version (etag,
// "" any), calling filled(i) as soon as bufs[i] is complete. Every buffer
// must lie within the object. A broken answer is resumed from the first
// unfilled buffer, up to Config.RetryMaxAttempts GETs in all, with the
// version of the first answer (If-Match), so the buffers are never of two
// versions. On error, buffers from the first unfilled one on hold no
// promised bytes; the caller fetches them again.
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
	next := 0 // the first unfilled buffer
	for attempt := 1; ; attempt++ {
		start := off
		for _, b := range bufs[:next] {
			start += int64(len(b))
		}
		err := c.readBlocks(ctx, key, &etag, start, bufs, &next, filled)
		if err == nil {
			return nil
		}
		if !c.retryBroken(ctx, key, start, attempt, err) {
			c.countErr(err)
			return err
		}
	}
}

// readBlocks is one GET of bufs[*next:] at off, advancing *next past each
// buffer filled. An empty *etag is set to the answer's.
func (c *Client) readBlocks(ctx context.Context, key string, etag *string, off int64, bufs [][]byte, next *int, filled func(i int)) error {
	var length int64
	for _, b := range bufs[*next:] {
		length += int64(len(b))
	}
	rb, err := c.openRange(ctx, key, *etag, off, length)
	if err != nil {
		return err
	}
	defer rb.body.Close()
	if rb.size != length {
		return fmt.Errorf("%w: s3://%s/%s: %d bytes at %d, asked for %d", ErrS3, c.bucket, key, rb.size, off, length)
	}
	if *etag == "" {
		*etag = rb.etag
	}
	for *next < len(bufs) {
		i := *next
		b := bufs[i]
		if err := c.readBody(ctx, key, rb, b, off); err != nil {
			return err
		}
		off += int64(len(b))
		*next = i + 1
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
