package mast_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/mastfs/mastfs/mast"
	"github.com/mastfs/mastfs/mast/mastemu"
)

// These tests run the client against the offline emulator, a second,
// independent implementation of the protocol.

func emulated(t *testing.T, opts mastemu.Options, cfg mast.Config) (*mast.Client, *mastemu.Server) {
	t.Helper()
	emu := mastemu.New(opts)
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	cfg.BaseURL = srv.URL
	cfg.ResolverURL = srv.URL + "/Santa-war/query"
	return mast.New(cfg), emu
}

func lits(name string, vals ...string) mast.Criterion {
	c := mast.Criterion{Name: name}
	for _, v := range vals {
		c.Values = append(c.Values, mast.Value{Text: v})
	}
	return c
}

func TestEmulatorRecorded(t *testing.T) {
	c, emu := emulated(t, mastemu.Options{}, mast.Config{})
	ctx := context.Background()
	cat := emu.Catalog()

	missions, err := c.Missions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(cat.Missions())
	sort.Strings(want)
	if !slices.Equal(missions, want) {
		t.Errorf("missions %v, want %v", missions, want)
	}

	pos := &mast.Position{RA: 23.34086, Dec: 60.658, Radius: 0.2}
	obs, err := c.Observations(ctx, mast.Query{Position: pos})
	if err != nil {
		t.Fatal(err)
	}
	n, err := c.Count(ctx, mast.Query{Position: pos})
	if err != nil {
		t.Fatal(err)
	}
	if len(obs.Rows) == 0 || int64(len(obs.Rows)) != n {
		t.Errorf("cone: %d rows, count %d", len(obs.Rows), n)
	}

	prods, err := c.Products(ctx, []string{"2003738726"})
	if err != nil {
		t.Fatal(err)
	}
	if len(prods.Rows) != 22 {
		t.Errorf("%d products of 2003738726, want 22", len(prods.Rows))
	}

	ra, dec, err := c.Resolve(ctx, "M101", "")
	wra, wdec, ok := cat.Resolve("M101")
	if err != nil || !ok || ra != wra || dec != wdec {
		t.Errorf("Resolve(M101) = %v, %v, %v; emulator %v, %v, %v", ra, dec, err, wra, wdec, ok)
	}
	if _, _, err := c.Resolve(ctx, "no such object 42", ""); !errors.Is(err, mast.ErrNotFound) {
		t.Errorf("unknown name: %v", err)
	}

	paths, err := c.PathLookup(ctx, []string{"mast:HST/product/u9o40504m_c3m.fits", "mast:HST/product/does_not_exist.fits"})
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 1 || paths["mast:HST/product/u9o40504m_c3m.fits"] != "hst/public/u9o4/u9o40504m/u9o40504m_c3m.fits" {
		t.Errorf("path_lookup %v", paths)
	}

	_, err = c.Observations(ctx, mast.Query{Criteria: []mast.Criterion{lits("instrument_nam", "WFPC2")}})
	if err == nil || err.Error() != "Filter 'instrument_nam' does not exist. Did you mean 'instrument_name'?" {
		t.Errorf("misspelt column: %v", err)
	}

	_, err = c.Products(ctx, []string{"U9O40504M"})
	var se *mast.ServiceError
	if !errors.As(err, &se) {
		t.Errorf("obs_id instead of obsid: %v, want *ServiceError", err)
	}
}

