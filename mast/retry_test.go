package mast

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mastfs/mastfs/retry"
)

func TestRetryConfigDefaults(t *testing.T) {
	cfg := New(Config{Token: "tok-123"}).Config()
	if cfg.Retries != DefaultRetries || cfg.RetryBase != DefaultRetryBase || cfg.RetryCap != DefaultRetryCap || cfg.StallTimeout != DefaultStallTimeout {
		t.Errorf("defaults: %+v", cfg)
	}
	if DefaultRetries != 4 || DefaultRetryBase != 200*time.Millisecond || DefaultRetryCap != 5*time.Second || DefaultStallTimeout != 30*time.Second {
		t.Error("documented defaults changed")
	}
	if s := cfg.String(); strings.Contains(s, "tok-123") || !strings.Contains(s, "Retries:4") {
		t.Errorf("String: %s", s)
	}
	if got := New(Config{Retries: -1}).Config().Retries; got != 1 {
		t.Errorf("Retries -1 gives %d attempts, want 1", got)
	}
	if got := New(Config{RetryBase: 10 * time.Second}).Config().RetryCap; got != 10*time.Second {
		t.Errorf("cap below base: %v", got)
	}
}

// TestRetryDelays: the waits follow the policy, Retry-After (seconds or
// HTTP-date) is a floor, capped at retry.DefaultMaxRetryAfter.
func TestRetryDelays(t *testing.T) {
	for _, tc := range []struct {
		name, after string
		min, max    time.Duration
	}{
		{"no Retry-After", "", 0, 5 * time.Millisecond},
		{"seconds", "2", 2 * time.Second, 2 * time.Second},
		{"date", time.Now().Add(time.Minute).UTC().Format(http.TimeFormat), 25 * time.Second, retry.DefaultMaxRetryAfter},
		{"capped", "3600", retry.DefaultMaxRetryAfter, retry.DefaultMaxRetryAfter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hits atomic.Int32
			c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if hits.Add(1) <= 3 {
					if tc.after != "" {
						w.Header().Set("Retry-After", tc.after)
					}
					w.WriteHeader(503)
					return
				}
				w.Write([]byte(`{"a": {"type": "char"}}`))
			}), Config{RetryBase: time.Millisecond, RetryCap: 5 * time.Millisecond})
			if _, err := c.ColumnsConfig(context.Background(), "s"); err != nil {
				t.Fatal(err)
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			if len(c.sleeps) != 3 || c.Stats().Retries != 3 {
				t.Fatalf("sleeps %v, retries %d", c.sleeps, c.Stats().Retries)
			}
			for _, d := range c.sleeps {
				if d < tc.min || d > tc.max {
					t.Errorf("slept %v, want in [%v, %v]", d, tc.min, tc.max)
				}
			}
		})
	}
}

// TestRetryReplaysBody: a retried POST sends the same body.
func TestRetryReplaysBody(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		n := len(bodies)
		mu.Unlock()
		if n < 3 {
			w.WriteHeader(500)
			return
		}
		w.Write([]byte("#!/bin/sh\n"))
	}), Config{})
	if _, err := c.BundleScript(context.Background(), []string{"mast:A/b.fits"}); err != nil {
		t.Fatal(err)
	}
	if len(bodies) != 3 || bodies[0] == "" || bodies[0] != bodies[1] || bodies[1] != bodies[2] {
		t.Errorf("bodies %q", bodies)
	}
}

// TestRetryTokenScrubbed: errors after retries and the debug log keep
// the token out, even when the server echoes it.
func TestRetryTokenScrubbed(t *testing.T) {
	const token = "echoed-token-5566"
	var logs bytes.Buffer
	var mu sync.Mutex
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(503)
		io.WriteString(w, "overloaded, your "+r.Header.Get("Authorization"))
	}), Config{Token: token, Logger: newLockedLogger(&logs, &mu)})
	_, err := c.ReadAt(context.Background(), "mast:X/a", make([]byte, 10), 0)
	if !errors.Is(err, ErrServer) || strings.Contains(err.Error(), token) {
		t.Errorf("err %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(logs.String(), token) || !strings.Contains(logs.String(), "retrying") {
		t.Errorf("logs:\n%s", logs.String())
	}
	if c.Stats().Retries != DefaultRetries-1 {
		t.Errorf("%d retries", c.Stats().Retries)
	}
}

// TestRetryStopsOnCancel: a cancelled caller stops the retries at once.
func TestRetryStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var hits atomic.Int32
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		cancel()
		w.WriteHeader(503)
	}), Config{})
	_, err := c.ReadAt(ctx, "mast:X/a", make([]byte, 10), 0)
	if err == nil || hits.Load() != 1 {
		t.Errorf("%v after %d requests", err, hits.Load())
	}
}

// TestOpenCloseWhileReading: Close unblocks a Read stuck on a stalled
// body, without a race.
func TestOpenCloseWhileReading(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.Write(make([]byte, 10))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}), Config{Timeout: -1, StallTimeout: -1})
	rc, err := c.Open(context.Background(), "mast:X/a")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(rc)
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	rc.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Error("no error after Close")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not unblock Read")
	}
}

// lockedWriter serialises writes to a buffer the test reads under mu.
type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func newLockedLogger(w io.Writer, mu *sync.Mutex) *slog.Logger {
	return slog.New(slog.NewTextHandler(lockedWriter{w, mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
