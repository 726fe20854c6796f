package mast_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/mastfs/mastfs/mast"
	"github.com/mastfs/mastfs/mast/mastemu"
)

// TestStatsMatchEmulator: the client's counters agree with what the
// emulator saw, by service and endpoint, and with the bytes it sent.
func TestStatsMatchEmulator(t *testing.T) {
	const token = "stats-secret-token-0451"
	cat := mastemu.Generate(3, 200, 4)
	c, emu := emulated(t, mastemu.Options{Catalog: cat, PageSizeCap: 7, Token: "other"}, mast.Config{Token: token})
	ctx := context.Background()

	prop, _ := cat.BusiestProposal("HST")
	q := mast.Query{Criteria: []mast.Criterion{lits("obs_collection", "HST"), lits("proposal_id", prop)}}
	obs, err := c.Observations(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Count(ctx, q); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range obs.Rows {
		ids = append(ids, r.Str("obsid"))
	}
	if _, err := c.Products(ctx, ids); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Resolve(ctx, "M101", ""); err != nil {
		t.Fatal(err)
	}
	pub, _ := cat.FindProduct(func(p mastemu.ProductInfo) bool { return !p.Exclusive && !p.Dynamic && p.Size > 10000 })
	buf := make([]byte, 5000)
	if _, err := c.ReadAt(ctx, pub.DataURI, buf, 1000); err != nil {
		t.Fatal(err)
	}
	rc, err := c.Open(ctx, pub.DataURI)
	if err != nil {
		t.Fatal(err)
	}
	whole, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || int64(len(whole)) != pub.Length {
		t.Fatalf("Open: %d bytes, %v; want %d", len(whole), err, pub.Length)
	}
	productBytes := emu.Stats().DownloadBytes // the 401 below has an error body
	excl, _ := cat.FindProduct(func(p mastemu.ProductInfo) bool { return p.Exclusive && p.Size > 0 })
	if _, err := c.ReadAt(ctx, excl.DataURI, buf[:10], 0); !errors.Is(err, mast.ErrUnauthorized) {
		t.Fatalf("exclusive product with the wrong token: %v", err)
	}

	got, emuSt := c.Stats(), emu.Stats()
	for _, svc := range []string{mast.ServiceFiltered, mast.ServiceProducts} {
		want := int64(emuSt.Services[svc] + emuSt.CountQueries[svc])
		if got.Requests[svc] != want || want == 0 {
			t.Errorf("%s: client counted %d requests, emulator saw %d", svc, got.Requests[svc], want)
		}
	}
	for ep, emuEp := range map[string]string{"columnsconfig": mastemu.EndpointColumnsConfig,
		"download": mastemu.EndpointDownload, "resolver": mastemu.EndpointSanta} {
		if want := int64(emuSt.Requests[emuEp]); got.Requests[ep] != want || want == 0 {
			t.Errorf("%s: client counted %d requests, emulator saw %d", ep, got.Requests[ep], want)
		}
	}
	if got.Errors["download"] != 1 || len(got.Errors) != 1 {
		t.Errorf("errors %v, want one download error", got.Errors)
	}
	if got.DownloadBytes != productBytes || got.DownloadBytes < 5000+pub.Length {
		t.Errorf("download bytes: client %d, emulator %d (want at least %d)", got.DownloadBytes, productBytes, 5000+pub.Length)
	}
	if s := fmt.Sprintf("%+v", got); strings.Contains(s, token) {
		t.Fatalf("stats contain the token: %s", s)
	}
	// A snapshot is a copy.
	got.Requests[mast.ServiceProducts] = -1
	if c.Stats().Requests[mast.ServiceProducts] == -1 {
		t.Fatal("Stats shares its maps with the client")
	}
}
