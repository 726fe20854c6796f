package fs

import (
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mastfs/mastfs/mast"
)

func mustQueryPath(t *testing.T, p string) QuerySpec {
	t.Helper()
	s, err := ParseQueryPath(p)
	if err != nil {
		t.Fatalf("ParseQueryPath(%q): %v", p, err)
	}
	return s
}

func closeTo(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestParsePosition(t *testing.T) {
	const ra, dec = (21 + 29.0/60 + 58.38/3600) * 15, 12 + 10.0/60 + 0.6/3600
	good := []struct {
		in           string
		wantRA, want float64
	}{
		{"322.49324 12.16683", 322.49324, 12.16683},
		{"322.49324,12.16683", 322.49324, 12.16683},
		{" 322.49324 ,  12.16683 ", 322.49324, 12.16683},
		{"322.49324\t-12.16683", 322.49324, -12.16683},
		{"21:29:58.38 +12:10:00.6", ra, dec},
		{"21h29m58.38s +12d10m00.6s", ra, dec},
		{"21H29M58.38S +12D10M00.6S", ra, dec},
		{"21h29m58.38 12°10'00.6\"", ra, dec},
		{"21 29 58.38 +12 10 00.6", ra, dec},
		{"21:29:58.38, +12:10:00.6", ra, dec},
		{"21 29 58.38, +12 10 00.6", ra, dec},
		{"21:29:58.38 -12:10:00.6", ra, -dec},
		{"0:00:00 -00:30:00", 0, -0.5}, // the sign covers a zero degree field
		{"21h30m 12d", 322.5, 12},
		{"21:30 -12:30", 322.5, -12.5},
		{"1.5h 0", 22.5, 0},
		{"0 -90", 0, -90},
		{"359.999 90", 359.999, 90},
		{"1e-05 +.5", 1e-05, 0.5},
		{"23:59:59.999 0", (23 + 59.0/60 + 59.999/3600) * 15, 0},
	}
	for _, tc := range good {
		gotRA, gotDec, err := ParsePosition(tc.in)
		if err != nil || !closeTo(gotRA, tc.wantRA) || !closeTo(gotDec, tc.want) {
			t.Errorf("ParsePosition(%q) = %v, %v, %v; want %v, %v", tc.in, gotRA, gotDec, err, tc.wantRA, tc.want)
		}
	}
	bad := []string{
		"", " ", "322.49324", "322.49324 12 1", "1,2,3", ",", "1,", ",2",
		"360 0", "-1 0", "10 91", "10 -90.0001", "24:00:00 0", "10:60:00 0", "10:00:60 0",
		"a b", "nan 0", "0 nan", "inf 0", "0x10 0", "1_0 0", "10.5:30:00 0", "10 20 30",
		"+21:29:58 0", "-21:29:58 0", "10 91:00:00", "10 90:00:01", "10 +-5", "10 12d10m00.6x",
		"21h29m58.38s+12d10m00.6s", "21:29:58.38 +12:10:00.6 x", "1e999 0", "10 12d-5m",
	}
	for _, in := range bad {
		if ra, dec, err := ParsePosition(in); err == nil {
			t.Errorf("ParsePosition(%q) = %v, %v; want an error", in, ra, dec)
		}
	}
}

func TestParseRadius(t *testing.T) {
	good := []struct {
		in   string
		want float64
	}{
		{"0.1deg", 0.1}, {"0.1 deg", 0.1}, {"0.5 Deg", 0.5}, {"30 degrees", 30}, {"0.5d", 0.5}, {"1°", 1},
		{"5arcmin", 5.0 / 60}, {"5 ARCMIN", 5.0 / 60}, {"2'", 2.0 / 60}, {"3amin", 3.0 / 60},
		{"120arcsec", 120.0 / 3600}, {`30"`, 30.0 / 3600}, {"7 asec", 7.0 / 3600},
		{"0.2", 0.2}, {".02 deg", 0.02}, {"1e-3", 0.001}, {"30", 30}, {"+1", 1}, {" 2 ", 2},
	}
	for _, tc := range good {
		got, err := ParseRadius(tc.in)
		if err != nil || !closeTo(got, tc.want) {
			t.Errorf("ParseRadius(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	bad := []string{"", "deg", "0", "0deg", "-1", "-0.1deg", "30.0001", "31", "1801arcmin", "5 parsec",
		"abc", "nan", "inf", "1e", "0x1p-2", "1..2", "1 2", "5m", "1e-400"}
	for _, in := range bad {
		if got, err := ParseRadius(in); err == nil {
			t.Errorf("ParseRadius(%q) = %v; want an error", in, got)
		}
	}
}

func TestParseObsids(t *testing.T) {
	good := []struct {
		in   string
		want []string
	}{
		{"2003738726", []string{"2003738726"}},
		{"2003738726,3000007760", []string{"2003738726", "3000007760"}},
		{"3,1,3,2,1", []string{"3", "1", "2"}},
		{" 1 , 2 ", []string{"1", "2"}},
		{"0", []string{"0"}},
		{"9223372036854775807", []string{"9223372036854775807"}},
	}
	for _, tc := range good {
		got, err := ParseObsids(tc.in)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseObsids(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	bad := []string{"", " ", ",", "1,", ",1", "1,,2", "abc", "U9O40504M", "00031992001", "-1", "+1",
		"1.5", "1e3", "9223372036854775808", "1 2"}
	for _, in := range bad {
		if got, err := ParseObsids(in); err == nil {
			t.Errorf("ParseObsids(%q) = %v; want an error", in, got)
		}
	}
}

func TestCriterionSegments(t *testing.T) {
	lit := func(s string) mast.Value { return mast.Value{Text: s} }
	wild := func(s string) mast.Value { return mast.Value{Text: s, Wildcard: true} }
	rng := func(lo, hi string) mast.Value { return mast.Value{IsRange: true, Lo: lo, Hi: hi} }
	good := []struct {
		seg  string
		want mast.Criterion
	}{
		{"obs_collection=HST", mast.Criterion{Name: "obs_collection", Values: []mast.Value{lit("HST")}}},
		{"Instrument_Name=ACS%2FWFC", mast.Criterion{Name: "Instrument_Name", Values: []mast.Value{lit("ACS/WFC")}}},
		{"instrument_name=acs%2fwfc", mast.Criterion{Name: "instrument_name", Values: []mast.Value{lit("acs/wfc")}}},
		{"filters=NUV,FUV", mast.Criterion{Name: "filters", Values: []mast.Value{lit("NUV"), lit("FUV")}}},
		{"target_name=a%2Cb", mast.Criterion{Name: "target_name", Values: []mast.Value{lit("a,b")}}},
		{"target_name=a%2cb,c", mast.Criterion{Name: "target_name", Values: []mast.Value{lit("a,b"), lit("c")}}},
		{"target_name=50%25", mast.Criterion{Name: "target_name", Values: []mast.Value{lit("50%")}}},
		{"target_name=M 101", mast.Criterion{Name: "target_name", Values: []mast.Value{lit("M 101")}}},
		{"target_name=a=b", mast.Criterion{Name: "target_name", Values: []mast.Value{lit("a=b")}}},
		{"proposal_pi=Ost*", mast.Criterion{Name: "proposal_pi", Values: []mast.Value{wild("Ost%")}}},
		{"proposal_pi=*Ost*", mast.Criterion{Name: "proposal_pi", Values: []mast.Value{wild("%Ost%")}}},
		{"target_name=M%", mast.Criterion{Name: "target_name", Values: []mast.Value{wild("M%")}}},
		{"target_name=%2", mast.Criterion{Name: "target_name", Values: []mast.Value{wild("%2")}}},
		{"target_name=%41", mast.Criterion{Name: "target_name", Values: []mast.Value{wild("%41")}}},
		{"instrument_name=ACS%2F*", mast.Criterion{Name: "instrument_name", Values: []mast.Value{wild("ACS/%")}}},
		{"target_name=a*,b", mast.Criterion{Name: "target_name", Values: []mast.Value{wild("a%"), lit("b")}}},
		{"s_dec=43.5..45.5", mast.Criterion{Name: "s_dec", Values: []mast.Value{rng("43.5", "45.5")}}},
		{"s_dec=-10..-5.", mast.Criterion{Name: "s_dec", Values: []mast.Value{rng("-10", "-5.")}}},
		{"s_dec=1..1", mast.Criterion{Name: "s_dec", Values: []mast.Value{rng("1", "1")}}},
		{"t_min=51361..51362", mast.Criterion{Name: "t_min", Values: []mast.Value{rng("51361", "51362")}}},
		{"t_min=2020-01-01..2020-02-01", mast.Criterion{Name: "t_min", Values: []mast.Value{rng("2020-01-01", "2020-02-01")}}},
		{"t_min=2020-01-01T10:00:00..2020-01-01T11:00:00.5", mast.Criterion{Name: "t_min",
			Values: []mast.Value{rng("2020-01-01T10:00:00", "2020-01-01T11:00:00.5")}}},
		{"t_min=2020-01-01 10:00..2020-01-01T10:00:00.5Z", mast.Criterion{Name: "t_min",
			Values: []mast.Value{rng("2020-01-01 10:00", "2020-01-01T10:00:00.5Z")}}},
		{"t_min=1..2,5..6", mast.Criterion{Name: "t_min", Values: []mast.Value{rng("1", "2"), rng("5", "6")}}},
		{"_x1=1", mast.Criterion{Name: "_x1", Values: []mast.Value{lit("1")}}},
	}
	for _, tc := range good {
		s, err := mustQueryPath(t, "criteria").With(tc.seg)
		if err != nil {
			t.Errorf("With(%q): %v", tc.seg, err)
			continue
		}
		if got := s.Criteria(); len(got) != 1 || !reflect.DeepEqual(got[0], tc.want) {
			t.Errorf("With(%q) criteria = %+v, want %+v", tc.seg, got, tc.want)
		}
	}
}

func TestBadSegments(t *testing.T) {
	bad := []string{
		"", ".", "..", "a", "=x", "a=", "a= ", "a b=1", "1a=2", "a-b=1", "a.b=1", "é=1",
		"a=x,,y", "a=x,", "a=,x", "a= ,x",
		"a=*x,y*", "a=x%,%y", // two wildcards
		"a=1..2,3", "a=x*,1..2", // a range mixed with other values
		"a=1..", "a=..2", "a=1...2", "a=1..2..3", "a=2..1", "a=x..y", "a=1..2020-01-01",
		"a=2020-13-01..2020-12-01", "a=2020-01-01T10..2020-01-02", "a=2020-1-1..2020-1-2", "a=2020-01-01ZZ..2020-01-02",
		"a=2020-01-01T24:00..2020-01-02", "a=2020-02-01..2020-01-01", "a=nan..1", "a=inf..1", "a=1..1e999",
		"a=0x1..2", "a=1 ..2",
		"a=50%25*", "a=*%25", // a literal % cannot sit next to a wildcard
		"a=x\x00", "a=\n", "a=x\ty", "a=\xff", "a=x/y",
		"objectname= ", "object_name=", "coordinates=1000 0", "coordinates=M101", "radius=0", "radius=5 parsec",
		"resolver=CDS", "resolver=", "resolver=ned,simbad",
		"@", "@mrp=1", "@mrp=", "@=x", "@size", "@size=", "@size=1,,2", "@size=!", "@size=1,!", "@size= ",
		"@extension=!fits", "@extension=", "@bad col=1", "@a-b=1", "@@mrp", "@1a=2",
	}
	for _, seg := range bad {
		s, err := mustQueryPath(t, "criteria").With(seg)
		var se *SegmentError
		if !errors.As(err, &se) {
			t.Errorf("With(%q) = %v, %v; want a *SegmentError", seg, s.Key(), err)
			continue
		}
		if se.Segment != seg || se.Reason == "" || !strings.Contains(err.Error(), se.Reason) {
			t.Errorf("With(%q): error %+v does not name the segment and reason", seg, se)
		}
	}
}

func TestPositionalSegments(t *testing.T) {
	s := mustQueryPath(t, "criteria/Object_Name=M 101/radius=5arcmin/resolver=ned")
	if name, resolver, ok := s.ObjectName(); name != "M 101" || resolver != "NED" || !ok {
		t.Errorf("ObjectName() = %q, %q, %v", name, resolver, ok)
	}
	if !closeTo(s.RadiusDeg(), 5.0/60) || !s.HasPosition() {
		t.Errorf("RadiusDeg() = %v, HasPosition() = %v", s.RadiusDeg(), s.HasPosition())
	}
	if _, _, ok := s.Coordinates(); ok {
		t.Errorf("Coordinates() set without coordinates=")
	}

	s = mustQueryPath(t, "criteria/objectname=NGC%2F1%2C2%25/filters=NUV")
	if name, _, _ := s.ObjectName(); name != "NGC/1,2%" {
		t.Errorf("escaped object name = %q", name)
	}
	// No wildcards in a name: SIMBAD names may start with "*".
	s = mustQueryPath(t, "object/* alf Cen")
	if name, _, _ := s.ObjectName(); name != "* alf Cen" {
		t.Errorf("object/* alf Cen name = %q", name)
	}

	s = mustQueryPath(t, "criteria/coordinates=322.49324,12.16683/intentType=science")
	if ra, dec, ok := s.Coordinates(); ra != 322.49324 || dec != 12.16683 || !ok {
		t.Errorf("Coordinates() = %v, %v, %v", ra, dec, ok)
	}
	if s.RadiusDeg() != DefaultRadiusDeg {
		t.Errorf("default RadiusDeg() = %v", s.RadiusDeg())
	}
	s = mustQueryPath(t, "region/21:29:58.38 +12:10:00.6")
	if ra, dec, ok := s.Coordinates(); !closeTo(ra, 322.49325) || !closeTo(dec, 12+10.0/60+0.6/3600) || !ok {
		t.Errorf("region Coordinates() = %v, %v, %v", ra, dec, ok)
	}
}

func TestProductFilterSegments(t *testing.T) {
	tests := []struct {
		path string
		want []mast.ProductFilter
	}{
		{"obsid/1/@mrp", []mast.ProductFilter{{MRPOnly: true}}},
		{"obsid/1/@MRP", []mast.ProductFilter{{MRPOnly: true}}},
		{"obsid/1/@extension=fits,FITS.gz", []mast.ProductFilter{{Extensions: []string{"fits", "fits.gz"}}}},
		{"obsid/1/@Extension=.fits", []mast.ProductFilter{{Extensions: []string{".fits"}}}},
		{"obsid/1/@productType=SCIENCE,!PREVIEW", []mast.ProductFilter{{Column: "productType", Values: []string{"SCIENCE", "!PREVIEW"}}}},
		{"obsid/1/@size=>=100,<=5,1..3,!7,>1,<2", []mast.ProductFilter{{Column: "size", Values: []string{">=100", "<=5", "1..3", "!7", ">1", "<2"}}}},
		{"obsid/1/@productFilename=a%2Cb,50%,x%25,*", []mast.ProductFilter{{Column: "productFilename", Values: []string{"a,b", "50%", "x%", "*"}}}},
		// Canonical order: @mrp, @extension, then columns by lower-cased name.
		{"obsid/1/@size=<5/@calib_level=<=2/@extension=fits/@productType=SCIENCE/@mrp", []mast.ProductFilter{
			{MRPOnly: true}, {Extensions: []string{"fits"}}, {Column: "calib_level", Values: []string{"<=2"}},
			{Column: "productType", Values: []string{"SCIENCE"}}, {Column: "size", Values: []string{"<5"}}}},
	}
	for _, tc := range tests {
		s := mustQueryPath(t, tc.path)
		if got := s.ProductFilters(); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: filters %+v, want %+v", tc.path, got, tc.want)
		}
	}
}

func TestPathConflicts(t *testing.T) {
	bad := []string{
		"criteria/objectname=M101/coordinates=1 2",
		"criteria/coordinates=1 2/objectname=M101",
		"criteria/coordinates=1 2/object_name=M101",
		"region/1 2/objectname=X",
		"region/1 2/coordinates=3 4",
		"object/M101/objectname=M8",
		"object/M101/coordinates=1 2",
		"criteria/a=1/A=2",
		"criteria/a=1/a=1",
		"criteria/objectname=X/object_name=Y",
		"criteria/radius=1/radius=2",
		"criteria/resolver=NED/resolver=SIMBAD",
		"criteria/a=1/@mrp/@mrp",
		"criteria/a=1/@size=1/@SIZE=2",
		"criteria/a=1/@extension=fits/@extension=png",
		"missions/HST/obs_collection=JWST",
		"missions/HST/OBS_COLLECTION=HST",
		"obsid/1/a=1",
		"obsid/1/radius=1",
		"obsid/1/objectname=M101",
	}
	for _, p := range bad {
		_, err := ParseQueryPath(p)
		var se *SegmentError
		if !errors.As(err, &se) {
			t.Errorf("ParseQueryPath(%q) = %v; want a *SegmentError", p, err)
		}
	}
}

func TestRootSpec(t *testing.T) {
	bad := []struct {
		kind   Kind
		anchor string
	}{
		{KindCriteria, "x"}, {"metadata", ""}, {"uri", "mast:x"}, {"", ""},
		{KindRegion, ""}, {KindRegion, "M101"}, {KindRegion, "."}, {KindRegion, "1/2"},
		{KindObject, ""}, {KindObject, " "}, {KindObject, ".."}, {KindObject, "a\x00"},
		{KindMissions, ""}, {KindMissions, "HST,"}, {KindMissions, "a*,b*"},
		{KindObsid, ""}, {KindObsid, "u9o40504m"},
	}
	for _, tc := range bad {
		if s, err := RootSpec(tc.kind, tc.anchor); err == nil {
			t.Errorf("RootSpec(%q, %q) = %v; want an error", tc.kind, tc.anchor, s.Key())
		}
	}
	s, err := RootSpec(KindMissions, "HST")
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := s.Mission(); m != "HST" || !ok || s.Kind() != KindMissions {
		t.Errorf("Mission() = %q, %v; Kind() = %q", m, ok, s.Kind())
	}
	if want := []mast.Criterion{{Name: "obs_collection", Values: []mast.Value{{Text: "HST"}}}}; !reflect.DeepEqual(s.Criteria(), want) {
		t.Errorf("missions/HST criteria = %+v", s.Criteria())
	}
	s, err = RootSpec(KindObsid, "2003738726,3000007760,2003738726")
	if ids, ok := s.ObsIDs(); err != nil || !ok || !slices.Equal(ids, []string{"2003738726", "3000007760"}) {
		t.Errorf("obsid ids = %v, %v, %v", ids, ok, err)
	}
	if _, ok := mustQueryPath(t, "criteria/a=1").ObsIDs(); ok {
		t.Errorf("ObsIDs() ok outside obsid/")
	}
	if _, err := (QuerySpec{}).With("a=1"); err == nil {
		t.Errorf("zero QuerySpec accepted a segment")
	}
}

func TestParseQueryPath(t *testing.T) {
	for _, p := range []string{"", "/", "metadata/observations.csv", "region", "region/", "object//",
		"missions", "obsid", "uri/mast:HST/product/x.fits", "criteria/a=1/bad", "README.txt", ".mastfs/stats.json"} {
		if s, err := ParseQueryPath(p); err == nil {
			t.Errorf("ParseQueryPath(%q) = %q; want an error", p, s.Key())
		}
	}
	a := mustQueryPath(t, "/criteria//obs_collection=HST/proposal_id=12062/@mrp/")
	if got, want := a.Key(), "criteria/obs_collection=HST/proposal_id=12062/@mrp"; got != want {
		t.Errorf("Key() = %q, want %q", got, want)
	}
}

func TestRunnable(t *testing.T) {
	tests := []struct {
		path string
		ok   bool
	}{
		{"criteria", false},
		{"criteria/objectname=M101", false}, // a valid directory to pass through
		{"criteria/objectname=M101/radius=1", false},
		{"criteria/@mrp", false},
		{"criteria/objectname=M101/filters=NUV", true},
		{"criteria/obs_collection=HST", true},
		{"criteria/radius=1/a=1", false},
		{"criteria/resolver=NED/a=1", false},
		{"criteria/coordinates=1 2/resolver=NED/a=1", false},
		{"criteria/objectname=M101/resolver=NED/a=1", true},
		{"region/1 2", true},
		{"region/1 2/resolver=NED", false},
		{"object/M101", true},
		{"object/M101/resolver=NED/radius=1", true},
		{"missions/HST", true},
		{"obsid/1", true},
		{"obsid/1/@mrp", true},
	}
	for _, tc := range tests {
		err := mustQueryPath(t, tc.path).Runnable()
		if (err == nil) != tc.ok {
			t.Errorf("%s: Runnable() = %v, want ok=%v", tc.path, err, tc.ok)
		}
	}
	if err := mustQueryPath(t, "criteria/objectname=M101").Runnable(); !errors.Is(err, ErrNoCriterion) {
		t.Errorf("criteria/objectname=M101: %v, want ErrNoCriterion", err)
	}
}

func TestKey(t *testing.T) {
	same := [][]string{
		{"criteria/a=1/b=2", "criteria/b=2/a=1", "criteria/B=2/A=1"},
		{"missions/HST", "criteria/obs_collection=HST", "missions/HST/", "criteria/OBS_COLLECTION=HST"},
		{"missions/HST,JWST/a=1", "criteria/a=1/obs_collection=HST,JWST"},
		{"region/322.49324 12.16683", "region/322.49324,12.16683", "region/322.49324 12.16683/radius=0.2",
			"region/322.49324 12.16683/radius=12arcmin", "region/ 322.49324  +12.16683 "},
		{"region/0 0", "region/-0 -0", "region/0:00:00 -00:00:00"},
		{"criteria/objectname=M101/radius=0.2deg/a=1", "criteria/a=1/object_name=M101", "criteria/a=1/objectname=M101/radius=720\""},
		{"criteria/a=x%2Fy", "criteria/a=x%2fy"},
		{"criteria/a=1/@mrp/@size=<5", "criteria/a=1/@size=<5/@mrp", "criteria/@size=<5/A=1/@MRP"},
		{"criteria/a=1/@extension=FITS", "criteria/a=1/@extension=fits"},
		{"obsid/1,2,1", "obsid/1,2", "obsid/ 1,2"},
		// An object name has no lists: a comma is literal, escaped or not.
		{"criteria/objectname=a%2Cb/x=1", "criteria/objectname=a,b/x=1"},
	}
	for _, group := range same {
		want := mustQueryPath(t, group[0]).Key()
		for _, p := range group[1:] {
			if got := mustQueryPath(t, p).Key(); got != want {
				t.Errorf("Key(%q) = %q, want %q as for %q", p, got, want, group[0])
			}
		}
	}
	different := [][2]string{
		{"criteria/a=x,y", "criteria/a=y,x"}, // value order is kept
		{"criteria/a=x*", "criteria/a=x%25"},
		{"criteria/a=%2C", "criteria/a=*2C"},
		{"criteria/a=x%2Cy", "criteria/a=x,y"},
		{"criteria/a=1..2", "criteria/a=1,2"},
		{"criteria/a=X", "criteria/a=x"},
		{"criteria/objectname=M101/a=1", "object/M101/a=1"}, // runnable differs for the bare forms
		{"criteria/coordinates=1 2/a=1", "region/1 2/a=1"},
		{"object/M101", "object/M101/resolver=NED"},
		{"region/1 2", "region/1 2/radius=1"},
		{"obsid/1,2", "obsid/2,1"},
		{"criteria/a=1/@size=<5", "criteria/a=1/@Size=<5"}, // product columns keep their spelling
		{"criteria/a=1/@x=a,b", "criteria/a=1/@x=a%2Cb"},
	}
	for _, pair := range different {
		a, b := mustQueryPath(t, pair[0]).Key(), mustQueryPath(t, pair[1]).Key()
		if a == b {
			t.Errorf("%q and %q share Key %q", pair[0], pair[1], a)
		}
	}
	pinned := map[string]string{
		"criteria/proposal_id=12062/obs_collection=HST/@mrp": "criteria/obs_collection=HST/proposal_id=12062/@mrp",
		"region/322.49324,12.16683/filters=NUV":              "region/322.49324 12.16683/radius=0.2/filters=NUV",
		"object/M 101/resolver=simbad":                       "object/M 101/radius=0.2/resolver=SIMBAD",
		"criteria/Instrument_Name=ACS%2FWFC,*WFPC2*":         "criteria/instrument_name=ACS%2FWFC,*WFPC2*",
		"criteria/target_name=50%25,a%2Cb":                   "criteria/target_name=50%25,a%2Cb",
		"criteria/a=1/@productType=SCIENCE,!PREVIEW/@mrp":    "criteria/a=1/@mrp/@productType=SCIENCE,!PREVIEW",
		"missions/HST":                     "criteria/obs_collection=HST",
		"obsid/2003738726/@extension=FITS": "obsid/2003738726/@extension=fits",
		"criteria/radius=1/a=1":            "criteria/radius=1/a=1",
	}
	for p, want := range pinned {
		s := mustQueryPath(t, p)
		if got := s.Key(); got != want {
			t.Errorf("Key(%q) = %q, want %q", p, got, want)
		}
		if got := mustQueryPath(t, s.Key()).Key(); got != want {
			t.Errorf("Key does not round-trip for %q: %q", p, got)
		}
	}
	s := mustQueryPath(t, "criteria/a=1/@mrp/@size=<5")
	if got, want := s.QueryKey(), "criteria/a=1"; got != want {
		t.Errorf("QueryKey() = %q, want %q", got, want)
	}
}

func TestSpecImmutable(t *testing.T) {
	// Bases of several sizes, so that some have spare slice capacity and
	// an in-place insert would show through to the base or a sibling.
	path := "criteria"
	for _, name := range []string{"b", "d", "f", "h", "j"} {
		path += "/" + name + "=1/@" + name + "=1"
		base := mustQueryPath(t, path)
		baseKey := base.Key()
		var kids []QuerySpec
		var kidKeys []string
		for _, seg := range []string{"c=1", "a=1", "z=1", "@c=1", "@a=1", "@mrp", "@z=1"} {
			kid, err := base.With(seg)
			if err != nil {
				t.Fatal(err)
			}
			kids, kidKeys = append(kids, kid), append(kidKeys, kid.Key())
		}
		if base.Key() != baseKey {
			t.Errorf("base changed from %q to %q", baseKey, base.Key())
		}
		for i, kid := range kids {
			if kid.Key() != kidKeys[i] {
				t.Errorf("sibling changed from %q to %q", kidKeys[i], kid.Key())
			}
		}
	}
	s := mustQueryPath(t, "criteria/b=1/d=1/@mrp/@x=1")
	if got, err := s.With("c=1"); err != nil || got.Key() != "criteria/b=1/c=1/d=1/@mrp/@x=1" {
		t.Errorf("With(c=1) = %q, %v", got.Key(), err)
	}
	if got, err := s.With("@w=1"); err != nil || got.Key() != "criteria/b=1/d=1/@mrp/@w=1/@x=1" {
		t.Errorf("With(@w=1) = %q, %v", got.Key(), err)
	}

	key := s.Key()
	c := s.Criteria()
	c[0].Values[0].Text = "changed"
	c[0].Name = "changed"
	f := s.ProductFilters()
	f[1].Values[0] = "changed"
	if s.Key() != key {
		t.Errorf("accessor results alias the spec: %q", s.Key())
	}
	o := mustQueryPath(t, "obsid/1,2")
	ids, _ := o.ObsIDs()
	ids[0] = "9"
	if o.Key() != "obsid/1,2" {
		t.Errorf("ObsIDs() aliases the spec: %q", o.Key())
	}
}

func TestObservationQuery(t *testing.T) {
	var calls []string
	resolve := func(name, resolver string) (float64, float64, error) {
		calls = append(calls, name+"|"+resolver)
		if name == "nowhere" {
			return 0, 0, errors.New("Could not resolve")
		}
		return 210.80243, 54.34875, nil
	}
	q, err := mustQueryPath(t, "object/M101/radius=1/resolver=NED/filters=NUV").ObservationQuery(resolve)
	if err != nil {
		t.Fatal(err)
	}
	if want := (mast.Position{RA: 210.80243, Dec: 54.34875, Radius: 1}); q.Position == nil || *q.Position != want {
		t.Errorf("position %+v, want %+v", q.Position, want)
	}
	if len(q.Criteria) != 1 || q.Criteria[0].Name != "filters" || !slices.Equal(calls, []string{"M101|NED"}) {
		t.Errorf("criteria %+v, resolver calls %v", q.Criteria, calls)
	}

	q, err = mustQueryPath(t, "region/1 2").ObservationQuery(nil)
	if err != nil || q.Position == nil || *q.Position != (mast.Position{RA: 1, Dec: 2, Radius: DefaultRadiusDeg}) || len(q.Criteria) != 0 {
		t.Errorf("region query %+v, %v", q, err)
	}
	q, err = mustQueryPath(t, "criteria/obs_collection=HST").ObservationQuery(nil)
	if err != nil || q.Position != nil || len(q.Criteria) != 1 {
		t.Errorf("criteria query %+v, %v", q, err)
	}

	calls = nil
	if _, err := mustQueryPath(t, "criteria/objectname=M101").ObservationQuery(resolve); !errors.Is(err, ErrNoCriterion) || len(calls) != 0 {
		t.Errorf("not runnable: %v, resolver calls %v", err, calls)
	}
	if _, err := mustQueryPath(t, "object/nowhere").ObservationQuery(resolve); err == nil {
		t.Errorf("resolver error was dropped")
	}
	if _, err := mustQueryPath(t, "object/M101").ObservationQuery(nil); err == nil {
		t.Errorf("object query without a resolver: no error")
	}
	if _, err := mustQueryPath(t, "obsid/1").ObservationQuery(resolve); err == nil {
		t.Errorf("obsid/ has no observation query")
	}
}
