package fs

import (
	"bytes"
	"errors"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/mastfs/mastfs/mast/mastemu"
)

func inoOf(t *testing.T, p string) uint64 {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Sys().(*syscall.Stat_t).Ino
}

func getxattr(t *testing.T, p, name string) string {
	t.Helper()
	buf := make([]byte, 64<<10)
	n, err := syscall.Getxattr(p, name, buf)
	if err != nil {
		t.Fatalf("getxattr %s %s: %v", p, name, err)
	}
	return string(buf[:n])
}

// TestURIFiles: uri/<dataURI> is the product, the same inode as in query
// directories; HLA cgi URIs with ?, = and & work and read completely with
// cat and cp even without a Content-Length; only mast: URIs are accepted.
func TestURIFiles(t *testing.T) {
	cat := mastemu.Recorded()
	dyn, err := cat.AddProduct("2003738726", map[string]any{
		"dataURI":         "mast:HLA/url/cgi-bin/fitscut.cgi?red=hst_04819_65_wfpc2_f814w_pc&blue=hst_04819_65_wfpc2_f555w_pc&size=ALL&format=fits",
		"productFilename": "fitscut.cgi?red=hst_04819_65_wfpc2_f814w_pc&blue=hst_04819_65_wfpc2_f555w_pc&size=ALL&format=fits",
		"size":            nil, "length": 2880 * 5,
	})
	if err != nil {
		t.Fatal(err)
	}
	m := mountForTest(t, mountConfig{catalog: cat})

	p := m.Path("uri", "mast:HST", "product", "u9o40504m_c3m.fits")
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, productBytes(t, cat, "mast:HST/product/u9o40504m_c3m.fits")) {
		t.Fatal("uri/ bytes differ")
	}
	if a, b := inoOf(t, p), inoOf(t, m.Path("obsid", "2003738726", "u9o40504m_c3m.fits")); a != b {
		t.Fatalf("uri/ inode %d differs from obsid/ inode %d", a, b)
	}

	hla := m.Path("uri", "mast:HLA", "url", "cgi-bin", "fitscut.cgi?red=hst_04819_65_wfpc2_f814w_pc&blue=hst_04819_65_wfpc2_f555w_pc&size=ALL&format=fits")
	want := productBytes(t, cat, dyn.DataURI)
	if out, err := exec.Command("cat", hla).Output(); err != nil || !bytes.Equal(out, want) {
		t.Fatalf("cat of a product without Content-Length: %v, %d bytes, want %d", err, len(out), len(want))
	}
	dst := filepath.Join(t.TempDir(), "copy.fits")
	if out, err := exec.Command("cp", hla, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	if b, _ := os.ReadFile(dst); !bytes.Equal(b, want) {
		t.Fatalf("cp copied %d bytes, want %d", len(b), len(want))
	}

	m.Emu.ResetStats()
	for _, bad := range []string{
		m.Path("uri", "mast:HST", "product", "does_not_exist.fits"),
		m.Path("uri", "http:", "evil.example", "x.fits"),
		m.Path("uri", "file:", "etc", "passwd.txt"),
	} {
		if _, err := os.Stat(bad); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("stat %s: %v, want ENOENT", bad, err)
		}
	}
	for _, e := range m.Emu.Stats().Log {
		if strings.Contains(e.URI, "evil") || strings.Contains(e.URI, "passwd") {
			t.Fatalf("a non-MAST URI reached the archive: %+v", e)
		}
	}
}

