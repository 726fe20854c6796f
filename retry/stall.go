package retry

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// ErrStalled is wrapped by the error a StallReader returns when no byte
// arrived for its timeout.
var ErrStalled = errors.New("retry: body stalled")

// StallReader wraps a response body. While a Read is in progress, a
// watchdog runs; when it sees no byte for Timeout it calls Abort (which
// should cancel the request's context) and closes the body, so the
// blocked Read returns promptly with an error wrapping ErrStalled. Once
// stalled, every later Read returns that error. Time spent between Reads
// (a slow consumer) does not count.
//
// Read and Close may be called from different goroutines; Reads must not
// be concurrent with each other (as for any io.Reader).
type StallReader struct {
	body    io.ReadCloser
	timeout time.Duration
	abort   func()

	mu      sync.Mutex
	timer   *time.Timer
	stalled bool
	closed  bool
	fired   once
}

// NewStallReader wraps body with a watchdog of timeout (≤ 0 disables it).
// abort may be nil; the body is closed on a stall either way.
func NewStallReader(body io.ReadCloser, timeout time.Duration, abort func()) *StallReader {
	return &StallReader{body: body, timeout: timeout, abort: abort}
}

func (s *StallReader) fire() {
	s.fired.do(func() {
		s.mu.Lock()
		s.stalled = true
		s.mu.Unlock()
		if s.abort != nil {
			s.abort()
		}
		s.body.Close()
	})
}

// Stalled reports whether the watchdog fired.
func (s *StallReader) Stalled() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stalled
}

func (s *StallReader) err() error {
	return fmt.Errorf("%w: no bytes for %v", ErrStalled, s.timeout)
}

// Read reads from the body under the watchdog.
func (s *StallReader) Read(p []byte) (int, error) {
	if s.timeout <= 0 {
		return s.body.Read(p)
	}
	s.mu.Lock()
	if s.stalled {
		s.mu.Unlock()
		return 0, s.err()
	}
	if s.timer == nil {
		s.timer = time.AfterFunc(s.timeout, s.fire)
	} else {
		s.timer.Reset(s.timeout)
	}
	s.mu.Unlock()

	n, err := s.body.Read(p)

	s.mu.Lock()
	s.timer.Stop()
	stalled := s.stalled
	s.mu.Unlock()
	if stalled && err != io.EOF {
		// The bytes in p[:n] did arrive; the next Read reports the stall
		// again, so returning them with the error loses nothing.
		return n, s.err()
	}
	return n, err
}

// Close stops the watchdog and closes the body.
func (s *StallReader) Close() error {
	s.mu.Lock()
	if s.timer != nil {
		s.timer.Stop()
	}
	already := s.closed
	s.closed = true
	s.mu.Unlock()
	if already {
		return nil
	}
	var err error
	if !s.fired.do(func() { err = s.body.Close() }) {
		return nil // the watchdog closed it
	}
	return err
}
