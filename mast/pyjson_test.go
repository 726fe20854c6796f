package mast

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// The wire example of mast-protocol.md §3.1:
// Observations.query_region(SkyCoord(23.34086, 60.658, unit='deg'), radius=0.2).
const wireExample = "request=%7B%22service%22%3A%20%22Mast.Caom.Cone%22%2C%20%22params%22%3A%20%7B%22ra%22%3A%2023.34086%2C%20%22dec%22%3A%2060.658%2C%20%22radius%22%3A%200.2%7D%2C%20%22format%22%3A%20%22json%22%2C%20%22pagesize%22%3A%2050000%2C%20%22page%22%3A%201%2C%20%22cacheBreaker%22%3A%20%221f0c6b8e-7a43-4f53-9a5e-2c1d7b3f9e10%22%7D"

func TestEnvelopeMatchesAstroqueryWireExample(t *testing.T) {
	c := New(Config{})
	env, err := c.envelope(ServiceCone, Params{{"ra", 23.34086}, {"dec", 60.658}, {"radius", 0.2}}, InvokeOptions{}, 1, testCacheBreaker)
	if err != nil {
		t.Fatal(err)
	}
	body, err := encodeRequest(env)
	if err != nil {
		t.Fatal(err)
	}
	if string(body) != wireExample {
		t.Errorf("body\n got %s\nwant %s", body, wireExample)
	}
}

