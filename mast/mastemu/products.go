package mastemu

import (
	"math/rand/v2"
	"strconv"
	"strings"
)

// tmpl is one kind of product an observation of a collection has.
type tmpl struct {
	suffix, ext string
	ptype       string // productType
	calib       int
	mrp         bool
	desc        string
	scale       int  // 0 small, 1 medium, 2 large
	dynamic     bool // null size, served without Content-Length
}

// templates lists, per collection, the products of an observation in listing
// order; an observation with n products has the first n (then extra
// auxiliary files). Suffixes never contain "_", so a file name up to its last
// "_" is the owner's obs_id.
var templates = map[string][]tmpl{
	"HST": {
		{"drz", ".fits", "SCIENCE", 3, true, "DADS DRZ file - Calibrated combined image", 2, false},
		{"flt", ".fits", "SCIENCE", 2, true, "DADS FLT file - Calibrated exposure", 1, false},
		{"raw", ".fits", "SCIENCE", 1, false, "DADS RAW file - Raw exposure", 1, false},
		{"drz", ".jpg", "PREVIEW", 3, false, "Preview-Full", 0, false},
		{"spt", ".fits", "AUXILIARY", 1, false, "DADS SPT file - Support, planning and telemetry", 0, false},
		{"trl", ".txt", "INFO", 1, false, "DADS TRL file - Processing log", 0, false},
		{"jif", ".fits.gz", "AUXILIARY", 1, false, "DADS JIF file - Jitter", 0, false},
		{"asn", ".fits", "AUXILIARY", 1, false, "DADS ASN file - Association", 0, false},
		{"flc", ".fits", "SCIENCE", 2, false, "DADS FLC file - CTE-corrected exposure", 1, false},
		{"jit", ".fits.gz", "AUXILIARY", 1, false, "DADS JIT file - Jitter", 0, false},
	},
	"JWST": {
		{"i2d", ".fits", "SCIENCE", 3, true, "Level 3 resampled image", 2, false},
		{"cal", ".fits", "SCIENCE", 2, true, "Calibrated exposure", 1, false},
		{"uncal", ".fits", "SCIENCE", 1, false, "Uncalibrated exposure", 1, false},
		{"i2d", ".jpg", "PREVIEW", 3, false, "Preview-Full", 0, false},
		{"cat", ".txt", "AUXILIARY", 3, false, "Source catalog", 0, false},
		{"segm", ".fits", "AUXILIARY", 3, false, "Segmentation map", 1, false},
		{"rate", ".fits", "SCIENCE", 2, false, "Countrate image", 1, false},
		{"asn", ".txt", "INFO", 3, false, "Association pool", 0, false},
		{"crf", ".fits.gz", "SCIENCE", 2, false, "Cosmic-ray flagged exposure", 1, false},
		{"thumb", ".jpg", "PREVIEW", 3, false, "Preview-Thumb", 0, false},
	},
	"TESS": {
		{"lc", ".fits", "SCIENCE", 2, true, "Light curves", 1, false},
		{"tp", ".fits", "SCIENCE", 1, false, "Target pixel files", 1, false},
		{"lc", ".jpg", "PREVIEW", 2, false, "Preview-Full", 0, false},
		{"dvt", ".fits", "SCIENCE", 3, false, "Data validation time series", 1, false},
		{"dvr", ".txt", "INFO", 3, false, "Data validation report", 0, false},
		{"dvs", ".txt", "INFO", 3, false, "Data validation summary", 0, false},
		{"fast-lc", ".fits", "SCIENCE", 2, false, "Fast-cadence light curves", 1, false},
		{"cbv", ".fits.gz", "AUXILIARY", 2, false, "Cotrending basis vectors", 0, false},
	},
	"GALEX": {
		{"nd-int", ".fits.gz", "SCIENCE", 2, true, "Intensity map", 1, false},
		{"nd-cnt", ".fits.gz", "SCIENCE", 2, false, "Count map", 1, false},
		{"nd-int", ".jpg", "PREVIEW", 2, false, "Preview-Full", 0, false},
		{"nd-skybg", ".fits.gz", "AUXILIARY", 2, false, "Sky background map", 0, false},
		{"xd-mcat", ".fits.gz", "SCIENCE", 3, false, "Merged catalog", 0, false},
		{"nd-rrhr", ".fits.gz", "AUXILIARY", 2, false, "Relative response map", 0, false},
		{"nd-flags", ".fits.gz", "AUXILIARY", 2, false, "Flag map", 0, false},
		{"log", ".txt", "INFO", 1, false, "Pipeline log", 0, false},
	},
	"IUE": {
		{"mxlo", ".fits", "SCIENCE", 2, true, "Extracted low-dispersion spectrum", 0, false},
		{"mxlo", ".jpg", "PREVIEW", 2, false, "Preview-Full", 0, false},
		{"raw", ".fits", "SCIENCE", 1, false, "Raw image", 1, false},
		{"lilo", ".fits", "AUXILIARY", 1, false, "Linearized image", 1, false},
		{"log", ".txt", "INFO", 1, false, "Processing log", 0, false},
		{"silo", ".fits.gz", "AUXILIARY", 2, false, "Spatially resolved image", 0, false},
	},
	"HLA": {
		{"drz", ".fits", "SCIENCE", 3, true, "HLA combined image", 2, false},
		{"daophot", ".cat", "AUXILIARY", 3, false, "DAOPhot source list", 0, true},
		{"preview", ".jpg", "PREVIEW", 3, false, "Preview-Full", 0, true},
		{"wht", ".fits", "AUXILIARY", 3, false, "Weight image", 1, false},
		{"sexphot", ".cat", "AUXILIARY", 3, false, "SExtractor source list", 0, true},
		{"ctx", ".fits", "AUXILIARY", 3, false, "Context image", 0, false},
		{"log", ".txt", "INFO", 3, false, "Processing log", 0, true},
	},
}

