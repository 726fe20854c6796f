package mastemu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// NowMJD is the emulator's "today" (2025-11-21): observations whose
// t_obs_release is later are still proprietary (EXCLUSIVE_ACCESS).
const NowMJD = 61000.0

// generatedFields is the observation schema of generated catalogs: every
// column of the recorded Mast.Caom.Cone columns config that is not "remove",
// in the order the live archive returns them.
var generatedFields = []Field{
	{"intentType", "string"}, {"obs_collection", "string"}, {"instrument_name", "string"},
	{"project", "string"}, {"filters", "string"}, {"wavelength_region", "string"},
	{"target_name", "string"}, {"target_classification", "string"}, {"obs_id", "string"},
	{"s_ra", "float"}, {"s_dec", "float"}, {"dataproduct_type", "string"},
	{"proposal_pi", "string"}, {"calib_level", "int"}, {"t_min", "float"},
	{"t_max", "float"}, {"t_exptime", "float"}, {"em_min", "float"}, {"em_max", "float"},
	{"obs_title", "string"}, {"t_obs_release", "float"}, {"proposal_id", "string"},
	{"s_region", "string"}, {"jpegURL", "string"}, {"dataURL", "string"},
	{"dataRights", "string"}, {"mtFlag", "boolean"}, {"srcDen", "float"},
	{"obsid", "string"}, {"objID", "string"},
}

type instrument struct {
	name     string
	letter   string // HST dataset prefix
	filters  []string
	dptype   string
	waveband string
	emMin    float64 // nm
	emMax    float64
}

type collection struct {
	name        string
	weight      int
	project     []string
	instruments []instrument
	tMin, tMax  float64 // MJD range of t_min
	propDelay   float64 // days from t_max to t_obs_release
	expMin      float64 // seconds
	expMax      float64
	pctNoProp   int // percent of observations without proposal
}

var collections = []collection{
	{name: "HST", weight: 30, project: []string{"HST"}, tMin: 48500, tMax: 60990, propDelay: 365, expMin: 30, expMax: 3000,
		instruments: []instrument{
			{"ACS/WFC", "j", []string{"F606W", "F814W", "F435W", "F475W;F814W", "F658N"}, "image", "OPTICAL", 400, 900},
			{"ACS/HRC", "j", []string{"F250W", "F330W"}, "image", "UV;OPTICAL", 200, 400},
			{"WFC3/UVIS", "i", []string{"F275W", "F336W", "F555W", "F225W;F336W"}, "image", "UV;OPTICAL", 200, 600},
			{"WFC3/IR", "i", []string{"F160W", "F125W", "F110W;F160W"}, "image", "INFRARED", 900, 1700},
			{"STIS/CCD", "o", []string{"G430L", "G750M", "MIRVIS"}, "spectrum", "OPTICAL", 290, 1030},
			{"COS/FUV", "l", []string{"G130M", "G160M;G130M"}, "spectrum", "UV", 90, 180},
			{"WFPC2/WFC", "u", []string{"F814W", "F606W", "F555W;F814W"}, "image", "OPTICAL", 500, 900},
		}},
	{name: "JWST", weight: 15, project: []string{"JWST"}, tMin: 59750, tMax: 60990, propDelay: 365, expMin: 100, expMax: 5000,
		instruments: []instrument{
			{"NIRCAM/IMAGE", "", []string{"F200W", "F444W", "F150W;F444W", "CLEAR;F277W"}, "image", "INFRARED", 1700, 5000},
			{"NIRSPEC/MSA", "", []string{"F170LP;G235M", "CLEAR;PRISM", "F290LP;G395M"}, "spectrum", "INFRARED", 600, 5300},
			{"MIRI/IMAGE", "", []string{"F770W", "F1500W", "F560W;F770W"}, "image", "INFRARED", 5000, 17000},
			{"NIRISS/SOSS", "", []string{"CLEAR;GR700XD"}, "timeseries", "INFRARED", 600, 2800},
		}},
	{name: "TESS", weight: 15, project: []string{"TESS"}, tMin: 58325, tMax: 60950, propDelay: 30, expMin: 1200, expMax: 2400000, pctNoProp: 30,
		instruments: []instrument{
			{"Photometer", "", []string{"TESS"}, "timeseries", "OPTICAL", 600, 1000},
		}},
	{name: "GALEX", weight: 12, project: []string{"AIS", "MIS", "DIS", "GI", "NGA"}, tMin: 52750, tMax: 56000, propDelay: 700, expMin: 80, expMax: 30000, pctNoProp: 60,
		instruments: []instrument{
			{"GALEX", "", []string{"NUV", "FUV"}, "image", "UV", 134, 283},
		}},
	{name: "IUE", weight: 8, project: []string{"IUE"}, tMin: 43600, tMax: 50350, propDelay: 180, expMin: 10, expMax: 20000,
		instruments: []instrument{
			{"SWP", "swp", []string{"LOW DISP", "HIGH DISP"}, "spectrum", "UV", 115, 200},
			{"LWP", "lwp", []string{"LOW DISP", "HIGH DISP"}, "spectrum", "UV", 185, 335},
			{"LWR", "lwr", []string{"LOW DISP"}, "spectrum", "UV", 185, 335},
		}},
	{name: "HLA", weight: 20, project: []string{"HLA"}, tMin: 49000, tMax: 60500, propDelay: 400, expMin: 100, expMax: 5000,
		instruments: []instrument{
			{"ACS/WFC", "", []string{"F606W", "F814W", "DETECTION"}, "image", "OPTICAL", 400, 900},
			{"WFC3/UVIS", "", []string{"F336W", "F555W", "DETECTION"}, "image", "OPTICAL", 200, 600},
			{"WFPC2/PC", "", []string{"F555W", "F814W"}, "image", "OPTICAL", 500, 900},
		}},
}