func TestEnvelopeExtraOverwritesInPlace(t *testing.T) {
	c := New(Config{PageSize: 10})
	env, _ := c.envelope(ServiceAll, nil, InvokeOptions{Extra: Params{{"format", "extjs"}, {"removenullcolumns", true}}}, 1, "x")
	js, err := pyJSON(env)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"service": "Mast.Caom.All", "params": {}, "format": "extjs", "pagesize": 10, "page": 1, "removenullcolumns": true, "cacheBreaker": "x"}`
	if string(js) != want {
		t.Errorf("got  %s\nwant %s", js, want)
	}
}

func TestPyFloatRepr(t *testing.T) {
	for _, tc := range []struct {
		f    float64
		want string
	}{
		{100, "100.0"}, {0.2, "0.2"}, {1e-10, "1e-10"}, {23.34086, "23.34086"},
		{-68.3129998725044, "-68.3129998725044"}, {0, "0.0"}, {math.Copysign(0, -1), "-0.0"},
		{0.0001, "0.0001"}, {0.00001, "1e-05"}, {1e16, "1e+16"}, {9999999999999998, "9999999999999998.0"},
		{1.5e300, "1.5e+300"}, {5e-324, "5e-324"}, {0.30000000000000004, "0.30000000000000004"},
		{math.NaN(), "NaN"}, {math.Inf(1), "Infinity"}, {math.Inf(-1), "-Infinity"},
	} {
		if got := pyFloatRepr(tc.f); got != tc.want {
			t.Errorf("pyFloatRepr(%v) = %q, want %q", tc.f, got, tc.want)
		}
	}
}

func TestPyJSONScalars(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{
		{"Café ☃ 😀", `"Caf\u00e9 \u2603 \ud83d\ude00"`},
		{"a\"b\\c\n\t\r\b\f\x01\x7f/", `"a\"b\\c\n\t\r\b\f\u0001\u007f/"`},
		{nil, "null"}, {true, "true"}, {int64(-5), "-5"}, {uint8(7), "7"},
		{[]string(nil), "[]"}, {[]any{1, "x", nil}, `[1, "x", null]`},
		{map[string]int{"b": 2, "a": 1}, `{"a": 1, "b": 2}`},
		{json.Number("1e3"), "1e3"},
		{[]Filter{{ParamName: "x", Values: []string{}, FreeText: "a%"}}, `[{"paramName": "x", "values": [], "freeText": "a%"}]`},
	} {
		got, err := pyJSON(tc.v)
		if err != nil || string(got) != tc.want {
			t.Errorf("pyJSON(%#v) = %s, %v; want %s", tc.v, got, err, tc.want)
		}
	}
	if _, err := pyJSON(json.Number("01")); err == nil {
		t.Error("pyJSON accepted the invalid number 01")
	}
	if _, err := pyJSON(struct{}{}); err == nil {
		t.Error("pyJSON accepted a struct")
	}
}

func TestPyQuote(t *testing.T) {
	for _, tc := range []struct{ s, safe, want string }{
		{`{"a": "b c"}`, "/", "%7B%22a%22%3A%20%22b%20c%22%7D"},
		{"COUNT_BIG(*)", "/", "COUNT_BIG%28%2A%29"},
		{"a/b~c-d.e_f", "/", "a/b~c-d.e_f"},
		{"mast:HLA/url/cgi-bin/fitscut.cgi?red=x&blue=y", ":/", "mast:HLA/url/cgi-bin/fitscut.cgi%3Fred%3Dx%26blue%3Dy"},
		{"é", "/", "%C3%A9"},
	} {
		if got := pyQuote(tc.s, tc.safe); got != tc.want {
			t.Errorf("pyQuote(%q, %q) = %q, want %q", tc.s, tc.safe, got, tc.want)
		}
	}
}

func TestIsJSONNumber(t *testing.T) {
	for s, want := range map[string]bool{
		"0": true, "-0": true, "43.5": true, "1e-10": true, "2E+07": true, "-12.0e3": true,
		"": false, "-": false, ".5": false, "5.": false, "+5": false, "01": false, "1e": false, "0x10": false, "NaN": false, "1 ": false,
	} {
		if got := isJSONNumber(s); got != want {
			t.Errorf("isJSONNumber(%q) = %v", s, got)
		}
	}
}

// TestPyJSONAgainstPython compares random floats and strings with
// CPython's json.dumps and urllib.parse.quote.
func TestPyJSONAgainstPython(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var floats []float64
	for i := 0; i < 300; i++ {
		var f float64
		switch i % 3 {
		case 0:
			f = math.Float64frombits(rng.Uint64())
		case 1:
			f = (rng.Float64() - 0.5) * math.Pow(10, float64(rng.IntN(44)-22))
		default:
			f = float64(rng.IntN(2000000)) / 1000
		}
		if !math.IsNaN(f) {
			floats = append(floats, f)
		}
	}
	alphabet := []rune("aZ09 _.-~/:*%\"\\\n\t\x00\x1f\x7fé☃😀\U0010ffff")
	var strs []string
	for i := 0; i < 100; i++ {
		r := make([]rune, rng.IntN(12))
		for j := range r {
			r[j] = alphabet[rng.IntN(len(alphabet))]
		}
		strs = append(strs, string(r))
	}
	var stdin strings.Builder
	for _, f := range floats {
		fmt.Fprintf(&stdin, "f %016x\n", math.Float64bits(f))
	}
	for _, s := range strs {
		b, _ := json.Marshal(s)
		fmt.Fprintf(&stdin, "s %s\n", b)
	}
	const script = `
import sys, json, struct
from urllib.parse import quote
for line in sys.stdin:
    kind, arg = line.rstrip("\\n").split(" ", 1)
    v = struct.unpack(">d", bytes.fromhex(arg))[0] if kind == "f" else json.loads(arg)
    d = json.dumps(v)
    print(json.dumps([d, quote(d, safe="/")]))
`
	out := strings.Split(strings.TrimSpace(runPython(t, script, stdin.String())), "\n")
	values := make([]any, 0, len(floats)+len(strs))
	for _, f := range floats {
		values = append(values, f)
	}
	for _, s := range strs {
		values = append(values, s)
	}
	if len(out) != len(values) {
		t.Fatalf("python printed %d lines for %d values", len(out), len(values))
	}
	for i, v := range values {
		var want [2]string
		if err := json.Unmarshal([]byte(out[i]), &want); err != nil {
			t.Fatal(err)
		}
		got, err := pyJSON(v)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want[0] {
			t.Errorf("json.dumps(%#v): got %s, python %s", v, got, want[0])
		}
		if q := pyQuote(string(got), "/"); q != want[1] {
			t.Errorf("quote(%s): got %s, python %s", got, q, want[1])
		}
	}
}
