package cloud

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/mastfs/mastfs/mast"
)

// TestReadAtVersion: reads of one ETag carry If-Match; once the object is
// replaced (same size, other bytes) they fail with mast.ErrChanged, never
// return the new bytes and never fall back to MAST; the location is
// forgotten, so ETag then names the new version, whose reads succeed.
func TestReadAtVersion(t *testing.T) {
	v1 := randomBytes(21, 50000)
	v2 := randomBytes(22, 50000)
	const uri, key = "mast:A/v.fits", "a/v.fits"
	f, _ := newFakeS3(t, map[string][]byte{key: v1}, false)
	c := f.client(t)
	paths := &fakePaths{placed: map[string]string{uri: key}}
	fm := &fakeMAST{data: map[string][]byte{uri: v1}, n: map[string]int{}}
	src := NewSource(c, NewLocator(paths, c, LocatorOptions{}), fm, nil)
	ctx := context.Background()

	e1 := src.ETag(ctx, uri)
	if e1 == "" {
		t.Fatal("no ETag for a product in the bucket")
	}
	if e := src.ETag(ctx, "mast:A/none.fits"); e != "" {
		t.Fatalf("ETag of a product not in the bucket: %q", e)
	}
	p := make([]byte, 1000)
	if _, err := src.ReadAtVersion(ctx, uri, p, 0, int64(len(v1)), e1); err != nil || !bytes.Equal(p, v1[:1000]) {
		t.Fatalf("read of the current version: %v", err)
	}
	var ifMatch int
	for _, r := range f.requests() {
		if r.Method == "GET" && r.Header.Get("If-Match") == e1 {
			ifMatch++
		}
	}
	if ifMatch == 0 {
		t.Fatal("GET without If-Match")
	}

	f.put(t, key, v2)
	n, err := src.ReadAtVersion(ctx, uri, p, 1000, int64(len(v1)), e1)
	if !errors.Is(err, mast.ErrChanged) {
		t.Fatalf("read of a replaced version: n=%d err=%v, want mast.ErrChanged", n, err)
	}
	if fm.count(uri) != 0 {
		t.Fatalf("a changed object fell back to MAST %d times", fm.count(uri))
	}
	// The plain client refuses the old ETag too.
	if _, err := c.ReadAtETag(ctx, key, e1, p, 0); !errors.Is(err, mast.ErrChanged) {
		t.Fatalf("ReadAtETag with the old ETag: %v", err)
	}
	e2 := src.ETag(ctx, uri)
	if e2 == "" || e2 == e1 {
		t.Fatalf("ETag after the change: %q (was %q)", e2, e1)
	}
	// An open that still holds e1 is refused at once (the locator knows e2).
	if _, err := src.ReadAtVersion(ctx, uri, p, 0, int64(len(v1)), e1); !errors.Is(err, mast.ErrChanged) {
		t.Fatalf("old version after relocating: %v", err)
	}
	if _, err := src.ReadAtVersion(ctx, uri, p, 2000, int64(len(v2)), e2); err != nil || !bytes.Equal(p, v2[2000:3000]) {
		t.Fatalf("read of the new version: %v", err)
	}
}

func TestSameETag(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{`"abc"`, `"abc"`, true}, {`"abc"`, `abc`, true}, {`W/"abc"`, `"abc"`, true}, {`"abc"`, `"abd"`, false},
	} {
		if got := sameETag(c.a, c.b); got != c.want {
			t.Errorf("sameETag(%s, %s) = %v", c.a, c.b, got)
		}
	}
}
