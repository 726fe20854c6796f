// Package faultproxy is an HTTP reverse proxy that injects faults between a
// client and any HTTP backend (the MAST emulator, an S3 server), so that
// tests in other packages can check that a client survives them and never
// hands out wrong bytes.
//
// A Proxy listens on a loopback port (URL) and forwards every request to
// its backend, unless a Rule matches: then it injects that rule's Fault.
// Rules are tried in order; the first one that matches the request, still
// has Count left and wins its Probability roll is applied, and only one.
//
// Decisions:
//
//   - Deterministic with a seed: every random choice (Probability rolls,
//     RandomMix's pick) comes from one seeded generator behind a mutex, so
//     a sequential test sees the same faults on every run. Concurrent
//     requests take their rolls in arrival order, which is as deterministic
//     as the client's scheduling.
//   - Hand-written forwarding rather than httputil.ReverseProxy: the body
//     faults (ResetMidBody, Truncate, Stall) need the backend's answer and
//     the raw client connection at once, which ReverseProxy does not give.
//     Those faults hijack the client connection and write the HTTP/1.1
//     answer themselves, so a Truncate really announces the backend's
//     Content-Length and a ResetMidBody really ends in a TCP RST
//     (SetLinger(0)). Compression is disabled on the backend transport, so
//     bytes and lengths pass through unchanged.
//   - Faults never corrupt bytes: every byte the proxy sends is one the
//     backend sent at that position (WrongContentRange lies in a header
//     only). A client that checks headers and lengths can therefore always
//     tell a fault from a good answer; wrong bytes reaching its caller are
//     its bug, not the proxy's.
//   - Count is consumed when a fault is chosen, so "the first N matching
//     requests fail" holds whatever the request turns out to be.
//   - Clients talk HTTP/1.1 to the proxy (hijacking needs it); the backend
//     may be anything net/http reaches.
//   - Stats count injected faults by kind; Requests counts every request
//     the proxy received, so a test can assert how many retries it took.
package faultproxy

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Fault is a kind of injected failure.
type Fault int

const (
	// None forwards the request untouched.
	None Fault = iota
	// Status500Burst answers 500 without asking the backend (an S3
	// InternalError XML body).
	Status500Burst
	// Status503Burst answers 503 without asking the backend (an S3
	// ServiceUnavailable XML body).
	Status503Burst
	// TooManyRequests answers 429 with Retry-After: Rule.RetryAfter
	// (rounded up to whole seconds).
	TooManyRequests
	// SlowDown answers 503 with an S3 <Code>SlowDown</Code> body and
	// Retry-After, as S3 throttles.
	SlowDown
	// ResetMidBody forwards the backend's headers and Rule.CutAt bytes of
	// its body, then closes the TCP connection with a RST.
	ResetMidBody
	// Stall forwards the headers and Rule.CutAt bytes, then sends nothing
	// for Rule.StallFor (0: until the client goes away or the proxy
	// closes); then it sends the rest, or closes if Rule.CloseAfterStall.
	Stall
	// Truncate announces the backend's Content-Length (or a chunked body)
	// but sends only Rule.CutAt bytes, then closes the connection cleanly.
	Truncate
	// WrongContentRange rewrites the Content-Range of a 206 answer to a
	// range shifted by Rule.Shift bytes (default 1); the body is unchanged.
	WrongContentRange
	// IgnoreRange strips Range and If-Range from the request, so the
	// backend answers 200 with the whole body.
	IgnoreRange
	// ChangeETag rewrites (or adds) the answer's ETag to a value the
	// backend never gave.
	ChangeETag
	// Down closes the client connection at once, with a RST, without an
	// answer.
	Down

	numFaults
)

var faultNames = [...]string{"None", "Status500Burst", "Status503Burst", "TooManyRequests", "SlowDown",
	"ResetMidBody", "Stall", "Truncate", "WrongContentRange", "IgnoreRange", "ChangeETag", "Down"}

func (f Fault) String() string {
	if f >= 0 && f < numFaults {
		return faultNames[f]
	}
	return "Fault(" + strconv.Itoa(int(f)) + ")"
}

// AllFaults lists every fault but None.
func AllFaults() []Fault {
	out := make([]Fault, 0, numFaults-1)
	for f := None + 1; f < numFaults; f++ {
		out = append(out, f)
	}
	return out
}

// BodyFaults are the faults that damage an answer on its way (not a
// refusal): a client must retry or resume them, or fail, never return
// wrong bytes.
func BodyFaults() []Fault {
	return []Fault{ResetMidBody, Truncate, WrongContentRange, IgnoreRange}
}

