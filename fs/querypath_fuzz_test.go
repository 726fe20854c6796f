package fs

import (
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// Seeds shared by the fuzz targets; testdata/fuzz/ holds more, including
// every input that once failed.
var segmentSeeds = []string{
	"obs_collection=HST", "Instrument_Name=ACS%2FWFC", "filters=NUV,FUV", "proposal_pi=*Ost*",
	"target_name=a%2Cb,c%25,d*", "s_dec=43.5..45.5", "t_min=2020-01-01..2020-02-01T10:00:00",
	"objectname=M 101", "object_name=NGC%2F1", "coordinates=21:29:58.38 +12:10:00.6",
	"coordinates=322.49324,12.16683", "radius=5arcmin", `radius=30"`, "resolver=simbad",
	"@mrp", "@extension=fits,FITS.gz", "@productType=SCIENCE,!PREVIEW", "@size=>=1,<=2,1..3,!4",
	"@productFilename=a%2Cb,50%", "a=%", "a=1...2", "a=x,,y", "@", "..", "a=\xff",
}

func FuzzParseSegment(f *testing.F) {
	for _, s := range segmentSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, seg string) {
		got, err := parseQuerySegment(seg)
		if err != nil {
			if _, ok := err.(*SegmentError); !ok {
				t.Fatalf("error %T is not a *SegmentError", err)
			}
			return
		}
		// Whatever one segment says is accepted on its own under criteria/.
		if _, err := mustQueryPath(t, "criteria").With(seg); err != nil {
			t.Fatalf("parsed but With failed: %v", err)
		}
		var again string
		switch got.kind {
		case segmentCriterion:
			checkCriterionSegment(t, seg, got)
			again = strings.ToLower(got.criterion.Name) + "=" + criterionValuesKey(got.criterion.Values)
		case segmentFilter:
			checkFilterSegment(t, seg, got)
			again = productFilterKey(got.filter)
		case segmentObject:
			if strings.TrimSpace(got.text) == "" {
				t.Fatalf("empty object name from %q", seg)
			}
			again = "objectname=" + escapeKeyText(got.text)
		case segmentCoordinates:
			again = "coordinates=" + formatPosition(got.ra, got.dec)
		case segmentRadius:
			again = "radius=" + formatDegrees(got.radius)
		case segmentResolver:
			if got.text != "NED" && got.text != "SIMBAD" {
				t.Fatalf("resolver %q", got.text)
			}
			again = "resolver=" + got.text
		default:
			t.Fatalf("no kind for %q", seg)
		}
		// The canonical spelling reads back as the same segment.
		back, err := parseQuerySegment(again)
		if err != nil {
			t.Fatalf("canonical %q of %q does not parse: %v", again, seg, err)
		}
		back.criterion.Name = got.criterion.Name
		if !reflect.DeepEqual(back, got) {
			t.Fatalf("%q -> %+v, canonical %q -> %+v", seg, got, again, back)
		}
	})
}

func checkCriterionSegment(t *testing.T, seg string, got querySegment) {
	name, value, _ := strings.Cut(seg, "=")
	if got.criterion.Name != name {
		t.Fatalf("name %q, want the user's spelling %q", got.criterion.Name, name)
	}
	items := strings.Split(value, ",")
	// Commas split before escapes are decoded: one Value per raw item.
	if len(got.criterion.Values) != len(items) {
		t.Fatalf("%q gave %d values for %d items", seg, len(got.criterion.Values), len(items))
	}
	wildcards := 0
	for i, v := range got.criterion.Values {
		switch {
		case v.IsRange:
			if v.Text != "" || v.Wildcard || v.Lo == "" || v.Hi == "" || v.Lo+".."+v.Hi != items[i] {
				t.Fatalf("bad range %+v from %q", v, items[i])
			}
		case v.Wildcard:
			wildcards++
			if !strings.Contains(v.Text, "%") || strings.Contains(v.Text, "*") {
				t.Fatalf("wildcard %q from %q is not in LIKE form", v.Text, items[i])
			}
		default:
			if v.Text == "" || strings.ContainsAny(items[i], "*") {
				t.Fatalf("literal %q from %q", v.Text, items[i])
			}
			if strings.Count(v.Text, ",") != strings.Count(strings.ToUpper(items[i]), "%2C") {
				t.Fatalf("literal %q from %q has a comma that was not %%2C", v.Text, items[i])
			}
		}
	}
	if wildcards > 1 {
		t.Fatalf("%q: %d wildcards", seg, wildcards)
	}
}

func checkFilterSegment(t *testing.T, seg string, got querySegment) {
	f := got.filter
	if f.MRPOnly {
		if !strings.EqualFold(seg, "@mrp") {
			t.Fatalf("%q read as @mrp", seg)
		}
		return
	}
	_, value, _ := strings.Cut(seg, "=")
	vals := f.Values
	if len(f.Extensions) > 0 {
		vals = f.Extensions
	}
	if len(vals) != strings.Count(value, ",")+1 {
		t.Fatalf("%q gave %d values", seg, len(vals))
	}
	for _, v := range vals {
		if strings.TrimSpace(strings.TrimPrefix(v, "!")) == "" {
			t.Fatalf("%q gave the empty value %q", seg, v)
		}
	}
}

