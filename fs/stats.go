package fs

import (
	"context"
	"encoding/json"
	"runtime"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/mastfs/mastfs/mast"
	"github.com/mastfs/mastfs/throttle"
)

// StatsSource reports the archive client's live counters for
// .mastfs/stats.json. *mast.Client implements it.
type StatsSource interface {
	Stats() mast.Stats
}

// sourceCounters is a Source that reads from more than MAST (the S3-first
// source) and counts its own traffic.
type sourceCounters interface {
	Counters() (requests map[string]int64, errors, bytes, retries, stalls int64)
}

// StatsSnapshot is the content of .mastfs/stats.json (contract §1).
type StatsSnapshot struct {
	// Requests and Errors are by invoke service or endpoint (mast.Stats).
	Requests map[string]int64 `json:"requests"`
	Errors   map[string]int64 `json:"errors"`
	// Bytes is product bytes received, by source.
	Bytes map[string]int64 `json:"bytes"`
	Cache struct {
		Hits         int64 `json:"hits"`
		Misses       int64 `json:"misses"`
		BytesCached  int64 `json:"bytes_cached"`
		BytesFetched int64 `json:"bytes_fetched"`
		FetchErrors  int64 `json:"fetch_errors"`
		MaxBytes     int64 `json:"max_bytes"`
		// DirectReads are random reads fetched as exactly their range.
		DirectReads int64 `json:"direct_reads"`
		// Evicted is blocks evicted to make room; ArenaBytes the memory
		// mapped for block buffers.
		Evicted    int64 `json:"evicted"`
		ArenaBytes int64 `json:"arena_bytes"`
	} `json:"cache"`
	// Retries is requests sent again after a failure (MAST and S3).
	Retries int64 `json:"retries"`
	// Stalls is S3 answers given up on after no byte arrived for the
	// stall timeout (then retried).
	Stalls int64 `json:"stalls"`
	// Process is the daemon's health: goroutines (flat under steady load),
	// recovered panics and reads that hit --read-timeout.
	Process struct {
		Goroutines   int   `json:"goroutines"`
		Panics       int64 `json:"panics"`
		ReadTimeouts int64 `json:"read_timeouts"`
	} `json:"process"`
	// Limiter is the global cap on backend requests (--max-requests):
	// its size, requests in flight now and at most, and requests that
	// had to wait for a slot. Absent without a limiter.
	Limiter *throttle.Stats `json:"limiter,omitempty"`
}

// LimiterStats is the request limiter as stats.json reports it;
// *throttle.Limiter implements it.
type LimiterStats interface {
	Stats() throttle.Stats
}

// statsText renders the counters, pretty-printed, as of now.
func (m *mountState) statsText(context.Context) ([]byte, error) {
	b, err := json.MarshalIndent(m.snapshot(), "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// snapshot reads every counter once.
func (m *mountState) snapshot() StatsSnapshot {
	var s StatsSnapshot
	s.Requests, s.Errors, s.Bytes = map[string]int64{}, map[string]int64{}, map[string]int64{"mast": 0}
	if m.stats != nil {
		ms := m.stats.Stats()
		for k, v := range ms.Requests {
			s.Requests[k] = v
		}
		for k, v := range ms.Errors {
			s.Errors[k] = v
		}
		s.Bytes["mast"] = ms.DownloadBytes
		s.Retries += ms.Retries
	}
	if sc, ok := m.source.(sourceCounters); ok {
		reqs, errs, bytes, retries, stalls := sc.Counters()
		for k, v := range reqs {
			s.Requests[k] = v
		}
		s.Errors["s3"] = errs
		s.Bytes["s3"] = bytes
		s.Retries += retries
		s.Stalls += stalls
	}
	cs := m.blocks.Stats()
	s.Cache.Hits, s.Cache.Misses = cs.Hits, cs.Misses
	s.Cache.BytesCached, s.Cache.BytesFetched = cs.BytesCached, cs.BytesFetched
	s.Cache.FetchErrors, s.Cache.MaxBytes = cs.FetchErrors, cs.MaxBytesBudget
	s.Cache.DirectReads, s.Cache.Evicted, s.Cache.ArenaBytes = cs.DirectReads, cs.KeysEvicted, cs.ArenaBytes
	s.Process.Goroutines = runtime.NumGoroutine()
	s.Process.Panics, s.Process.ReadTimeouts = m.panics.Load(), m.readTimeouts.Load()
	if m.limiter != nil {
		ls := m.limiter.Stats()
		s.Limiter = &ls
	}
	return s
}

// statsDir is .mastfs/: stats.json, regenerated on every open and stat.
func statsDir(m *mountState) func() (gofs.InodeEmbedder, gofs.StableAttr) {
	return func() (gofs.InodeEmbedder, gofs.StableAttr) {
		d := &staticDir{m: m, children: map[string]func() (gofs.InodeEmbedder, gofs.StableAttr){
			"stats.json": textChild(m, identityIno("static", ".mastfs/stats.json"), 0, m.statsText),
		}}
		return d, gofs.StableAttr{Mode: fuse.S_IFDIR, Ino: identityIno("static", ".mastfs")}
	}
}