// Rule says which requests get which fault.
type Rule struct {
	// Match selects requests; nil matches all.
	Match func(*http.Request) bool
	// Fault to inject. With Mix set, Fault is ignored.
	Fault Fault
	// Mix, when not empty, makes each injection pick one of these kinds
	// at random (see RandomMix).
	Mix []Fault
	// Probability that a matching request gets the fault; 0 means 1.
	Probability float64
	// Count: only the first Count injections (0 = unlimited).
	Count int
	// RetryAfter for TooManyRequests and SlowDown (default 1s; negative
	// sends no Retry-After).
	RetryAfter time.Duration
	// StallFor for Stall: 0 stalls until the client goes away.
	StallFor time.Duration
	// CloseAfterStall closes the connection after StallFor instead of
	// sending the rest of the body.
	CloseAfterStall bool
	// CutAt is how many body bytes ResetMidBody, Stall and Truncate send
	// first; 0 means half the backend's body (512 bytes when its length
	// is unknown), negative means none. It is capped at the body length
	// minus one.
	CutAt int64
	// Shift for WrongContentRange (default 1; the shift goes down
	// instead when up would leave the object).
	Shift int64

	used int // injections so far, under Proxy.mu
}

// RandomMix is a Rule that faults a fraction p of all requests, each with
// a kind picked at random from kinds (BodyFaults() plus the status faults
// when kinds is empty). Stalls in a mix last 100ms; retry-after 0s.
func RandomMix(p float64, kinds ...Fault) Rule {
	if len(kinds) == 0 {
		kinds = append([]Fault{Status500Burst, Status503Burst, TooManyRequests, SlowDown}, BodyFaults()...)
	}
	return Rule{Mix: kinds, Probability: p, StallFor: 100 * time.Millisecond, RetryAfter: -1}
}

// Matchers for Rule.Match.

// PathContains matches requests whose path contains s.
func PathContains(s string) func(*http.Request) bool {
	return func(r *http.Request) bool { return strings.Contains(r.URL.Path, s) }
}

// Method matches requests of this method.
func Method(m string) func(*http.Request) bool {
	return func(r *http.Request) bool { return r.Method == m }
}

// Ranged matches requests with a Range header.
func Ranged(r *http.Request) bool { return r.Header.Get("Range") != "" }

// Proxy is a fault-injecting reverse proxy. It is safe for concurrent use.
type Proxy struct {
	backend *url.URL
	ln      net.Listener
	srv     *http.Server
	tr      *http.Transport
	closed  chan struct{}
	once    sync.Once

	mu    sync.Mutex
	rng   *rand.Rand
	rules []*Rule
	stats map[Fault]int64

	requests atomic.Int64
	etags    atomic.Int64
}

// New starts a proxy to backend (a base URL: scheme, host and an optional
// path prefix) on a loopback port. seed makes its random choices
// repeatable. It panics if it cannot listen, as httptest.NewServer does.
func New(backend string, seed int64) *Proxy {
	u, err := url.Parse(backend)
	if err != nil || u.Host == "" {
		panic(fmt.Sprintf("faultproxy: bad backend URL %q", backend))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("faultproxy: listen: %v", err))
	}
	p := &Proxy{
		backend: u,
		ln:      ln,
		closed:  make(chan struct{}),
		rng:     rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x9e3779b97f4a7c15)),
		stats:   map[Fault]int64{},
		tr: &http.Transport{
			Proxy:               nil,
			DisableCompression:  true,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     30 * time.Second,
		},
	}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go p.srv.Serve(ln)
	return p
}

// URL is the proxy's base URL (with the backend's path prefix), to use in
// place of the backend's.
func (p *Proxy) URL() string {
	return "http://" + p.ln.Addr().String() + strings.TrimRight(p.backend.Path, "/")
}

// Close stops the proxy: stalls end, open connections are closed, and new
// connections are refused.
func (p *Proxy) Close() {
	p.once.Do(func() {
		close(p.closed)
		p.srv.Close()
		p.tr.CloseIdleConnections()
	})
}

// SetRules replaces the rules (and their counts).
func (p *Proxy) SetRules(rules ...Rule) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = p.rules[:0]
	for i := range rules {
		r := rules[i]
		r.used = 0
		p.rules = append(p.rules, &r)
	}
}

// Stats returns how many faults of each kind were injected.
func (p *Proxy) Stats() map[Fault]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[Fault]int64, len(p.stats))
	for k, v := range p.stats {
		out[k] = v
	}
	return out
}

// Injected is the total number of faults injected.
func (p *Proxy) Injected() int64 {
	var n int64
	for _, v := range p.Stats() {
		n += v
	}
	return n
}

// Requests is how many requests reached the proxy.
func (p *Proxy) Requests() int64 { return p.requests.Load() }

