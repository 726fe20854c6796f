package mastemu

import (
	"encoding/json"
	"path"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestRecordedCatalog(t *testing.T) {
	c := Recorded()
	// 19 cone rows + 3 advSearch + 6 distinct advSearchPos obsids + U9O40504M.
	if c.Len() != 29 {
		t.Fatalf("Len = %d, want 29", c.Len())
	}
	seen := map[string]bool{}
	for _, o := range c.Observations() {
		id := str(o["obsid"])
		if seen[id] {
			t.Errorf("obsid %s twice", id)
		}
		seen[id] = true
		if _, ok := o["t_obs_release"].(float64); !ok {
			t.Errorf("obsid %s: t_obs_release %v", id, o["t_obs_release"])
		}
		if len(c.ProductsFor(id)) == 0 {
			t.Errorf("obsid %s has no products", id)
		}
	}
	prods := c.ProductsFor("2003738726")
	if len(prods) != 22 {
		t.Fatalf("products of 2003738726: %d, want 22", len(prods))
	}
	var science, mrp, small int
	for _, p := range prods {
		if p["productType"] == "SCIENCE" {
			science++
		}
		if p["productGroupDescription"] == MRP {
			mrp++
		}
		if p["size"].(int64) < 50000 {
			small++
		}
		if p["parent_obsid"] != int64(2003738726) || p["dataRights"] != "PUBLIC" {
			t.Errorf("%s: parent_obsid %v dataRights %v", p["dataURI"], p["parent_obsid"], p["dataRights"])
		}
	}
	// The counts astroquery's mocked tests assert on this fixture.
	if science != 7 || mrp != 3 || small != 7 {
		t.Errorf("SCIENCE %d MRP %d size<50000 %d, want 7 3 7", science, mrp, small)
	}
	info, ok := c.Product("mast:HST/product/u9o40504m_c3m.fits")
	if !ok || info.Size != 207360 || info.CloudKey != "hst/public/u9o4/u9o40504m/u9o40504m_c3m.fits" {
		t.Errorf("u9o40504m_c3m.fits: %+v %v", info, ok)
	}
	if got := c.Missions(); len(got) != 15 || got[0] != "IUE" {
		t.Errorf("Missions = %v", got)
	}
	if ra, dec, ok := c.Resolve("M101"); !ok || ra != 210.802429 || dec != 54.34875 {
		t.Errorf("Resolve(M101) = %v %v %v", ra, dec, ok)
	}
}

// configColumns are the observation columns the recorded columns config
// does not mark "remove".
func configColumns(t *testing.T) []string {
	t.Helper()
	var cfg map[string]map[string]any
	if err := json.Unmarshal(recordedFile("columnsconfig.json"), &cfg); err != nil {
		t.Fatal(err)
	}
	var out []string
	for name, props := range cfg {
		if name == "_selected_" || name == "distance" || props["remove"] == true {
			continue
		}
		out = append(out, name)
	}
	return out
}

func TestCatalogsHaveConfigColumns(t *testing.T) {
	for name, c := range map[string]*Catalog{"recorded": Recorded(), "generated": generated()} {
		have := map[string]bool{}
		for _, f := range c.Fields() {
			have[f.Name] = true
		}
		for _, col := range configColumns(t) {
			if !have[col] {
				t.Errorf("%s catalog lacks column %s", name, col)
			}
		}
	}
}

func TestGenerateDeterministic(t *testing.T) {
	a, b := Generate(42, 1500, 6), Generate(42, 1500, 6)
	if !reflect.DeepEqual(a.Observations(), b.Observations()) {
		t.Fatal("same seed, different observations")
	}
	for _, i := range []int{0, 19, 777, 1499} {
		id := a.obsidString(i)
		if !reflect.DeepEqual(a.ProductsFor(id), b.ProductsFor(id)) {
			t.Fatalf("same seed, different products for %s", id)
		}
	}
	uri := a.ProductsFor(a.obsidString(3))[0]["dataURI"].(string)
	if string(productBytes(t, a, uri)) != string(productBytes(t, b, uri)) {
		t.Fatal("same seed, different bytes")
	}
	if reflect.DeepEqual(a.Observations(), Generate(43, 1500, 6).Observations()) {
		t.Fatal("different seeds, same catalog")
	}
	for _, n := range [][2]int{{0, 0}, {1, 0}, {3, 1}, {5, 25}} {
		c := Generate(1, n[0], n[1])
		if c.Len() != n[0] || (n[0] > 0 && len(c.ProductsFor(c.obsidString(0))) < n[1]) {
			t.Errorf("Generate(1, %d, %d): %d observations", n[0], n[1], c.Len())
		}
	}
}

func TestGenerateSpeed(t *testing.T) {
	start := time.Now()
	c := Generate(1, 100000, 10)
	gen := time.Since(start)
	// Listing every product is the expensive part; under -race list 1%.
	nObs := c.Len()
	if raceEnabled {
		nObs /= 100
	}
	start = time.Now()
	n := 0
	for i := 0; i < nObs; i++ {
		n += len(c.ProductsFor(c.obsidString(i)))
	}
	t.Logf("Generate(1, 100000, 10): %v; listing the %d products of %d observations: %v (race detector: %v)",
		gen, n, nObs, time.Since(start), raceEnabled)
	if c.Len() != 100000 || n < 10*nObs {
		t.Fatalf("%d observations, %d products", c.Len(), n)
	}
}

func TestGeneratedMix(t *testing.T) {
	c := generated()
	colls := map[string]int{}
	var slashInst, multiFilter, exclusiveObs int
	for _, o := range c.Observations() {
		colls[o["obs_collection"].(string)]++
		if strings.Contains(o["instrument_name"].(string), "/") {
			slashInst++
		}
		if strings.Contains(o["filters"].(string), ";") {
			multiFilter++
		}
		if o["dataRights"] == "EXCLUSIVE_ACCESS" {
			exclusiveObs++
			if o["t_obs_release"].(float64) <= NowMJD {
				t.Errorf("%v exclusive but released", o["obs_id"])
			}
		}
	}
	for _, want := range []string{"HST", "JWST", "TESS", "GALEX", "IUE", "HLA"} {
		if colls[want] == 0 {
			t.Errorf("no %s observations: %v", want, colls)
		}
	}
	if slashInst == 0 || multiFilter == 0 || exclusiveObs == 0 {
		t.Errorf("instrument with /: %d, ;-filters: %d, exclusive: %d", slashInst, multiFilter, exclusiveObs)
	}

	type key struct{ proposal, filename string }
	uriObs := map[string]map[string]bool{}
	names := map[key]map[string]bool{}
	types := map[string]int{}
	exts := map[string]int{}
	var fits, fits2880, dynamic, exclusive, mrp, cloud int
	c.EachProduct(func(obsid string, p ProductInfo) bool {
		if uriObs[p.DataURI] == nil {
			uriObs[p.DataURI] = map[string]bool{}
		}
		uriObs[p.DataURI][obsid] = true
		o, _ := c.Observation(p.OwnerObsID)
		k := key{str(o["proposal_id"]), p.Filename}
		if names[k] == nil {
			names[k] = map[string]bool{}
		}
		names[k][p.DataURI] = true
		types[p.ProductType]++
		ext := path.Ext(p.Filename)
		if strings.HasSuffix(p.Filename, ".fits.gz") {
			ext = ".fits.gz"
		}
		exts[ext]++
		if ext == ".fits" {
			fits++
			if p.Size%2880 == 0 {
				fits2880++
			}
		}
		if p.Dynamic {
			dynamic++
			if p.Size != -1 || !strings.Contains(p.DataURI, "getdata.cgi?filename=") || p.CloudKey != "" {
				t.Errorf("dynamic product %+v", p)
			}
		}
		if p.Exclusive {
			exclusive++
			if p.CloudKey != "" {
				t.Errorf("exclusive product in the cloud: %s", p.DataURI)
			}
		}
		if p.Group == MRP {
			mrp++
		}
		if p.CloudKey != "" && p.OwnerObsID == obsid {
			cloud++
		}
		if got, ok := c.Product(p.DataURI); !ok || got != p {
			t.Errorf("Product(%s) = %+v, %v; listed as %+v", p.DataURI, got, ok, p)
		}
		return true
	})
	shared := 0
	for _, obs := range uriObs {
		if len(obs) > 1 {
			shared++
		}
	}
	collisions := 0
	for _, uris := range names {
		if len(uris) > 1 {
			collisions++
		}
	}
	for _, want := range []string{"SCIENCE", "AUXILIARY", "PREVIEW", "INFO"} {
		if types[want] == 0 {
			t.Errorf("no %s products: %v", want, types)
		}
	}
	for _, want := range []string{".fits", ".fits.gz", ".jpg", ".txt"} {
		if exts[want] == 0 {
			t.Errorf("no %s products: %v", want, exts)
		}
	}
	if fits2880 != fits {
		t.Errorf("%d of %d .fits sizes are multiples of 2880", fits2880, fits)
	}
	if shared == 0 || collisions == 0 || dynamic == 0 || exclusive == 0 || mrp == 0 || cloud == 0 {
		t.Errorf("shared %d, filename collisions %d, dynamic %d, exclusive %d, MRP %d, cloud %d",
			shared, collisions, dynamic, exclusive, mrp, cloud)
	}
	objs := c.CloudObjects()
	if len(objs) != cloud {
		t.Errorf("CloudObjects has %d keys for %d cloud products (keys must be unique)", len(objs), cloud)
	}
}

func TestBusiestProposal(t *testing.T) {
	c := generated()
	id, n := c.BusiestProposal("hst")
	count := 0
	for _, o := range c.Observations() {
		if o["obs_collection"] == "HST" && o["proposal_id"] == id {
			count++
		}
	}
	if id == "" || n != count || n < 2 {
		t.Fatalf("BusiestProposal = %q, %d; counted %d", id, n, count)
	}
	for _, p := range c.Proposals("HST")[1:] {
		if p.N > n {
			t.Fatalf("proposal %s has %d > %d observations", p.ProposalID, p.N, n)
		}
	}
}

func TestAddProduct(t *testing.T) {
	c := Recorded()
	obsid := "2003520266"
	info, err := c.AddProduct(obsid, map[string]any{
		"dataURI": "mast:HST/product/o6au01msq_big.fits", "size": 100 << 20, "productType": "SCIENCE",
	})
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != 100<<20 || info.Filename != "o6au01msq_big.fits" || info.OwnerObsID != obsid {
		t.Fatalf("AddProduct info %+v", info)
	}
	if got, ok := c.Product(info.DataURI); !ok || got != info {
		t.Fatalf("Product = %+v %v", got, ok)
	}
	prods := c.ProductsFor(obsid)
	last := prods[len(prods)-1]
	if last["dataURI"] != info.DataURI || last["size"] != int64(100<<20) || last["obs_id"] != "O6AU01MSQ" {
		t.Fatalf("listed as %v", last)
	}
	if _, err := c.AddProduct(obsid, map[string]any{"dataURI": info.DataURI}); err == nil {
		t.Fatal("duplicate dataURI accepted")
	}
	if _, err := c.AddProduct("42", map[string]any{"dataURI": "mast:X/y"}); err == nil {
		t.Fatal("unknown obsid accepted")
	}
	if _, ok := Recorded().Product(info.DataURI); ok {
		t.Fatal("AddProduct leaked into another Recorded() catalog")
	}
}
