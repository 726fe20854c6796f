package fs

import "time"

// OpObserver receives the latency of FUSE operations (Options.Ops), e.g. a
// Prometheus histogram. op is the go-fuse method name: Lookup, Readdir,
// Getattr, Open, Read or Getxattr. It must be safe for concurrent use.
type OpObserver interface {
	ObserveOp(op string, d time.Duration)
}

// observe reports one operation; use it as defer m.observe("Read", time.Now()).
func (m *mountState) observe(op string, start time.Time) {
	if m.ops != nil {
		m.ops.ObserveOp(op, time.Since(start))
	}
}

// Stats is the snapshot of the counters that .mastfs/stats.json shows, so
// that other views of them (Prometheus) agree with the file.
func (r *Root) Stats() StatsSnapshot { return r.m.snapshot() }
