package fs

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"

	"github.com/mastfs/mastfs/mast/mastemu"
)

// expectedFiles computes, from the catalog alone, the files a query
// directory for obs_collection=<coll>/proposal_id=<prop> must list (unique
// products by dataURI, kept when keep says so), named as docs/paths.md says.
func expectedFiles(cat *mastemu.Catalog, coll, prop string, keep func(mastemu.ProductInfo) bool) map[string]string {
	var uris []string
	seen := map[string]bool{}
	for _, o := range cat.Observations() {
		if !strings.EqualFold(str(o["obs_collection"]), coll) || str(o["proposal_id"]) != prop {
			continue
		}
		for _, p := range cat.ProductsFor(str(o["obsid"])) {
			u := str(p["dataURI"])
			info, _ := cat.Product(u)
			if !seen[u] && (keep == nil || keep(info)) {
				seen[u] = true
				uris = append(uris, u)
			}
		}
	}
	count := map[string]int{}
	base := map[string]string{}
	for _, u := range uris {
		info, _ := cat.Product(u)
		b := path.Base(info.Filename)
		base[u] = b
		count[b]++
	}
	out := map[string]string{}
	for _, u := range uris {
		b := base[u]
		if count[b] > 1 {
			sum := sha1.Sum([]byte(u))
			dot := strings.Index(b, ".")
			b = b[:dot] + "~" + hex.EncodeToString(sum[:])[:8] + b[dot:]
		}
		out[b] = u
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	default:
		return fmt.Sprint(x)
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("readdir %s: %v", dir, err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func productBytes(t *testing.T, cat *mastemu.Catalog, uri string) []byte {
	t.Helper()
	r, ok := cat.Open(uri)
	if !ok {
		t.Fatalf("catalog has no bytes for %s", uri)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestQueryDirListsUniqueProductsByteExact is the walking skeleton: ls of a
// criteria query lists exactly its unique products, each byte-exact, on the
// recorded catalog and on a generated one.
func TestQueryDirListsUniqueProductsByteExact(t *testing.T) {
	for _, tc := range []struct {
		name string
		cat  *mastemu.Catalog
	}{
		{"recorded", mastemu.Recorded()},
		{"generated", mastemu.Generate(7, 400, 6)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mountForTest(t, mountConfig{catalog: tc.cat})
			prop, nObs := tc.cat.BusiestProposal("HST")
			if nObs == 0 {
				t.Fatal("catalog has no HST proposal")
			}
			want := expectedFiles(tc.cat, "HST", prop, nil)
			dir := m.Path("criteria", "obs_collection=HST", "proposal_id="+prop)
			got := listDir(t, dir)
			wantNames := sortedKeys(want)
			if strings.Join(got, "\n") != strings.Join(wantNames, "\n") {
				t.Fatalf("listing of %s:\n got %q\nwant %q", dir, got, wantNames)
			}
			for name, uri := range want {
				info, _ := tc.cat.Product(uri)
				st, err := os.Stat(dir + "/" + name)
				if err != nil {
					t.Fatal(err)
				}
				if st.Mode().Perm() != 0o444 || !st.Mode().IsRegular() {
					t.Errorf("%s: mode %v, want -r--r--r--", name, st.Mode())
				}
				if info.Size >= 0 && st.Size() != info.Size {
					t.Errorf("%s: size %d before any read, want %d", name, st.Size(), info.Size)
				}
				if info.Exclusive {
					continue // needs the token; covered by TestExclusiveProductNeedsToken
				}
				got, err := os.ReadFile(dir + "/" + name)
				if err != nil {
					t.Fatalf("read %s: %v", name, err)
				}
				if !bytes.Equal(got, productBytes(t, tc.cat, uri)) {
					t.Fatalf("%s: bytes differ from the archive's (%d vs %d bytes)", name, len(got), info.Length)
				}
			}
			// fstest checks ReadDir/Stat/Open/Read/Seek consistency on the
			// mount. It reads every file many times over in small pieces, so
			// it runs on the public small products (an @ filter directory).
			small := dir + "/@size=<300000/@dataRights=PUBLIC"
			smallNames := sortedKeys(expectedFiles(tc.cat, "HST", prop, func(p mastemu.ProductInfo) bool {
				return p.Size >= 0 && p.Size < 300000 && !p.Exclusive
			}))
			if got := listDir(t, small); strings.Join(got, ",") != strings.Join(smallNames, ",") || len(got) == 0 {
				t.Fatalf("@ filtered listing %v, want %v (non-empty)", got, smallNames)
			}
			if err := fstest.TestFS(os.DirFS(small), smallNames...); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestSegmentOrderIsOneQuery: reordered segments are one directory, one
// cache entry and the same inodes.
func TestSegmentOrderIsOneQuery(t *testing.T) {
	cat := mastemu.Recorded()
	m := mountForTest(t, mountConfig{catalog: cat})
	prop, _ := cat.BusiestProposal("HST")
	a := m.Path("criteria", "obs_collection=HST", "proposal_id="+prop)
	b := m.Path("criteria", "proposal_id="+prop, "obs_collection=HST")
	namesA := listDir(t, a)
	m.Emu.ResetStats()
	namesB := listDir(t, b)
	if strings.Join(namesA, ",") != strings.Join(namesB, ",") || len(namesA) == 0 {
		t.Fatalf("reordered segments list differently: %v vs %v", namesA, namesB)
	}
	if st := m.Emu.Stats(); st.Services["Mast.Caom.Filtered"] != 0 || st.Services["Mast.Caom.Products"] != 0 {
		t.Fatalf("the reordered path queried the archive again: %v", st.Services)
	}
	for _, n := range namesA {
		sa, _ := os.Stat(a + "/" + n)
		sb, _ := os.Stat(b + "/" + n)
		if sa.Sys().(*syscall.Stat_t).Ino != sb.Sys().(*syscall.Stat_t).Ino {
			t.Fatalf("%s has different inodes on the two paths", n)
		}
	}
}

// TestWritesAreEROFS: every write operation fails with EROFS.
func TestWritesAreEROFS(t *testing.T) {
	cat := mastemu.Recorded()
	m := mountForTest(t, mountConfig{catalog: cat})
	prop, _ := cat.BusiestProposal("HST")
	dir := m.Path("criteria", "obs_collection=HST", "proposal_id="+prop)
	names := listDir(t, dir)
	file := dir + "/" + names[0]
	checks := map[string]error{}
	_, err := os.OpenFile(file, os.O_WRONLY, 0)
	checks["open for write"] = err
	checks["truncate"] = os.Truncate(file, 0)
	_, err = os.Create(dir + "/new.fits")
	checks["create"] = err
	checks["mkdir"] = os.Mkdir(dir+"/newdir", 0o755)
	checks["unlink"] = os.Remove(file)
	checks["rename"] = os.Rename(file, dir+"/renamed.fits")
	checks["chmod"] = os.Chmod(file, 0o644)
	checks["symlink"] = os.Symlink(file, dir+"/link")
	checks["setxattr"] = syscall.Setxattr(file, "user.x", []byte("1"), 0)
	checks["mkdir at root"] = os.Mkdir(m.Path("newtop"), 0o755)
	for op, err := range checks {
		if !errors.Is(err, syscall.EROFS) {
			t.Errorf("%s: got %v, want EROFS", op, err)
		}
	}
}

// TestBadSegmentsAreENOENTWithReason: malformed segments and unknown columns
// fail the lookup with ENOENT, the log says why, and the mount stays up.
func TestBadSegmentsAreENOENTWithReason(t *testing.T) {
	m := mountForTest(t, mountConfig{})
	for _, tc := range []struct{ seg, logWants string }{
		{"oops_collection=HST", "Did you mean 'obs_collection'"},
		{"not_a_keyword=TESS", "Filter 'not_a_keyword' does not exist"},
		{"s_ra=10..", "s_ra=10.."},
		{"target_name=a*,b*", "target_name=a*,b*"},
		{"objectname=M101", ""}, // valid segment, but not runnable alone: lists nothing
	} {
		p := m.Path("criteria", tc.seg)
		_, err := os.Stat(p)
		if tc.logWants == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.seg, err)
			}
			continue
		}
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("stat %s: got %v, want ENOENT", tc.seg, err)
		}
		if !strings.Contains(m.Logs(), tc.logWants) {
			t.Errorf("log does not say why %q failed (want %q)", tc.seg, tc.logWants)
		}
	}
	// Still up.
	if names := listDir(t, m.Path("criteria", "obs_collection=HST", "proposal_id=8880")); len(names) == 0 {
		t.Fatal("mount stopped serving after bad input")
	}
}

// TestSmallReadOfLargeProductIsLazy: reading the first 2880 bytes (one FITS
// header block) of a 100 MiB product transfers less than 1 MiB.
func TestSmallReadOfLargeProductIsLazy(t *testing.T) {
	cat := mastemu.Recorded()
	info, err := cat.AddProduct("2003520266", map[string]any{
		"dataURI": "mast:HST/product/o6au01msq_big_raw.fits", "productFilename": "o6au01msq_big_raw.fits",
		"size": int64(104857600), "productType": "SCIENCE",
	})
	if err != nil {
		t.Fatal(err)
	}
	m := mountForTest(t, mountConfig{catalog: cat})
	f, err := os.Open(m.Path("criteria", "proposal_id=8880", "o6au01msq_big_raw.fits"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	if st.Size() != info.Size {
		t.Fatalf("size %d, want %d", st.Size(), info.Size)
	}
	m.Emu.ResetStats()
	buf := make([]byte, 2880)
	if _, err := io.ReadFull(f, buf); err != nil {
		t.Fatal(err)
	}
	want := productBytes(t, cat, info.DataURI)[:2880]
	if !bytes.Equal(buf, want) {
		t.Fatal("header block differs")
	}
	got := m.Emu.Stats().DownloadBytes
	t.Logf("reading 2880 bytes of a %d-byte product transferred %d bytes", info.Size, got)
	if got >= 1<<20 {
		t.Fatalf("transferred %d bytes for a 2880-byte read, want < 1 MiB", got)
	}
}

// TestProductWithoutSizeReadsCompletely: a product whose metadata has no
// size and whose download has no Content-Length is still read whole, and
// its size is exact once learned.
func TestProductWithoutSizeReadsCompletely(t *testing.T) {
	cat := mastemu.Recorded()
	info, err := cat.AddProduct("2003520266", map[string]any{
		"dataURI":         "mast:HLA/url/cgi-bin/getdata.cgi?filename=hst_08880_01_stis_daophot_trm.cat",
		"productFilename": "getdata.cgi?filename=hst_08880_01_stis_daophot_trm.cat",
		"size":            nil, "length": 300001,
	})
	if err != nil {
		t.Fatal(err)
	}
	m := mountForTest(t, mountConfig{catalog: cat})
	p := m.Path("criteria", "proposal_id=8880", "getdata.cgi?filename=hst_08880_01_stis_daophot_trm.cat")
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, productBytes(t, cat, info.DataURI)) {
		t.Fatalf("read %d bytes, want %d", len(got), info.Length)
	}
	st, err := os.Stat(p)
	if err != nil || st.Size() != info.Length {
		t.Fatalf("stat after read: %v size %d, want %d", err, st.Size(), info.Length)
	}
}