func FuzzParsePosition(f *testing.F) {
	for _, s := range []string{"322.49324 12.16683", "322.49324,12.16683", "21:29:58.38 +12:10:00.6",
		"21h29m58.38s +12d10m00.6s", "21 29 58.38 +12 10 00.6", "0:00:00 -00:30:00", "359.9999999999999 -90",
		"1e-05 .5", "23:59:59.9999999999 0", "12h 89d59'59.99\"", "1,2,3", "360 0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ra, dec, err := ParsePosition(s)
		if err != nil {
			return
		}
		if math.IsNaN(ra) || math.IsNaN(dec) || ra < 0 || ra >= 360 || dec < -90 || dec > 90 {
			t.Fatalf("ParsePosition(%q) = %v, %v out of range", s, ra, dec)
		}
		// The canonical form (what Key writes) reads back exactly.
		text := formatPosition(ra, dec)
		ra2, dec2, err := ParsePosition(text)
		if err != nil || ra2 != ra || dec2 != dec {
			t.Fatalf("%q -> %v %v -> %q -> %v %v %v", s, ra, dec, text, ra2, dec2, err)
		}
	})
}

func FuzzParseRadius(f *testing.F) {
	for _, s := range []string{"0.1deg", "0.1 deg", "5arcmin", "120arcsec", "0.5d", "2'", `30"`, "0.2",
		".02 deg", "1e-3", "30", "30.0000001", "0", "-1", "1e-320", "5 ARCSEC"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRadius(s)
		if err != nil {
			return
		}
		if !(r > 0) || r > MaxRadiusDeg {
			t.Fatalf("ParseRadius(%q) = %v out of range", s, r)
		}
		text := formatDegrees(r)
		r2, err := ParseRadius(text)
		if err != nil || r2 != r {
			t.Fatalf("%q -> %v -> %q -> %v %v", s, r, text, r2, err)
		}
	})
}

var fuzzKinds = []Kind{KindCriteria, KindRegion, KindObject, KindMissions, KindObsid}

// FuzzSpecWith applies a random "/"-separated sequence of segments to a
// root. Segments that fail are skipped; for the ones accepted:
//   - With never changes its receiver;
//   - the same segments in reverse or rotated order are all accepted and
//     give the same Key, QueryKey and Runnable outcome;
//   - Key is a path that ParseQueryPath reads back to the same Key.
func FuzzSpecWith(f *testing.F) {
	f.Add(uint8(0), "", "b=2/a=1/@mrp/A=3/objectname=M101/radius=1/coordinates=1 2")
	f.Add(uint8(1), "322.49324,12.16683", "filters=NUV,FUV/radius=5arcmin/@size=<5/@extension=fits")
	f.Add(uint8(2), "M 101", "resolver=NED/t_min=2020-01-01..2020-02-01/@productType=SCIENCE,!PREVIEW")
	f.Add(uint8(3), "HST,JWST", "obs_collection=K2/instrument_name=ACS%2FWFC/target_name=*a%2Cb*")
	f.Add(uint8(4), "2003738726,3000007760", "@mrp/@calib_level=<=2/a=1/@MRP")
	f.Add(uint8(0), "", "objectname=NGC%2F1/x=1/@a=%2C,%25,%")
	f.Fuzz(func(t *testing.T, kindByte uint8, anchor, path string) {
		kind := fuzzKinds[int(kindByte)%len(fuzzKinds)]
		if kind == KindCriteria {
			anchor = ""
		}
		root, err := RootSpec(kind, anchor)
		if err != nil {
			return
		}
		segs := strings.Split(path, "/")
		if len(segs) > 12 {
			segs = segs[:12]
		}
		spec, accepted := root, []string(nil)
		chain, chainKeys := []QuerySpec{root}, []string{root.Key()}
		for _, seg := range segs {
			before := spec.Key()
			next, err := spec.With(seg)
			if spec.Key() != before {
				t.Fatalf("With(%q) changed its receiver: %q -> %q", seg, before, spec.Key())
			}
			if err != nil {
				continue
			}
			spec, accepted = next, append(accepted, seg)
			chain, chainKeys = append(chain, next), append(chainKeys, next.Key())
		}
		for i, s := range chain {
			if s.Key() != chainKeys[i] {
				t.Fatalf("a later With changed an earlier spec: %q -> %q", chainKeys[i], s.Key())
			}
		}

		orders := [][]string{slices.Clone(accepted)}
		slices.Reverse(orders[0])
		if len(accepted) > 1 {
			orders = append(orders, append(slices.Clone(accepted[1:]), accepted[0]))
		}
		for _, order := range orders {
			other := root
			for _, seg := range order {
				if other, err = other.With(seg); err != nil {
					t.Fatalf("%q accepted in order %q but not in %q: %v", seg, accepted, order, err)
				}
			}
			if other.Key() != spec.Key() || other.QueryKey() != spec.QueryKey() {
				t.Fatalf("order changes the key: %q -> %q, %q -> %q", accepted, spec.Key(), order, other.Key())
			}
			if (other.Runnable() == nil) != (spec.Runnable() == nil) {
				t.Fatalf("order changes Runnable: %v vs %v", spec.Runnable(), other.Runnable())
			}
		}

		back, err := ParseQueryPath(spec.Key())
		if err != nil {
			t.Fatalf("Key %q does not parse: %v", spec.Key(), err)
		}
		if back.Key() != spec.Key() || back.QueryKey() != spec.QueryKey() {
			t.Fatalf("Key %q reads back as %q", spec.Key(), back.Key())
		}
		if (back.Runnable() == nil) != (spec.Runnable() == nil) {
			t.Fatalf("Key %q: Runnable %v, read back %v", spec.Key(), spec.Runnable(), back.Runnable())
		}
		if !strings.HasPrefix(spec.Key(), spec.QueryKey()) {
			t.Fatalf("QueryKey %q is not a prefix of Key %q", spec.QueryKey(), spec.Key())
		}
	})
}