func TestEmulatorPagingWithCapAndPolling(t *testing.T) {
	cat := mastemu.Generate(3, 2000, 2)
	c, emu := emulated(t, mastemu.Options{Catalog: cat, PageSizeCap: 70, ExecutingPolls: 1}, mast.Config{PageSize: 500})
	ctx := context.Background()

	var want []string
	for _, o := range cat.Observations() {
		if strings.EqualFold(o["obs_collection"].(string), "HST") {
			want = append(want, mast.ValueString(o["obsid"]))
		}
	}
	q := mast.Query{Criteria: []mast.Criterion{lits("OBS_COLLECTION", "hst")}}
	n, err := c.Count(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	emu.ResetStats()
	tab, err := c.Observations(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range tab.Rows {
		got = append(got, r.Str("obsid"))
	}
	sort.Strings(got)
	sort.Strings(want)
	if len(want) < 140 || int64(len(got)) != n || !slices.Equal(got, want) {
		t.Fatalf("%d rows, count %d, catalog %d", len(got), n, len(want))
	}
	st := emu.Stats()
	pages := (len(want) + 69) / 70
	if st.Services[mast.ServiceFiltered] != 2*pages || st.Executing != pages {
		t.Errorf("%d requests and %d EXECUTING answers for %d pages", st.Services[mast.ServiceFiltered], st.Executing, pages)
	}
}

func TestEmulatorCriteriaAndPosition(t *testing.T) {
	cat := mastemu.Generate(5, 3000, 1)
	c, _ := emulated(t, mastemu.Options{Catalog: cat}, mast.Config{})
	ctx := context.Background()
	ra, dec, err := c.Resolve(ctx, "M101", "SIMBAD")
	if err != nil {
		t.Fatal(err)
	}
	pos := &mast.Position{RA: ra, Dec: dec, Radius: 0.5}
	cone, err := c.Observations(ctx, mast.Query{Position: pos})
	if err != nil {
		t.Fatal(err)
	}
	if len(cone.Rows) == 0 {
		t.Fatal("no observations around M101")
	}
	coll := cone.Rows[0].Str("obs_collection")
	q := mast.Query{Position: pos, Criteria: []mast.Criterion{lits("obs_collection", coll), {Name: "t_min", Values: []mast.Value{{IsRange: true, Lo: "1990-01-01", Hi: "2100-01-01"}}}}}
	both, err := c.Observations(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	n, err := c.Count(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	wantN := 0
	for _, r := range cone.Rows {
		// 1990-01-01 is MJD 47892, 2100-01-01 MJD 88069.
		if tmin, _ := r.Float("t_min"); r.Str("obs_collection") == coll && tmin >= 47892 && tmin <= 88069 {
			wantN++
		}
	}
	if wantN == 0 {
		t.Fatalf("no %s observation near M101 in range: the test checks nothing", coll)
	}
	if len(both.Rows) != wantN || n != int64(wantN) {
		t.Errorf("filtered position: %d rows, count %d, want %d", len(both.Rows), n, wantN)
	}
}

func TestEmulatorProductBatches(t *testing.T) {
	cat := mastemu.Generate(7, 1300, 3)
	c, emu := emulated(t, mastemu.Options{Catalog: cat}, mast.Config{})
	var ids []string
	want := 0
	for _, o := range cat.Observations()[:1200] {
		id := mast.ValueString(o["obsid"])
		ids = append(ids, id)
		want += len(cat.ProductsFor(id))
	}
	tab, err := c.Products(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(tab.Rows) != want {
		t.Errorf("%d product rows, want %d", len(tab.Rows), want)
	}
	if got := emu.Stats().Services[mast.ServiceProducts]; got != 3 {
		t.Errorf("%d Products requests, want 3", got)
	}
	if _, ok := tab.Column("_selected_"); ok {
		t.Error("_selected_ kept")
	}
}

func TestEmulatorRangedReads(t *testing.T) {
	cat := mastemu.Generate(11, 200, 4)
	prod, ok := cat.FindProduct(func(p mastemu.ProductInfo) bool {
		return !p.Dynamic && !p.Exclusive && p.Size > 20000 && strings.HasSuffix(p.Filename, ".fits")
	})
	if !ok {
		t.Fatal("no suitable product")
	}
	ref, _ := cat.Open(prod.DataURI)
	for _, opts := range []mastemu.Options{
		{Catalog: cat},
		{Catalog: cat, IgnoreRange: true},
		{Catalog: cat, OmitContentLength: true},
		{Catalog: cat, IgnoreRange: true, OmitContentLength: true},
	} {
		c, _ := emulated(t, opts, mast.Config{})
		ctx := context.Background()
		info, err := c.Head(ctx, prod.DataURI)
		if err != nil {
			t.Fatal(err)
		}
		if !opts.OmitContentLength && info.Size != prod.Size {
			t.Errorf("%+v: Head size %d, want %d", opts, info.Size, prod.Size)
		}
		r := rand.New(rand.NewPCG(3, 4))
		for i := 0; i < 12; i++ {
			off := r.Int64N(prod.Length + 100)
			p := make([]byte, 1+r.IntN(9000))
			n, err := c.ReadAt(ctx, prod.DataURI, p, off)
			want := make([]byte, len(p))
			m, _ := ref.ReadAt(want, off)
			if n != m || !bytes.Equal(p[:n], want[:m]) {
				t.Fatalf("%+v: ReadAt(%d, %d) = %d bytes, want %d", opts, off, len(p), n, m)
			}
			if n < len(p) && err != io.EOF || n == len(p) && err != nil {
				t.Fatalf("%+v: ReadAt(%d, %d): n=%d err=%v", opts, off, len(p), n, err)
			}
		}
	}
}

func TestEmulatorDynamicAndExclusive(t *testing.T) {
	cat := mastemu.Generate(13, 400, 4)
	const token = "emu-token"
	c, _ := emulated(t, mastemu.Options{Catalog: cat, Token: token}, mast.Config{})
	anon, _ := emulated(t, mastemu.Options{Catalog: cat, Token: token}, mast.Config{})
	ctx := context.Background()

	if dyn, ok := cat.FindProduct(func(p mastemu.ProductInfo) bool { return p.Dynamic }); ok {
		info, err := c.Head(ctx, dyn.DataURI)
		if err != nil {
			t.Fatal(err)
		}
		if info.Size != -1 && info.Size != dyn.Length {
			t.Errorf("dynamic Head size %d (serves %d)", info.Size, dyn.Length)
		}
		rc, err := c.Open(ctx, dyn.DataURI)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		ref, _ := cat.Open(dyn.DataURI)
		want, _ := io.ReadAll(ref)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("dynamic Open: %d bytes, %v; want %d", len(got), err, len(want))
		}
	} else {
		t.Error("generated catalog has no dynamic product")
	}

	excl, ok := cat.FindProduct(func(p mastemu.ProductInfo) bool { return p.Exclusive && p.Size > 0 })
	if !ok {
		t.Skip("generated catalog has no exclusive product")
	}
	p := make([]byte, 10)
	_, err := anon.ReadAt(ctx, excl.DataURI, p, 0)
	if !errors.Is(err, mast.ErrUnauthorized) {
		t.Errorf("anonymous exclusive read: %v", err)
	}
	authed := mast.New(mast.Config{BaseURL: c.Config().BaseURL, Token: token})
	if n, err := authed.ReadAt(ctx, excl.DataURI, p, 0); n != 10 || err != nil {
		t.Errorf("authorised exclusive read: %d, %v", n, err)
	}
	if strings.Contains(err.Error(), token) {
		t.Error("token in error")
	}
}