// TestObsidDirAndFilters: obsid/<id>/ lists the unique products of that
// Product Group ID; @ filters narrow it as filter_products does.
func TestObsidDirAndFilters(t *testing.T) {
	m := mountForTest(t, mountConfig{})
	if got := listDir(t, m.Path("obsid", "2003738726")); len(got) != 22 {
		t.Fatalf("obsid/2003738726 lists %d files, want the 22 recorded products", len(got))
	}
	mrp := listDir(t, m.Path("obsid", "2003738726", "@mrp"))
	if strings.Join(mrp, ",") != "u9o40504m_c0f.fits,u9o40504m_c1f.fits,u9o40504m_drz.fits" {
		t.Fatalf("@mrp lists %v", mrp)
	}
	if got := listDir(t, m.Path("obsid", "2003738726", "@productType=sCiEnCE")); len(got) != 7 {
		t.Fatalf("@productType=sCiEnCE lists %d, want 7", len(got))
	}
	if got := listDir(t, m.Path("obsid", "2003738726", "@size=<50000")); len(got) != 7 {
		t.Fatalf("@size=<50000 lists %d, want 7", len(got))
	}
	if got := listDir(t, m.Path("obsid", "2003738726", "@extension=png")); len(got) != 0 {
		t.Fatalf("@extension=png lists %v", got)
	}
	if c, err := os.ReadFile(m.Path("obsid", "2003738726", ".count")); err != nil || strings.TrimSpace(string(c)) != "1" {
		t.Fatalf(".count of one obsid: %q %v", c, err)
	}
	if _, err := os.Stat(m.Path("obsid", "12ab")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("obsid/12ab: %v, want ENOENT", err)
	}
}

func angularDistDeg(ra1, dec1, ra2, dec2 float64) float64 {
	r := math.Pi / 180
	s := math.Sin((dec2-dec1)*r/2)*math.Sin((dec2-dec1)*r/2) +
		math.Cos(dec1*r)*math.Cos(dec2*r)*math.Sin((ra2-ra1)*r/2)*math.Sin((ra2-ra1)*r/2)
	return 2 * math.Asin(math.Sqrt(s)) / r
}

// coneURIs is, from the catalog alone, the unique dataURIs of the
// observations within radius of (ra, dec).
func coneURIs(cat *mastemu.Catalog, ra, dec, radius float64, keep func(map[string]any) bool) []string {
	seen := map[string]bool{}
	var out []string
	for _, o := range cat.Observations() {
		ora, _ := strconv.ParseFloat(str(o["s_ra"]), 64)
		odec, _ := strconv.ParseFloat(str(o["s_dec"]), 64)
		if angularDistDeg(ra, dec, ora, odec) > radius || (keep != nil && !keep(o)) {
			continue
		}
		for _, p := range cat.ProductsFor(str(o["obsid"])) {
			if u := str(p["dataURI"]); !seen[u] {
				seen[u] = true
				out = append(out, u)
			}
		}
	}
	sort.Strings(out)
	return out
}

func dirURIs(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, n := range listDir(t, dir) {
		out = append(out, getxattr(t, dir+"/"+n, "user.mast.dataURI"))
	}
	sort.Strings(out)
	return out
}

// TestRegionAndObjectQueries: region/ (decimal, comma and sexagesimal
// positions, radius units), object/ (resolved names), criteria/ with
// coordinates=, and an unresolvable name.
func TestRegionAndObjectQueries(t *testing.T) {
	cat := mastemu.Recorded()
	m := mountForTest(t, mountConfig{catalog: cat})
	want := coneURIs(cat, 23.34086, 60.658, 0.2, nil)
	if len(want) == 0 {
		t.Fatal("no recorded observation in the test cone")
	}
	for _, dir := range []string{
		m.Path("region", "23.34086 60.658"),
		m.Path("region", "23.34086,60.658", "radius=12arcmin"),
		m.Path("region", "01:33:21.8064 +60:39:28.8", "radius=720arcsec"),
		m.Path("region", "01h33m21.8064s +60d39m28.8s", "radius=0.2 deg"),
	} {
		if got := dirURIs(t, dir); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("%s lists %d products, want %d", dir, len(got), len(want))
		}
	}
	hst := coneURIs(cat, 23.34086, 60.658, 0.2, func(o map[string]any) bool { return str(o["obs_collection"]) == "HST" })
	for _, dir := range []string{
		m.Path("region", "23.34086,60.658", "obs_collection=HST"),
		m.Path("criteria", "coordinates=23.34086,60.658", "obs_collection=HST"),
		m.Path("criteria", "obs_collection=HST", "radius=0.2", "coordinates=23.34086 60.658"),
	} {
		if got := dirURIs(t, dir); strings.Join(got, "\n") != strings.Join(hst, "\n") || len(got) == 0 {
			t.Fatalf("%s lists %d products, want %d", dir, len(got), len(hst))
		}
	}

	ra, dec, ok := cat.Resolve("M101")
	if !ok {
		t.Fatal("catalog cannot resolve M101")
	}
	wantObj := coneURIs(cat, ra, dec, 0.2, nil)
	if got := dirURIs(t, m.Path("object", "M101")); strings.Join(got, "\n") != strings.Join(wantObj, "\n") {
		t.Fatalf("object/M101 lists %d products, want %d", len(got), len(wantObj))
	}
	if _, err := os.Stat(m.Path("object", "no_such_object_xyz")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("unresolvable name: %v, want ENOENT", err)
	}
	if !strings.Contains(m.Logs(), "no_such_object_xyz") {
		t.Fatal("no log line for the unresolvable name")
	}
	for _, bad := range []string{
		m.Path("region", "400 100"),
		m.Path("region", "10 20", "radius=-1"),
		m.Path("criteria", "objectname=M101", "coordinates=10,20"),
	} {
		if _, err := os.Stat(bad); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("stat %s: %v, want ENOENT", bad, err)
		}
	}
}

