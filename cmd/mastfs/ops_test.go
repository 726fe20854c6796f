package main

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	mfs "github.com/mastfs/mastfs/fs"
	"github.com/mastfs/mastfs/mast/mastemu"
)

// startMount runs `mastfs mount --cloud off` against emu with extra flags
// and waits for the mount; the cleanup stops it with SIGTERM.
func startMount(t *testing.T, emuURL string, extra ...string) (mnt string, cmd *exec.Cmd, stderr *syncBuffer) {
	t.Helper()
	bin := buildBinary(t)
	mnt = t.TempDir()
	args := append([]string{"mount", "--cloud", "off", "--mast-url", emuURL, "--resolver-url", emuURL + "/Santa-war/query"}, extra...)
	cmd = exec.Command(bin, append(args, mnt)...)
	stderr = &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("mastfs stderr:\n%s", stderr.String())
		}
		if cmd.ProcessState == nil {
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
		}
	})
	waitMounted(t, mnt)
	return mnt, cmd, stderr
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestMetricsAgreeWithStatsJSON scrapes --metrics-addr of a real mount
// after a listing and a read, and compares every counter with
// .mastfs/stats.json; the FUSE latency histograms have observations.
func TestMetricsAgreeWithStatsJSON(t *testing.T) {
	requireFUSE(t)
	cat := mastemu.Recorded()
	emu := httptest.NewServer(mastemu.New(mastemu.Options{Catalog: cat}))
	defer emu.Close()
	addr := freeAddr(t)
	mnt, cmd, _ := startMount(t, emu.URL, "--metrics-addr", addr)

	prop, _ := cat.BusiestProposal("HST")
	dir := filepath.Join(mnt, "criteria", "obs_collection=HST", "proposal_id="+prop)
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) == 0 {
		t.Fatalf("ls %s: %v", dir, err)
	}
	for _, e := range ents {
		if uri, _ := xattr(filepath.Join(dir, e.Name()), "user.mast.dataURI"); uri != "" {
			if info, ok := cat.Product(uri); ok && !info.Exclusive {
				if _, err := os.ReadFile(filepath.Join(dir, e.Name())); err != nil {
					t.Fatal(err)
				}
				break
			}
		}
	}

	raw, err := os.ReadFile(filepath.Join(mnt, ".mastfs", "stats.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st mfs.StatsSnapshot
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	value := func(name string, labels ...string) float64 {
		t.Helper()
		f, ok := fams[name]
		if !ok {
			t.Fatalf("no metric %s", name)
		}
	next:
		for _, m := range f.Metric {
			for i := 0; i+1 < len(labels); i += 2 {
				if labelOf(m, labels[i]) != labels[i+1] {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			}
		}
		t.Fatalf("no metric %s%v", name, labels)
		return 0
	}
	check := func(what string, got float64, want int64) {
		t.Helper()
		if got != float64(want) {
			t.Errorf("%s: metrics say %v, stats.json %d", what, got, want)
		}
	}
	if len(st.Requests) == 0 || st.Bytes["mast"] == 0 || st.Cache.Misses == 0 {
		t.Fatalf("the workload left no traffic in stats.json:\n%s", raw)
	}
	for svc, n := range st.Requests {
		check("requests "+svc, value("mastfs_requests_total", "service", svc), n)
	}
	for svc, n := range st.Errors {
		check("errors "+svc, value("mastfs_request_errors_total", "service", svc), n)
	}
	for src, n := range st.Bytes {
		check("bytes "+src, value("mastfs_source_bytes_total", "source", src), n)
	}
	check("cache hits", value("mastfs_cache_hits_total"), st.Cache.Hits)
	check("cache misses", value("mastfs_cache_misses_total"), st.Cache.Misses)
	check("bytes cached", value("mastfs_cache_bytes"), st.Cache.BytesCached)
	check("retries", value("mastfs_retries_total"), st.Retries)
	hist := fams["mastfs_fuse_op_duration_seconds"]
	seen := map[string]uint64{}
	for _, m := range hist.GetMetric() {
		seen[labelOf(m, "op")] = m.GetHistogram().GetSampleCount()
	}
	for _, op := range []string{"Lookup", "Readdir", "Getattr", "Open", "Read", "Getxattr"} {
		if seen[op] == 0 {
			t.Errorf("no %s observations in mastfs_fuse_op_duration_seconds (%v)", op, seen)
		}
	}
	stopAndWait(t, cmd, mnt)
}

func labelOf(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// TestSIGHUPDropsQueryCache: a second listing within --query-ttl is served
// from the cache; after SIGHUP the same listing asks the archive again.
func TestSIGHUPDropsQueryCache(t *testing.T) {
	requireFUSE(t)
	cat := mastemu.Recorded()
	emu := mastemu.New(mastemu.Options{Catalog: cat})
	hs := httptest.NewServer(emu)
	defer hs.Close()
	mnt, cmd, stderr := startMount(t, hs.URL, "--query-ttl", "1h")
	prop, _ := cat.BusiestProposal("HST")
	q := filepath.Join(mnt, "criteria", "obs_collection=HST", "proposal_id="+prop)
	filtered := func() int { return emu.Stats().Services["Mast.Caom.Filtered"] }
	list := func(p string) {
		t.Helper()
		if ents, err := os.ReadDir(p); err != nil || len(ents) == 0 {
			t.Fatalf("ls %s: %v (%d entries)", p, err, len(ents))
		}
	}
	list(q)
	first := filtered()
	if first == 0 {
		t.Fatal("the first listing sent no Mast.Caom.Filtered query")
	}
	list(filepath.Join(mnt, "criteria", "proposal_id="+prop, "obs_collection=HST"))
	if got := filtered(); got != first {
		t.Fatalf("a cached listing queried again: %d Filtered requests, want %d", got, first)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stderr.String(), "caches dropped") {
		if time.Now().After(deadline) {
			t.Fatal("no 'caches dropped' in the log after SIGHUP")
		}
		time.Sleep(20 * time.Millisecond)
	}
	list(q)
	if got := filtered(); got <= first {
		t.Fatalf("after SIGHUP the listing was not queried afresh: %d Filtered requests, want more than %d", got, first)
	}
	if cmd.ProcessState != nil {
		t.Fatal("mastfs exited on SIGHUP")
	}
	stopAndWait(t, cmd, mnt)
}