// choose picks the fault for r, consuming a Count.
func (p *Proxy) choose(r *http.Request) (Fault, Rule) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, rule := range p.rules {
		if rule.Match != nil && !rule.Match(r) {
			continue
		}
		if rule.Count > 0 && rule.used >= rule.Count {
			continue
		}
		if rule.Probability > 0 && rule.Probability < 1 && p.rng.Float64() >= rule.Probability {
			continue
		}
		f := rule.Fault
		if len(rule.Mix) > 0 {
			f = rule.Mix[p.rng.IntN(len(rule.Mix))]
		}
		rule.used++
		if f != None {
			p.stats[f]++
		}
		return f, *rule
	}
	return None, Rule{}
}

var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// ServeHTTP forwards r, injecting the chosen fault. A Proxy can also be
// mounted in another server (Close then does not stop that server).
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.requests.Add(1)
	f, rule := p.choose(r)
	switch f {
	case Status500Burst:
		p.status(w, r, 500, "InternalError", "We encountered an internal error. Please try again.", 0)
		return
	case Status503Burst:
		p.status(w, r, 503, "ServiceUnavailable", "Service is unable to handle request.", 0)
		return
	case TooManyRequests:
		p.status(w, r, 429, "TooManyRequests", "Too many requests.", retryAfter(rule))
		return
	case SlowDown:
		p.status(w, r, 503, "SlowDown", "Please reduce your request rate.", retryAfter(rule))
		return
	case Down:
		if c := hijack(w); c != nil {
			reset(c)
		}
		return
	}

	out, err := p.outgoing(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	if f == IgnoreRange {
		out.Header.Del("Range")
		out.Header.Del("If-Range")
	}
	resp, err := p.tr.RoundTrip(out)
	if err != nil {
		http.Error(w, "faultproxy: backend: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	h := resp.Header.Clone()
	for _, k := range hopHeaders {
		h.Del(k)
	}
	p.rewriteLocation(h, r)

	switch f {
	case WrongContentRange:
		if resp.StatusCode == http.StatusPartialContent {
			if cr, ok := shiftRange(h.Get("Content-Range"), rule.Shift); ok {
				h.Set("Content-Range", cr)
			}
		}
	case ChangeETag:
		h.Set("ETag", fmt.Sprintf(`"faultproxy-changed-%d"`, p.etags.Add(1)))
	case ResetMidBody, Truncate, Stall:
		p.bodyFault(w, r, resp, h, f, rule)
		return
	}
	dst := w.Header()
	for k, v := range h {
		dst[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	if r.Method != http.MethodHead {
		copyFlush(w, resp.Body)
	}
}

func retryAfter(rule Rule) time.Duration {
	switch {
	case rule.RetryAfter < 0:
		return -1
	case rule.RetryAfter == 0:
		return time.Second
	}
	return rule.RetryAfter
}

// status answers an error without asking the backend.
func (p *Proxy) status(w http.ResponseWriter, r *http.Request, code int, s3code, msg string, after time.Duration) {
	if r.Body != nil {
		io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
	}
	h := w.Header()
	if after >= 0 && (code == 429 || s3code == "SlowDown") {
		secs := int64((after + time.Second - 1) / time.Second)
		h.Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	h.Set("Content-Type", "application/xml")
	body := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
		`<Error><Code>%s</Code><Message>%s</Message><Resource>%s</Resource><RequestId>faultproxy</RequestId></Error>`,
		s3code, msg, xmlEscape(r.URL.Path))
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		io.WriteString(w, body)
	}
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

// outgoing builds the backend request for r.
func (p *Proxy) outgoing(r *http.Request) (*http.Request, error) {
	u := *p.backend
	u.Path = strings.TrimRight(p.backend.Path, "/") + strings.TrimPrefix(r.URL.Path, strings.TrimRight(p.backend.Path, "/"))
	u.RawPath = ""
	if r.URL.RawPath != "" {
		u.RawPath = strings.TrimRight(p.backend.EscapedPath(), "/") + strings.TrimPrefix(r.URL.RawPath, strings.TrimRight(p.backend.EscapedPath(), "/"))
	}
	u.RawQuery = r.URL.RawQuery
	var body io.Reader
	if r.ContentLength != 0 {
		body = r.Body
	}
	out, err := http.NewRequestWithContext(r.Context(), r.Method, u.String(), body)
	if err != nil {
		return nil, err
	}
	out.ContentLength = r.ContentLength
	out.Header = r.Header.Clone()
	for _, k := range hopHeaders {
		out.Header.Del(k)
	}
	if out.Header.Get("User-Agent") == "" {
		out.Header["User-Agent"] = []string{""} // no Go default
	}
	return out, nil
}

// rewriteLocation makes a redirect to the backend a redirect to the proxy.
func (p *Proxy) rewriteLocation(h http.Header, r *http.Request) {
	loc := h.Get("Location")
	base := p.backend.Scheme + "://" + p.backend.Host
	if rest, ok := strings.CutPrefix(loc, base); ok {
		h.Set("Location", "http://"+p.ln.Addr().String()+rest)
	}
}

// shiftRange moves "bytes a-b/t" by shift (default 1), staying inside
// the object.
func shiftRange(cr string, shift int64) (string, bool) {
	rest, ok := strings.CutPrefix(cr, "bytes ")
	if !ok {
		return "", false
	}
	span, total, ok := strings.Cut(rest, "/")
	a, b, ok2 := strings.Cut(span, "-")
	if !ok || !ok2 {
		return "", false
	}
	first, err1 := strconv.ParseInt(a, 10, 64)
	last, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil {
		return "", false
	}
	if shift == 0 {
		shift = 1
	}
	if t, err := strconv.ParseInt(total, 10, 64); err == nil && last+shift >= t {
		shift = -shift
	}
	if first+shift < 0 {
		return "", false // a whole-object range that cannot move
	}
	return fmt.Sprintf("bytes %d-%d/%s", first+shift, last+shift, total), true
}

func copyFlush(w http.ResponseWriter, body io.Reader) {
	f, _ := w.(http.Flusher)
	buf := make([]byte, 32<<10)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			if f != nil {
				f.Flush()
			}
		}
		if err != nil {
			return
		}
	}
}

func hijack(w http.ResponseWriter) net.Conn {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("faultproxy: ResponseWriter cannot hijack (HTTP/2?)")
	}
	c, _, err := hj.Hijack()
	if err != nil {
		return nil
	}
	return c
}

// reset closes c with a TCP RST.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// bodyFault sends the backend's answer on the raw connection and breaks
// it after CutAt body bytes.
func (p *Proxy) bodyFault(w http.ResponseWriter, r *http.Request, resp *http.Response, h http.Header, f Fault, rule Rule) {
	conn := hijack(w)
	if conn == nil {
		return
	}
	defer conn.Close()
	bw := bufio.NewWriter(conn)
	length := resp.ContentLength
	chunked := length < 0 && r.Method != http.MethodHead && bodyAllowed(resp.StatusCode)
	fmt.Fprintf(bw, "HTTP/1.1 %d %s\r\n", resp.StatusCode, http.StatusText(resp.StatusCode))
	h.Del("Content-Length")
	if length >= 0 {
		h.Set("Content-Length", strconv.FormatInt(length, 10))
	} else if chunked {
		h.Set("Transfer-Encoding", "chunked")
	}
	h.Set("Connection", "close")
	h.Write(bw)
	bw.WriteString("\r\n")
	if r.Method == http.MethodHead || !bodyAllowed(resp.StatusCode) {
		bw.Flush()
		return
	}
	cut := rule.CutAt
	switch {
	case cut < 0:
		cut = 0
	case cut == 0:
		cut = 512
		if length >= 0 {
			cut = length / 2
		}
	}
	if length >= 0 && cut >= length {
		cut = max(length-1, 0)
	}
	send := func(rd io.Reader) error {
		if chunked {
			buf := make([]byte, 32<<10)
			for {
				n, err := rd.Read(buf)
				if n > 0 {
					fmt.Fprintf(bw, "%x\r\n", n)
					bw.Write(buf[:n])
					bw.WriteString("\r\n")
				}
				if err == io.EOF {
					return nil
				}
				if err != nil {
					return err
				}
			}
		}
		_, err := io.Copy(bw, rd)
		return err
	}
	send(io.LimitReader(resp.Body, cut))
	if err := bw.Flush(); err != nil {
		return
	}
	switch f {
	case ResetMidBody:
		reset(conn)
	case Truncate:
		// conn.Close by the defer: a clean FIN before the announced end.
	case Stall:
		var timeout <-chan time.Time
		if rule.StallFor > 0 {
			t := time.NewTimer(rule.StallFor)
			defer t.Stop()
			timeout = t.C
		}
		// The request context is not cancelled for hijacked
		// connections, so watch the connection: a read returns when the
		// client closes it.
		gone := make(chan struct{})
		go func() {
			var b [1]byte
			conn.Read(b[:])
			close(gone)
		}()
		select {
		case <-timeout:
		case <-gone:
			return
		case <-p.closed:
			return
		}
		if rule.CloseAfterStall {
			return
		}
		conn.SetReadDeadline(time.Now()) // stop the watcher
		<-gone
		if err := send(resp.Body); err != nil {
			return
		}
		if chunked {
			bw.WriteString("0\r\n\r\n")
		}
		bw.Flush()
	}
}

func bodyAllowed(code int) bool {
	return code >= 200 && code != http.StatusNoContent && code != http.StatusNotModified
}

var _ http.Handler = (*Proxy)(nil)