// TestReadmesAndPrefixes: the README.txt files of contract §1, and prefix
// directories that list only their README.
func TestReadmesAndPrefixes(t *testing.T) {
	m := mountForTest(t, mountConfig{})
	root := listDir(t, m.Dir)
	for _, want := range []string{"README.txt", "criteria", "object", "obsid", "region", "uri"} {
		if sort.SearchStrings(root, want) == len(root) || root[sort.SearchStrings(root, want)] != want {
			t.Errorf("root lacks %s: %v", want, root)
		}
	}
	for _, dir := range []string{"criteria", "region", "object", "obsid", "uri"} {
		if got := listDir(t, m.Path(dir)); strings.Join(got, ",") != "README.txt" {
			t.Errorf("%s/ lists %v, want only README.txt", dir, got)
		}
		b, err := os.ReadFile(m.Path(dir, "README.txt"))
		if err != nil || len(b) == 0 {
			t.Errorf("%s/README.txt: %v", dir, err)
		}
	}
	crit, _ := os.ReadFile(m.Path("criteria", "README.txt"))
	// Every column of the configuration, with its label from the config.
	for col, label := range map[string]string{"obs_collection": "Mission", "t_min": "Start Time", "obsid": "Product Group ID", "s_ra": "RA"} {
		ok := false
		for _, line := range strings.Split(string(crit), "\n") {
			f := strings.Fields(line)
			if len(f) > 1 && f[0] == col && strings.Contains(line, label) {
				ok = true
			}
		}
		if !ok {
			t.Errorf("criteria/README.txt has no line for column %s labelled %q", col, label)
		}
	}
}

// TestProductAttributes: mtime from t_obs_release, an xattr per product
// column plus user.mast.url.
func TestProductAttributes(t *testing.T) {
	cat := mastemu.Recorded()
	m := mountForTest(t, mountConfig{catalog: cat})
	obs, ok := cat.Observation("2003738726")
	if !ok {
		t.Fatal("no observation 2003738726")
	}
	rel, _ := strconv.ParseFloat(str(obs["t_obs_release"]), 64)
	p := m.Path("obsid", "2003738726", "u9o40504m_c3m.fits")
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	wantMtime := (rel - 40587) * 86400
	if math.Abs(float64(st.ModTime().UnixNano())/1e9-wantMtime) > 1 {
		t.Fatalf("mtime %v, want MJD %v", st.ModTime(), rel)
	}
	var row map[string]any
	for _, r := range cat.ProductsFor("2003738726") {
		if str(r["productFilename"]) == "u9o40504m_c3m.fits" {
			row = r
		}
	}
	for _, col := range []string{"dataURI", "productType", "productSubGroupDescription", "size", "obs_id", "obsID"} {
		if got := getxattr(t, p, "user.mast."+col); got != str(row[col]) {
			t.Errorf("user.mast.%s = %q, want %q", col, got, str(row[col]))
		}
	}
	if u := getxattr(t, p, "user.mast.url"); !strings.HasPrefix(u, m.URL+"/api/v0.1/Download/file") || !strings.Contains(u, "u9o40504m_c3m.fits") {
		t.Errorf("user.mast.url = %q", u)
	}
}
