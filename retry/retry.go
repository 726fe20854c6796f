// Package retry holds the pieces of a retry policy for HTTP reads: capped
// exponential backoff with full jitter, Retry-After parsing, the set of
// retryable HTTP statuses, a context-aware sleep, and a stall watchdog for
// response bodies. It knows nothing of MAST or FUSE.
//
// Decisions:
//
//   - Full jitter (a uniform delay in [0, min(Cap, Base·2^n))) spreads the
//     retries of many clients hit by the same outage; it is the AWS
//     "exponential backoff and jitter" recommendation.
//   - A server's Retry-After is a floor, never a ceiling, and is itself
//     capped (Policy.MaxRetryAfter), so a hostile or confused server cannot
//     park a reader for an hour.
//   - Only 429, 500, 502, 503 and 504 are retryable statuses: other 4xx
//     answers are the same on every try, and 501/505 say the server will
//     never do it.
//   - The stall watchdog is armed only while a Read is in progress: a slow
//     consumer is not a stalled producer.
package retry

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults for a zero Policy field.
const (
	DefaultAttempts      = 4
	DefaultBase          = 200 * time.Millisecond
	DefaultCap           = 5 * time.Second
	DefaultMaxRetryAfter = 30 * time.Second
)

// Policy is a capped exponential backoff with full jitter. The zero value
// uses the defaults above. A Policy is safe for concurrent use.
type Policy struct {
	// Attempts is the total number of tries, the first included (1 = no retry).
	Attempts int
	// Base is the backoff ceiling before the first retry; it doubles per retry.
	Base time.Duration
	// Cap bounds the backoff ceiling.
	Cap time.Duration
	// MaxRetryAfter bounds how long a server's Retry-After can make us wait.
	MaxRetryAfter time.Duration
	// Rand returns a number in [0, 1); nil uses math/rand/v2. Set it for
	// deterministic tests.
	Rand func() float64
}

func (p Policy) withDefaults() Policy {
	if p.Attempts <= 0 {
		p.Attempts = DefaultAttempts
	}
	if p.Base <= 0 {
		p.Base = DefaultBase
	}
	if p.Cap <= 0 {
		p.Cap = DefaultCap
	}
	if p.Cap < p.Base {
		p.Cap = p.Base
	}
	if p.MaxRetryAfter <= 0 {
		p.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if p.Rand == nil {
		p.Rand = rand.Float64
	}
	return p
}

// MaxAttempts is the effective number of tries (defaults applied).
func (p Policy) MaxAttempts() int { return p.withDefaults().Attempts }

// Ceiling is the upper bound of the jittered delay before retry number
// retry (0 for the first retry): min(Cap, Base·2^retry).
func (p Policy) Ceiling(retry int) time.Duration {
	p = p.withDefaults()
	d := p.Base
	for i := 0; i < retry && d < p.Cap; i++ {
		d *= 2
	}
	return min(d, p.Cap)
}

// Backoff is the full-jitter delay before retry number retry (0 for the
// first retry): uniform in [0, Ceiling(retry)).
func (p Policy) Backoff(retry int) time.Duration {
	p = p.withDefaults()
	return time.Duration(p.Rand() * float64(p.Ceiling(retry)))
}

// Delay is the wait before retry number retry when the server asked for
// retryAfter (0: it did not): the jittered backoff, raised to retryAfter
// capped at MaxRetryAfter.
func (p Policy) Delay(retry int, retryAfter time.Duration) time.Duration {
	p = p.withDefaults()
	d := p.Backoff(retry)
	if retryAfter > 0 {
		d = max(d, min(retryAfter, p.MaxRetryAfter))
	}
	return d
}

// RetryableStatus reports whether an HTTP status is worth another try:
// 429 Too Many Requests, 500, 502, 503 and 504.
func RetryableStatus(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// ParseRetryAfter parses a Retry-After value, delta-seconds or an
// HTTP-date (relative to now). ok is false for an absent or malformed
// value; a date in the past is 0, true.
func ParseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		if n > int64(24*time.Hour/time.Second) {
			n = int64(24 * time.Hour / time.Second) // no overflow
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// RetryAfter is ParseRetryAfter of a response's Retry-After header, 0
// when absent or malformed.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	d, _ := ParseRetryAfter(h.Get("Retry-After"), now)
	return d
}

// Sleep waits d or until ctx is done, returning ctx.Err() in that case.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Do calls fn up to p.Attempts times while it returns an error for which
// retryable says true, sleeping p.Delay between tries (with the
// Retry-After retryable returns). It returns fn's last error, or ctx's
// error when ctx ends during a wait.
func (p Policy) Do(ctx context.Context, fn func(ctx context.Context) error, retryable func(error) (bool, time.Duration)) error {
	p = p.withDefaults()
	var err error
	for try := 0; ; try++ {
		err = fn(ctx)
		if err == nil || try+1 >= p.Attempts || ctx.Err() != nil {
			return err
		}
		ok, after := retryable(err)
		if !ok {
			return err
		}
		if serr := Sleep(ctx, p.Delay(try, after)); serr != nil {
			return err
		}
	}
}

// once guards a func so it runs at most once; used by the watchdog.
type once struct {
	mu   sync.Mutex
	done bool
}

func (o *once) do(f func()) bool {
	o.mu.Lock()
	if o.done {
		o.mu.Unlock()
		return false
	}
	o.done = true
	o.mu.Unlock()
	f()
	return true
}