var (
	piNames = []string{"Osten", "Griffiths", "Groth", "Riess", "Dalcanton", "Freedman", "Kirshner",
		"Rieke", "Ricker", "Martin", "Bianchi", "Seager", "Bouwens", "Illingworth", "Madau",
		"Filippenko", "Kalirai", "Sahu", "Treu", "Dressel", "Lucas", "Rigby", "Chander", "Chu", "Malkin"}
	titleWords = []string{"Age-dating", "Star Clusters", "Dwarf Galaxies", "Exoplanet Atmospheres",
		"Supernova Remnants", "the Local Group", "High-redshift Quasars", "Cepheid Distances",
		"Protoplanetary Disks", "Cool Stars", "Stellar Flares", "Galaxy Mergers", "White Dwarfs",
		"the Magellanic Clouds", "Dark Matter Halos", "Globular Clusters"}
	classes = []string{"GALAXY;SPIRAL", "STAR;M V-IV", "STAR CLUSTER;GLOBULAR CLUSTER",
		"NEBULA;SUPERNOVA REMNANT", "ACTIVE GALAXIES;GALAXIES;STARS", "STAR;EXOPLANET HOST",
		"GALAXY;ELLIPTICAL", "ISM;HII REGION"}
)

// target is a named position observations cluster around; the resolver knows it.
type target struct {
	name    string
	ra, dec float64
	class   string
}

type proposal struct {
	id, pi, title, code string
	n                   int
}

