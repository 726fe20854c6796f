package mastemu

import "maps"

// Stats are the server's counters since New or the last ResetStats.
type Stats struct {
	// Requests counts HTTP requests by endpoint (Endpoint* constants).
	Requests map[string]int
	// Services counts invoke requests by service name, EXECUTING polls
	// included, except COUNT_BIG(*) queries, which are in CountQueries.
	Services     map[string]int
	CountQueries map[string]int
	// Executing is how many EXECUTING answers were sent.
	Executing int
	// DownloadBytes is the body bytes sent by Download/file.
	DownloadBytes int64
	// Log has one entry per request, in the order responses started.
	Log []LogEntry
}

// LogEntry is one request the server answered.
type LogEntry struct {
	Method   string
	Path     string
	Endpoint string
	Service  string // invoke service
	Count    bool   // a COUNT_BIG(*) query
	URI      string // Download/file data URI
	Range    string // Range request header
	Status   int
}

func newStats() Stats {
	return Stats{Requests: map[string]int{}, Services: map[string]int{}, CountQueries: map[string]int{}}
}

func (s *Server) record(e LogEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &s.stats
	st.Requests[e.Endpoint]++
	if e.Endpoint == EndpointInvoke && e.Service != "" {
		if e.Count {
			st.CountQueries[e.Service]++
		} else {
			st.Services[e.Service]++
		}
	}
	st.Log = append(st.Log, e)
}

func (s *Server) addDownloadBytes(n int64) {
	s.mu.Lock()
	s.stats.DownloadBytes += n
	s.mu.Unlock()
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Requests = maps.Clone(st.Requests)
	st.Services = maps.Clone(st.Services)
	st.CountQueries = maps.Clone(st.CountQueries)
	st.Log = append([]LogEntry(nil), st.Log...)
	return st
}

// ResetStats zeroes the counters and the log.
func (s *Server) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats = newStats()
}