func collectionTemplates(coll string) []tmpl {
	if t, ok := templates[coll]; ok {
		return t
	}
	return templates["HST"]
}

// productURI mints the data URI of a file of an observation.
func productURI(coll, lid, filename string) string {
	switch coll {
	case "GALEX":
		return "mast:GALEX/url/data/GR6/pipe/01-vsn/" + lid + "/" + filename
	case "IUE":
		return "mast:IUE/url/pub/iue/" + filename
	case "HLA":
		return "mast:HLA/url/cgi-bin/getdata.cgi?filename=" + filename
	}
	return "mast:" + coll + "/product/" + filename
}

// cloudKey is where the public bucket holds a file, "" for collections that
// are not in the cloud.
func cloudKey(coll, lid, filename string) string {
	switch coll {
	case "HST":
		if len(lid) < 4 {
			return ""
		}
		return "hst/public/" + lid[:4] + "/" + lid + "/" + filename
	case "JWST":
		if len(lid) < 7 {
			return ""
		}
		return "jwst/public/" + lid[:7] + "/" + lid + "/" + filename
	case "TESS":
		sector := "s0000"
		if i := strings.Index(lid, "-s"); i >= 0 && len(lid) >= i+6 {
			sector = lid[i+1 : i+6]
		}
		return "tess/public/tid/" + sector + "/" + lid + "/" + filename
	case "GALEX":
		return "galex/GR6/" + lid + "/" + filename
	}
	return ""
}

func obsRNG(seed int64, i int) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed)^0x70726f6475637473, uint64(i)))
}