// Generate builds a deterministic synthetic catalog of nObs observations with
// about productsPerObs products each (see the package documentation for the
// mix). The same arguments always give the same catalog, byte for byte.
// Products are synthesised lazily, so Generate(1, 100000, 10) takes well under
// a second and lists 10^6 products only when asked.
func Generate(seed int64, nObs, productsPerObs int) *Catalog {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6d617374656d75))
	c := &Catalog{fields: generatedFields, seed: seed, productsPerObs: productsPerObs, synth: synthProducts}

	// Targets: the recorded resolver's objects first (so M101, M8 etc.
	// resolve to generated observations too), then generated names.
	var targets []target
	c.names = recordedNames()
	for _, r := range c.names {
		if r.resolver == "SIMBAD" {
			targets = append(targets, target{r.canonical, r.ra, r.dec, classes[len(targets)%len(classes)]})
		}
	}
	nRecorded := len(targets)
	nTargets := max(8, nObs/40)
	prefixes := []string{"NGC", "HD", "IC", "UGC", "ESO", "PGC"}
	for k := 0; len(targets) < nTargets; k++ {
		name := fmt.Sprintf("%s %d", prefixes[k%len(prefixes)], 100+k*7+rng.IntN(7))
		ra := rng.Float64() * 360
		dec := math.Asin(2*rng.Float64()-1) * 180 / math.Pi
		targets = append(targets, target{name, round(ra, 6), round(dec, 6), classes[rng.IntN(len(classes))]})
	}
	for _, t := range targets[nRecorded:] {
		c.names = append(c.names, resolved{search: strings.ToLower(t.name), resolver: "SIMBAD",
			canonical: t.name, ra: t.ra, dec: t.dec, objectType: "G"})
	}

	// Proposals per collection; popularity is skewed so one is clearly busiest.
	props := make([][]*proposal, len(collections))
	totalW := 0
	for _, col := range collections {
		totalW += col.weight
	}
	usedIDs := map[string]bool{}
	for ci, col := range collections {
		n := max(2, nObs*col.weight/totalW/30)
		for k := 0; k < n; k++ {
			var id string
			for tries := 0; id == "" || usedIDs[id]; tries++ {
				if tries >= 64 {
					// The collection's ID space is used up (very large
					// catalogs): number on past it, still unique.
					id = strconv.Itoa(100000 + len(usedIDs) + tries)
					continue
				}
				switch col.name {
				case "JWST":
					id = strconv.Itoa(1000 + rng.IntN(8000))
				case "TESS":
					id = fmt.Sprintf("G0%d%03d", 1+rng.IntN(7), rng.IntN(1000))
				case "GALEX":
					id = strconv.Itoa(1 + rng.IntN(999))
				case "IUE":
					id = fmt.Sprintf("%c%c%03d", 'A'+rune(rng.IntN(26)), 'A'+rune(rng.IntN(26)), rng.IntN(1000))
				default:
					id = strconv.Itoa(5000 + rng.IntN(12000))
				}
			}
			usedIDs[id] = true
			p := &proposal{id: id, pi: piNames[rng.IntN(len(piNames))],
				title: titleWords[rng.IntN(len(titleWords))] + " in " + titleWords[rng.IntN(len(titleWords))],
				code:  base36(len(props[ci])+46*ci+37, 3)}
			props[ci] = append(props[ci], p)
		}
	}

	nCols := len(generatedFields)
	backing := make([]any, nObs*nCols)
	c.rows = make([][]any, nObs)
	seen := make(map[string]bool, nObs)
	c.collide = make([]bool, nObs)
	for i := 0; i < nObs; i++ {
		row := backing[i*nCols : (i+1)*nCols : (i+1)*nCols]
		c.rows[i] = row
		ci := pickWeighted(rng, totalW)
		col := &collections[ci]
		inst := col.instruments[rng.IntN(len(col.instruments))]
		prop := props[ci][skewed(rng, len(props[ci]))]
		seq := prop.n
		prop.n++
		t := targets[skewed(rng, len(targets))]
		ra := math.Mod(t.ra+(rng.Float64()-0.5)*0.1/math.Max(0.05, math.Cos(t.dec*math.Pi/180))+360, 360)
		dec := math.Max(-90, math.Min(90, t.dec+(rng.Float64()-0.5)*0.1))
		filt := inst.filters[rng.IntN(len(inst.filters))]
		exp := round(col.expMin*math.Pow(col.expMax/col.expMin, rng.Float64()), 3)
		tmin := round(col.tMin+rng.Float64()*(col.tMax-col.tMin), 5)
		tmax := round(tmin+exp/86400+rng.Float64()*0.01, 5)
		release := round(tmax+col.propDelay*(0.5+rng.Float64()), 5)
		if i%50 == 7 && (col.name == "HST" || col.name == "JWST") {
			release = NowMJD + 10 + float64(i%300) // guaranteed proprietary data
		}
		rights := rightsPublic
		if release > NowMJD {
			rights = rightsExclusive
		}
		propID, pi, title := any(prop.id), any(prop.pi), any(prop.title)
		if rng.IntN(100) < col.pctNoProp {
			propID, pi, title = nil, nil, nil
		}
		targetName := strings.ToUpper(strings.ReplaceAll(t.name, " ", ""))
		var obsID string
		low := strings.ToLower(strings.ReplaceAll(inst.name, "/", "_"))
		switch col.name {
		case "HST":
			obsID = strings.ToUpper(inst.letter + prop.code + base36(seq, 4) + "Q")
		case "JWST":
			obsID = fmt.Sprintf("jw%s-o%03d_t%03d_%s_%s", zeroPad(prop.id, 5), seq+1, 1+seq%9,
				strings.ToLower(strings.SplitN(inst.name, "/", 2)[0]), strings.ToLower(strings.ReplaceAll(filt, ";", "-")))
		case "TESS":
			tic := 10000000 + i*37 + rng.IntN(37)
			targetName = strconv.Itoa(tic)
			sector := 1 + int((tmin-58325)/27.4)
			obsID = fmt.Sprintf("tess2018%09d-s%04d-%016d-0%03d-s", 206045859+i, sector, tic, 120+sector%60)
		case "GALEX":
			obsID = strconv.FormatUint(6370000000000000000+uint64(i)*1000003, 10)
			targetName = fmt.Sprintf("%s_%d_%04d", col.project[rng.IntN(len(col.project))], 1+i%300, i)
		case "IUE":
			obsID = fmt.Sprintf("%s%05d", inst.letter, 10000+i)
		case "HLA":
			obsID = fmt.Sprintf("hst_%s_%s_%s_%s", zeroPad(prop.id, 5), base36(seq, 2), low, strings.ToLower(filt))
		}
		c.collide[i] = seq < 2 && propID != nil && (col.name == "HST" || col.name == "JWST")
		for seen[strings.ToLower(obsID)] {
			obsID += "x"
		}
		seen[strings.ToLower(obsID)] = true
		project := col.project[0]
		if col.name == "GALEX" {
			project = strings.SplitN(targetName, "_", 2)[0]
		}
		calib := int64(1 + rng.IntN(3))
		if col.name == "HLA" {
			calib = 3
		}
		var region string
		if rng.IntN(2) == 0 {
			region = fmt.Sprintf("CIRCLE ICRS %.8f %.8f %.4f", ra, dec, 0.01+rng.Float64()*0.6)
		} else {
			d := 0.02 + rng.Float64()*0.05
			region = fmt.Sprintf("POLYGON ICRS %.8f %.8f %.8f %.8f %.8f %.8f %.8f %.8f", ra-d, dec-d, ra+d, dec-d, ra+d, dec+d, ra-d, dec+d)
		}
		intent := "science"
		if rng.IntN(25) == 0 {
			intent = "calibration"
		}
		var srcDen any
		if rng.IntN(3) == 0 {
			srcDen = round(rng.Float64()*5000, 3)
		}
		copy(row, []any{
			intent, col.name, inst.name, project, filt, inst.waveband,
			targetName, t.class, obsID,
			round(ra, 8), round(dec, 8), inst.dptype,
			pi, calib, tmin,
			tmax, exp, inst.emMin, inst.emMax,
			title, release, propID,
			region, nil, nil,
			rights, col.name == "TESS" && rng.IntN(10) == 0, srcDen,
			int64(100000000 + i), int64(200000000 + i),
		})
	}
	c.index()
	jp := c.col("jpegURL")
	for i := range c.rows {
		c.rows[i][jp] = c.previewURI(i)
	}
	return c
}

func pickWeighted(rng *rand.Rand, total int) int {
	n := rng.IntN(total)
	for i, col := range collections {
		if n < col.weight {
			return i
		}
		n -= col.weight
	}
	return 0
}

// skewed picks an index in [0,n) with low indices much more likely.
func skewed(rng *rand.Rand, n int) int {
	u := rng.Float64()
	return min(n-1, int(float64(n)*u*u*u))
}

func zeroPad(s string, width int) string {
	for len(s) < width {
		s = "0" + s
	}
	return s
}

func base36(n, width int) string {
	return zeroPad(strconv.FormatInt(int64(n), 36), width)
}

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}
