package mast

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestResponseSizeIsBounded: an answer larger than the cap is an ErrServer
// error, not an unbounded allocation.
func TestResponseSizeIsBounded(t *testing.T) {
	old := maxResponseBytes
	maxResponseBytes = 1 << 20
	defer func() { maxResponseBytes = old }()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"a":"` + strings.Repeat("x", 2<<20) + `"}`))
	}))
	defer hs.Close()
	c := New(Config{BaseURL: hs.URL, PathLookupURL: hs.URL + "/path_lookup/", Retries: -1})
	_, err := c.PathLookup(context.Background(), []string{"mast:HST/product/a.fits"})
	if !errors.Is(err, ErrServer) || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("2 MiB answer with a 1 MiB cap: %v", err)
	}
}

// TestPathLookupRefusesHostileKeys: keys with control characters or ".."
// components are not cloud locations.
func TestPathLookupRefusesHostileKeys(t *testing.T) {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"mast:A/a.fits":{"path":"/hst/public/a.fits"},
			"mast:A/b.fits":{"path":"/hst/public/b.fits\ns3://evil/x"},
			"mast:A/c.fits":{"path":"/hst/../../c.fits"},
			"mast:A/d.fits":{"path":"/hst/public/d\u0000.fits"}}`))
	}))
	defer hs.Close()
	c := New(Config{BaseURL: hs.URL, PathLookupURL: hs.URL + "/path_lookup/"})
	got, err := c.PathLookup(context.Background(), []string{"mast:A/a.fits", "mast:A/b.fits", "mast:A/c.fits", "mast:A/d.fits"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got["mast:A/a.fits"] != "hst/public/a.fits" {
		t.Fatalf("PathLookup = %q; want only a.fits", got)
	}
}
