package main

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	mfs "github.com/mastfs/mastfs/fs"
)

// opLatency is the FUSE operation latency histogram; it is the mount's
// mfs.OpObserver.
type opLatency struct{ h *prometheus.HistogramVec }

func newOpLatency() *opLatency {
	return &opLatency{h: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "mastfs_fuse_op_duration_seconds",
		Help:    "Latency of FUSE operations (Lookup, Readdir, Getattr, Open, Read, Getxattr).",
		Buckets: prometheus.ExponentialBuckets(0.00005, 4, 10), // 50µs .. 13s
	}, []string{"op"})}
}

func (o *opLatency) ObserveOp(op string, d time.Duration) {
	o.h.WithLabelValues(op).Observe(d.Seconds())
}

// statsCollector exports the counters of .mastfs/stats.json: it reads the
// same snapshot on every scrape, so the two always agree.
type statsCollector struct{ root *mfs.Root }

var (
	descRequests     = prometheus.NewDesc("mastfs_requests_total", "Requests sent, by service (MAST invoke service or endpoint, s3.* for the bucket); stats.json requests.", []string{"service"}, nil)
	descErrors       = prometheus.NewDesc("mastfs_request_errors_total", "Requests that failed (transport error or non-2xx), by service; stats.json errors.", []string{"service"}, nil)
	descBytes        = prometheus.NewDesc("mastfs_source_bytes_total", "Product bytes received, by source (mast, s3); stats.json bytes.", []string{"source"}, nil)
	descHits         = prometheus.NewDesc("mastfs_cache_hits_total", "Block cache hits.", nil, nil)
	descMisses       = prometheus.NewDesc("mastfs_cache_misses_total", "Block cache misses.", nil, nil)
	descCached       = prometheus.NewDesc("mastfs_cache_bytes", "Bytes held in the block cache now.", nil, nil)
	descFetched      = prometheus.NewDesc("mastfs_cache_fetched_bytes_total", "Bytes fetched into the block cache.", nil, nil)
	descFetchErrors  = prometheus.NewDesc("mastfs_cache_fetch_errors_total", "Block fetches that failed.", nil, nil)
	descCacheMax     = prometheus.NewDesc("mastfs_cache_max_bytes", "Block cache budget (--cache-size).", nil, nil)
	descRetries      = prometheus.NewDesc("mastfs_retries_total", "Requests sent again after a failure.", nil, nil)
	statsDescriptors = []*prometheus.Desc{descRequests, descErrors, descBytes, descHits, descMisses, descCached, descFetched, descFetchErrors, descCacheMax, descRetries}
)

func (c statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range statsDescriptors {
		ch <- d
	}
}

func (c statsCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.root.Stats()
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for k, v := range s.Requests {
		counter(descRequests, v, k)
	}
	for k, v := range s.Errors {
		counter(descErrors, v, k)
	}
	for k, v := range s.Bytes {
		counter(descBytes, v, k)
	}
	counter(descHits, s.Cache.Hits)
	counter(descMisses, s.Cache.Misses)
	ch <- prometheus.MustNewConstMetric(descCached, prometheus.GaugeValue, float64(s.Cache.BytesCached))
	counter(descFetched, s.Cache.BytesFetched)
	counter(descFetchErrors, s.Cache.FetchErrors)
	ch <- prometheus.MustNewConstMetric(descCacheMax, prometheus.GaugeValue, float64(s.Cache.MaxBytes))
	counter(descRetries, s.Retries)
}

// serveMetrics serves /metrics on addr until the returned function is called.
func serveMetrics(addr string, root *mfs.Root, ops *opLatency, log *slog.Logger) (stop func(), err error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(statsCollector{root}, ops.h, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", "err", err)
		}
	}()
	log.Info("serving metrics", "url", "http://"+ln.Addr().String()+"/metrics")
	return func() { srv.Close() }, nil
}
