package fs

import (
	"context"
	"errors"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/mastfs/mastfs/mast"
	"github.com/mastfs/mastfs/mast/mastemu"
)

// TestEvaluateMatchesTheMount: Evaluate gives what a query directory
// lists, without FUSE.
func TestEvaluateMatchesTheMount(t *testing.T) {
	cat := mastemu.Recorded()
	hs := httptest.NewServer(mastemu.New(mastemu.Options{Catalog: cat}))
	defer hs.Close()
	c := mast.New(mast.Config{BaseURL: hs.URL, ResolverURL: hs.URL + "/Santa-war/query"})
	prop, _ := cat.BusiestProposal("HST")
	got, err := Evaluate(context.Background(), c, "/mnt/x/criteria/proposal_id="+prop+"/obs_collection=HST", 5000, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := sortedKeys(expectedFiles(cat, "HST", prop, nil))
	var names []string
	for _, p := range got {
		names = append(names, p.Name)
		if p.ObsCollection == "" || p.ObsID == "" || p.URI == "" {
			t.Fatalf("incomplete product %+v", p)
		}
	}
	sort.Strings(names)
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Fatalf("Evaluate gave %v, want %v", names, want)
	}
	mrp, err := Evaluate(context.Background(), c, "obsid/2003738726/@mrp", 5000, nil)
	if err != nil || len(mrp) != 3 {
		t.Fatalf("obsid/2003738726/@mrp: %d products, %v", len(mrp), err)
	}
	var ie *mast.InvalidCriteriaError
	if _, err := Evaluate(context.Background(), c, "criteria/oops_collection=HST", 5000, nil); !errors.As(err, &ie) {
		t.Fatalf("unknown column: %v, want InvalidCriteriaError", err)
	}
	if _, err := Evaluate(context.Background(), c, "criteria/obs_collection=HST", 1, nil); !errors.Is(err, errTooMany) {
		t.Fatalf("over the limit: %v", err)
	}
}