// ownProducts synthesises the products observation i owns.
func ownProducts(c *Catalog, i int) []*product {
	n := c.productsPerObs
	if n <= 0 {
		return nil
	}
	coll := str(c.value(i, "obs_collection"))
	lid := strings.ToLower(str(c.value(i, "obs_id")))
	rights := str(c.value(i, "dataRights"))
	if rights == "" {
		rights = rightsPublic
	}
	rng := obsRNG(c.seed, i)
	ts := collectionTemplates(coll)
	out := make([]*product, 0, n+1)
	for k := 0; k < n; k++ {
		t := tmpl{suffix: "x" + zeroPad(strconv.Itoa(k), 2), ext: ".fits", ptype: "AUXILIARY", calib: 1, desc: "Auxiliary file"}
		if k < len(ts) {
			t = ts[k]
		}
		name := lid + "_" + t.suffix + t.ext
		out = append(out, newProduct(c, i, coll, lid, name, productURI(coll, lid, name), t, rights, rng))
	}
	if c.collide != nil && c.collide[i] {
		// Same file name for every observation of the proposal, distinct URIs.
		name := strings.ToLower(coll) + "_" + str(c.value(i, "proposal_id")) + "_summary.txt"
		t := tmpl{ptype: "INFO", calib: 3, desc: "Proposal summary", ext: ".txt"}
		out = append(out, newProduct(c, i, coll, lid, name, "mast:"+coll+"/product/"+lid+"/"+name, t, rights, rng))
	}
	return out
}

func newProduct(c *Catalog, i int, coll, lid, name, uri string, t tmpl, rights string, rng *rand.Rand) *product {
	p := &product{
		owner: i, uri: uri, filename: name, typ: "S", productType: t.ptype,
		subgroup: strings.ToUpper(t.suffix), description: t.desc, calib: t.calib,
		rights: rights, kind: kindOf(name),
	}
	if t.mrp {
		p.group = MRP
	}
	if t.calib == 3 {
		p.typ = "C"
	}
	if coll == "HST" || coll == "JWST" {
		p.prvversion = "1." + strconv.Itoa(rng.IntN(20)) + ".0"
	}
	var lo, hi int
	switch t.scale {
	case 0:
		lo, hi = 2, 40
	case 1:
		lo, hi = 10, 600
	default:
		lo, hi = 200, 3000
	}
	switch p.kind {
	case kindFITS:
		p.length = 2880 * int64(lo+rng.IntN(hi-lo))
	case kindGzipFITS:
		p.length = gzLength(2880 * int64(lo+rng.IntN(hi-lo)))
	case kindJPEG:
		p.length = int64(len(baseJPEG()) + rng.IntN(30000))
	default:
		p.length = int64(200 + rng.IntN(20000))
	}
	p.size = p.length
	if t.dynamic {
		p.size = -1
	}
	if !t.dynamic && rights == rightsPublic && uriSeed(uri)%5 != 0 {
		p.cloudKey = cloudKey(coll, lid, name)
	}
	return p
}

// synthProducts lists observation i: its own products, plus, for every 20th
// observation, the first product of the closest earlier observation of the
// same collection (a shared dataURI, as composite observations have).
func synthProducts(c *Catalog, i int) []listed {
	own := ownProducts(c, i)
	l := make([]listed, 0, len(own)+1)
	for _, p := range own {
		l = append(l, listed{i, p})
	}
	if j := c.shareFrom(i); j >= 0 {
		if prev := ownProducts(c, j); len(prev) > 0 {
			l = append(l, listed{i, prev[0]})
		}
	}
	return l
}

// shareFrom is the observation whose first product observation i also
// lists, or -1.
func (c *Catalog) shareFrom(i int) int {
	if i%20 != 19 {
		return -1
	}
	coll := c.value(i, "obs_collection")
	for j := i - 1; j >= 0 && j >= i-20; j-- {
		if c.value(j, "obs_collection") == coll {
			return j
		}
	}
	return -1
}

// previewURI is the data URI of the first preview product of observation i,
// used as its jpegURL.
func (c *Catalog) previewURI(i int) any {
	coll := str(c.value(i, "obs_collection"))
	lid := strings.ToLower(str(c.value(i, "obs_id")))
	for k, t := range collectionTemplates(coll) {
		if k >= c.productsPerObs {
			break
		}
		if t.ptype == "PREVIEW" {
			return productURI(coll, lid, lid+"_"+t.suffix+t.ext)
		}
	}
	return nil
}
