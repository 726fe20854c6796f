package fs

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/mastfs/mastfs/mast"
	"github.com/mastfs/mastfs/mast/mastemu"
)

// readStats reads and decodes .mastfs/stats.json.
func readStats(t *testing.T, m *mounted) (StatsSnapshot, []byte) {
	t.Helper()
	raw, err := os.ReadFile(m.Path(".mastfs", "stats.json"))
	if err != nil {
		t.Fatalf("read stats.json: %v", err)
	}
	var s StatsSnapshot
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("stats.json is not the documented JSON: %v\n%s", err, raw)
	}
	return s, raw
}

// TestStatsJSON: .mastfs/stats.json is pretty-printed JSON regenerated on
// each open; its counters move with a listing and a read and agree with
// what the archive saw; the token is never in it.
func TestStatsJSON(t *testing.T) {
	const token = "stats-json-secret-7d1f"
	cat := mastemu.Generate(21, 300, 6)
	m := mountForTest(t, mountConfig{catalog: cat, token: token, emu: mastemu.Options{Token: token}})

	if names := listDir(t, m.Path(".mastfs")); strings.Join(names, ",") != "stats.json" {
		t.Fatalf(".mastfs/ lists %v, want stats.json", names)
	}
	before, raw := readStats(t, m)
	if !bytes.HasPrefix(raw, []byte("{\n  \"")) || !bytes.HasSuffix(raw, []byte("}\n")) {
		t.Fatalf("stats.json is not pretty-printed:\n%s", raw)
	}
	for _, key := range []string{`"requests"`, `"errors"`, `"bytes"`, `"hits"`, `"misses"`, `"bytes_cached"`, `"retries"`} {
		if !bytes.Contains(raw, []byte(key)) {
			t.Errorf("stats.json has no %s:\n%s", key, raw)
		}
	}
	if n := before.Requests[mast.ServiceProducts] + before.Requests["download"]; n != 0 || before.Bytes["mast"] != 0 {
		t.Fatalf("counters before any listing: %s", raw)
	}

	prop, _ := cat.BusiestProposal("HST")
	dir := m.Path("criteria", "obs_collection=HST", "proposal_id="+prop)
	want := expectedFiles(cat, "HST", prop, func(p mastemu.ProductInfo) bool { return p.Size > 300000 })
	if len(want) == 0 {
		t.Fatal("no product over 300 kB in the proposal")
	}
	listDir(t, dir)
	name := sortedKeys(want)[0]
	uri := want[name]
	got, err := os.ReadFile(dir + "/" + name)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, productBytes(t, cat, uri)) {
		t.Fatalf("%s: bytes differ", name)
	}

	after, raw := readStats(t, m)
	t.Logf("stats.json after a listing and a read:\n%s", raw)
	emu := m.Emu.Stats()
	for _, svc := range []string{mast.ServiceFiltered, mast.ServiceProducts} {
		if n := int64(emu.Services[svc] + emu.CountQueries[svc]); after.Requests[svc] != n || n == 0 {
			t.Errorf("requests[%s] = %d, the archive saw %d", svc, after.Requests[svc], n)
		}
	}
	if n := int64(emu.Requests[mastemu.EndpointDownload]); after.Requests["download"] != n || n == 0 {
		t.Errorf("requests[download] = %d, the archive saw %d", after.Requests["download"], n)
	}
	if after.Bytes["mast"] != emu.DownloadBytes || after.Bytes["mast"] < int64(len(got)) {
		t.Errorf("bytes.mast = %d, the archive sent %d, the file has %d", after.Bytes["mast"], emu.DownloadBytes, len(got))
	}
	if after.Cache.Misses == 0 || after.Cache.BytesFetched < int64(len(got)) || after.Cache.MaxBytes == 0 {
		t.Errorf("cache counters did not move with a %d-byte read: %+v", len(got), after.Cache)
	}
	if len(after.Errors) != 0 {
		t.Errorf("errors %v after clean reads", after.Errors)
	}
	if strings.Contains(string(raw), token) {
		t.Fatalf("stats.json contains the token:\n%s", raw)
	}

	// Regenerated on each open: a failed download (through the mount's
	// client) shows up in the next one.
	if _, err := m.Client.ReadAt(t.Context(), "mast:HST/product/no_such_file.fits", make([]byte, 10), 0); err == nil {
		t.Fatal("reading a missing product succeeded")
	}
	again, raw := readStats(t, m)
	if again.Errors["download"] != 1 || again.Requests["download"] != after.Requests["download"]+1 {
		t.Errorf("stats.json did not follow a failed download: errors %v, requests %v", again.Errors, again.Requests)
	}
	if strings.Contains(string(raw), token) {
		t.Fatalf("stats.json contains the token:\n%s", raw)
	}
}
