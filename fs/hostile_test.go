package fs

// Hostile input at the filesystem's edges:
//
//   - path segments with quotes, backslashes, JSON metacharacters, control
//     characters, non-ASCII text, a 255-byte segment and a 4096-byte path
//     become exactly the filter values they spell, or a parse error and no
//     request (TestHostile*);
//   - ".." never leaves the tree, and uri/ never fetches anything but the
//     MAST download service (TestDotdot*, TestURISSRF);
//   - the generated files that carry archive values (.curl.sh, the metadata
//     tables) and the product file names stay well-formed whatever the
//     archive answers (FuzzCurlScript, FuzzMetadataCSV, FuzzProductNames).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"unicode/utf8"

	"github.com/mastfs/mastfs/mast"
	"github.com/mastfs/mastfs/mast/mastemu"
)

// recordedRequest is one request as the archive received it.
type recordedRequest struct {
	Method string
	URL    *url.URL
	Body   string
}

// recorder sits in front of a handler and keeps every request.
type recorder struct {
	next http.Handler
	mu   sync.Mutex
	reqs []recordedRequest
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, recordedRequest{Method: r.Method, URL: r.URL, Body: string(body)})
	rc.mu.Unlock()
	r.Body = io.NopCloser(bytes.NewReader(body))
	rc.next.ServeHTTP(w, r)
}

func (rc *recorder) take() []recordedRequest {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := rc.reqs
	rc.reqs = nil
	return out
}

// hostileArchive is the recorded emulator behind a recorder, and a client.
func hostileArchive(t *testing.T) (*recorder, *mast.Client) {
	t.Helper()
	rc := &recorder{next: mastemu.New(mastemu.Options{})}
	hs := httptest.NewServer(rc)
	t.Cleanup(hs.Close)
	return rc, mast.New(mast.Config{BaseURL: hs.URL, ResolverURL: hs.URL + "/Santa-war/query"})
}

// encodeValue spells a literal criterion value as a path segment value:
// the three escapes of the grammar (contract §2).
func encodeValue(v string) string {
	return strings.NewReplacer("%", "%25", "/", "%2F", ",", "%2C").Replace(v)
}

// hostileSegmentValues are literal values a segment can spell (no '*', the
// wildcard, and no "..", the range): each must reach MAST verbatim.
var hostileSegmentValues = []string{
	`a"b`, `a\b`, `\"`, `\u0000`, `"}]}, {"paramName": "obs_collection", "values": ["JWST"]}, {"x": "`,
	`{`, `}`, `[`, `]`, `:`, `,`, `{"a": [1, 2]}`, `a,b`, `x/y`, `100%`, `%2F`, `'; rm -rf / #`,
	"&request=x", "a=b&c=d", "+ +", "#frag", "?q=1", "<script>", " lead", "trail ",
	"Ωμέγα 天体 Ünïcødé", "😀 astral", "a\u2028b\u2029c", "\ufeffBOM",
}

// invalidSegments are segments the grammar refuses: no request may follow.
var invalidSegments = []string{
	"target_name=a\x00b", "target_name=line1\nline2", "target_name=cr\r", "target_name=tab\t",
	"target_name=del\x7f", "target_name=\xff\xfe", "target_name=", "target_name= ", "=x", "target name=x",
	"target_name=a\u0085b", "target_name=\u2028\u2029", "@productType=a\x00", "objectname=M1\n",
}

// invokeEnvelopes decodes the invoke requests among reqs: each body is
// exactly one form field, request=, holding one JSON object.
func invokeEnvelopes(t *testing.T, reqs []recordedRequest) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, r := range reqs {
		if r.URL.Path != "/api/v0/invoke" {
			continue
		}
		form, err := url.ParseQuery(r.Body)
		if err != nil || len(form) != 1 || len(form["request"]) != 1 {
			t.Fatalf("invoke body is not exactly request=...: %v %q", err, r.Body)
		}
		dec := json.NewDecoder(strings.NewReader(form.Get("request")))
		dec.UseNumber()
		var env map[string]any
		if err := dec.Decode(&env); err != nil || dec.More() {
			t.Fatalf("request is not one JSON object: %v\n%q", err, form.Get("request"))
		}
		out = append(out, env)
	}
	return out
}

// filterValues maps paramName to values of an envelope's filters, failing
// on anything but paramName/values/separator keys or repeated names.
func filterValues(t *testing.T, env map[string]any) map[string][]string {
	t.Helper()
	params, _ := env["params"].(map[string]any)
	list, _ := params["filters"].([]any)
	out := map[string][]string{}
	for _, x := range list {
		f, _ := x.(map[string]any)
		for k := range f {
			if k != "paramName" && k != "values" && k != "separator" {
				t.Fatalf("filter key %q in %v", k, f)
			}
		}
		name, _ := f["paramName"].(string)
		if _, dup := out[name]; dup {
			t.Fatalf("filter %q twice", name)
		}
		vals, _ := f["values"].([]any)
		out[name] = []string{}
		for _, v := range vals {
			s, ok := v.(string)
			if !ok {
				t.Fatalf("value %v of %q is %T", v, name, v)
			}
			out[name] = append(out[name], s)
		}
	}
	return out
}

// TestHostileSegmentValues: through Evaluate (the path grammar, the query
// runner and the real client), every hostile literal is the one value of
// its filter, next to an untouched second filter; invalid segments give a
// parse error and no request at all.
func TestHostileSegmentValues(t *testing.T) {
	rc, c := hostileArchive(t)
	ctx := context.Background()
	for _, v := range hostileSegmentValues {
		p := "criteria/obs_collection=HST/target_name=" + encodeValue(v)
		rc.take()
		_, err := Evaluate(ctx, c, p, 5000, nil)
		if err != nil {
			t.Fatalf("%q: %v", p, err)
		}
		envs := invokeEnvelopes(t, rc.take())
		if len(envs) == 0 {
			t.Fatalf("%q: no invoke request", p)
		}
		for _, env := range envs {
			if env["service"] == mast.ServiceProducts {
				continue
			}
			want := map[string][]string{"obs_collection": {"HST"}, "target_name": {v}}
			if got := filterValues(t, env); !maps.EqualFunc(got, want, slices.Equal) {
				t.Fatalf("%q: filters %q, want %q", p, got, want)
			}
		}
	}
	for _, seg := range invalidSegments {
		p := "criteria/obs_collection=HST/" + seg
		rc.take()
		_, err := Evaluate(ctx, c, p, 5000, nil)
		var se *SegmentError
		if !errors.As(err, &se) {
			t.Fatalf("%q: %v, want a *SegmentError", p, err)
		}
		if reqs := rc.take(); len(reqs) != 0 {
			t.Fatalf("%q: %d requests after a parse error (%s)", p, len(reqs), reqs[0].URL)
		}
	}
}

// TestHostileLongPaths: a 255-byte segment (NAME_MAX) and a 4096-byte path
// (PATH_MAX) of hostile text carry every value verbatim, one filter per
// segment, nothing added.
func TestHostileLongPaths(t *testing.T) {
	rc, c := hostileArchive(t)
	ctx := context.Background()
	filler := []rune(`"\{}[]:,'Ω😀&=?#<>`)
	valueOf := func(n int) string { // a value whose segment spelling is n bytes
		var b strings.Builder
		for i := 0; ; i++ {
			r := string(filler[i%len(filler)])
			if len(encodeValue(b.String()+r)) > n {
				break
			}
			b.WriteString(r)
		}
		for len(encodeValue(b.String())) < n {
			b.WriteByte('x')
		}
		return b.String()
	}

	// One 255-byte segment.
	v := valueOf(255 - len("target_name="))
	seg := "target_name=" + encodeValue(v)
	if len(seg) != 255 {
		t.Fatalf("segment is %d bytes", len(seg))
	}
	rc.take()
	if _, err := Evaluate(ctx, c, "criteria/"+seg, 5000, nil); err != nil {
		t.Fatal(err)
	}
	envs := invokeEnvelopes(t, rc.take())
	if got := filterValues(t, envs[0]); !maps.EqualFunc(got, map[string][]string{"target_name": {v}}, slices.Equal) {
		t.Fatalf("255-byte segment: filters %q", got)
	}

	// A 4096-byte path: one segment per discrete text column.
	columns := []string{"intentType", "obs_collection", "instrument_name", "project", "filters",
		"wavelength_region", "target_name", "target_classification", "obs_id", "obs_title",
		"proposal_pi", "dataproduct_type", "s_region", "jpegURL", "proposal_id", "dataURL", "dataRights"}
	path := "criteria"
	want := map[string][]string{}
	for i, col := range columns {
		left := 4096 - len(path) - 1
		per := left / (len(columns) - i)
		val := valueOf(per - len(col) - 1)
		want[col] = []string{val}
		path += "/" + col + "=" + encodeValue(val)
	}
	if len(path) != 4096 {
		t.Fatalf("path is %d bytes", len(path))
	}
	rc.take()
	if _, err := Evaluate(ctx, c, path, 5000, nil); err != nil {
		t.Fatal(err)
	}
	envs = invokeEnvelopes(t, rc.take())
	if len(envs) == 0 {
		t.Fatal("no invoke request")
	}
	if got := filterValues(t, envs[0]); !maps.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("4096-byte path: filters\n %q\nwant\n %q", got, want)
	}
}

// TestHostileObjectNames: objectname= and object/ send the name verbatim
// (trimmed, as astroquery does) as the one name parameter of the resolver
// query, with nothing added.
func TestHostileObjectNames(t *testing.T) {
	rc, c := hostileArchive(t)
	ctx := context.Background()
	for _, v := range hostileSegmentValues {
		name := "M101 " + v
		for _, p := range []string{
			"criteria/obs_collection=HST/objectname=" + encodeValue(name),
			"criteria/obs_collection=HST/object_name=" + encodeValue(name) + "/resolver=NED",
			"object/" + encodeValue(name) + "/resolver=SIMBAD",
		} {
			rc.take()
			_, _ = Evaluate(ctx, c, p, 5000, nil) // the emulator knows no such name: ENOENT
			var santa []recordedRequest
			for _, r := range rc.take() {
				if r.URL.Path == "/Santa-war/query" {
					santa = append(santa, r)
				}
			}
			if len(santa) != 1 {
				t.Fatalf("%q: %d resolver requests", p, len(santa))
			}
			q, err := url.ParseQuery(santa[0].URL.RawQuery)
			if err != nil {
				t.Fatalf("%q: query %q: %v", p, santa[0].URL.RawQuery, err)
			}
			want := url.Values{"outputFormat": {"json"}, "resolveAll": {"False"}, "name": {strings.TrimSpace(name)}}
			switch {
			case strings.HasSuffix(p, "resolver=NED"):
				want["resolver"] = []string{"NED"}
			case strings.HasSuffix(p, "resolver=SIMBAD"):
				want["resolver"] = []string{"SIMBAD"}
			}
			if !maps.EqualFunc(q, want, slices.Equal) {
				t.Fatalf("%q: resolver query %q decodes to %q, want %q", p, santa[0].URL.RawQuery, q, want)
			}
		}
	}
}

// TestHostileSegmentsThroughTheMount: the kernel hands mastfs any byte but
// '/' and NUL; a segment the grammar refuses is ENOENT and sends nothing, a
// hostile literal is one filter value, and a 256-byte name never arrives.
func TestHostileSegmentsThroughTheMount(t *testing.T) {
	rc := &recorder{}
	m := mountForTest(t, mountConfig{wrap: func(h http.Handler) http.Handler { rc.next = h; return rc }})
	// Warm the column configuration so that only query requests remain.
	if _, err := os.Stat(m.Path("criteria", "obs_collection=HST")); err != nil {
		t.Fatal(err)
	}
	for _, seg := range invalidSegments {
		if strings.ContainsRune(seg, 0) || !segmentName.MatchString(seg) {
			// The kernel cannot carry a NUL, and a name that is not a
			// segment is a product name (looked up in the listing);
			// TestHostileSegmentValues covers both.
			continue
		}
		rc.take()
		_, err := os.Stat(m.Path("criteria", "obs_collection=HST", seg))
		if !errors.Is(err, syscall.ENOENT) {
			t.Fatalf("%q: %v, want ENOENT", seg, err)
		}
		if reqs := rc.take(); len(reqs) != 0 {
			t.Fatalf("%q: %d requests (%s)", seg, len(reqs), reqs[0].URL)
		}
	}
	for _, v := range hostileSegmentValues {
		seg := "target_name=" + encodeValue(v)
		rc.take()
		if _, err := os.ReadDir(m.Path("criteria", "obs_collection=HST", seg)); err != nil {
			t.Fatalf("%q: %v", seg, err)
		}
		envs := invokeEnvelopes(t, rc.take())
		if len(envs) == 0 {
			t.Fatalf("%q: no query", seg)
		}
		want := map[string][]string{"obs_collection": {"HST"}, "target_name": {v}}
		if got := filterValues(t, envs[0]); !maps.EqualFunc(got, want, slices.Equal) {
			t.Fatalf("%q: filters %q, want %q", seg, got, want)
		}
	}
	// A 255-byte segment (NAME_MAX) is a query like any other.
	v := strings.Repeat(`"\{}[]:'Ω`, 40)[:255-len("target_name=")-2] + "ok"
	seg := "target_name=" + encodeValue(v)
	for len(seg) > 255 {
		v = v[:len(v)-1]
		seg = "target_name=" + encodeValue(v)
	}
	rc.take()
	if _, err := os.ReadDir(m.Path("criteria", seg)); err != nil {
		t.Fatalf("%d-byte segment: %v", len(seg), err)
	}
	envs := invokeEnvelopes(t, rc.take())
	if len(envs) == 0 {
		t.Fatal("255-byte segment: no query")
	}
	if got := filterValues(t, envs[0]); !maps.EqualFunc(got, map[string][]string{"target_name": {v}}, slices.Equal) {
		t.Fatalf("%d-byte segment: filters %q", len(seg), got)
	}
	// The kernel refuses a path over PATH_MAX before mastfs sees it. (Names
	// between NAME_MAX and the FUSE limit do reach mastfs, and are
	// segments like any other.)
	long := "target_name=" + strings.Repeat("x", 4096-len("target_name="))
	rc.take()
	if _, err := os.Stat(m.Path("criteria", long)); !errors.Is(err, syscall.ENAMETOOLONG) {
		t.Fatalf("4096-byte name: %v, want ENAMETOOLONG", err)
	}
	if reqs := rc.take(); len(reqs) != 0 {
		t.Fatalf("4096-byte name: %d requests", len(reqs))
	}
}

// TestDotdotStaysInMount: ".." is resolved by the kernel; through mastfs it
// lands where it would on any tree, and query directories on the way cost
// no query.
func TestDotdotStaysInMount(t *testing.T) {
	m := mountForTest(t, mountConfig{})
	same := func(a, b string) {
		t.Helper()
		fa, err := os.Stat(a)
		if err != nil {
			t.Fatalf("stat %s: %v", a, err)
		}
		fb, err := os.Stat(b)
		if err != nil {
			t.Fatalf("stat %s: %v", b, err)
		}
		if !os.SameFile(fa, fb) {
			t.Fatalf("%s and %s are different files", a, b)
		}
	}
	q := m.Path("criteria", "obs_collection=HST", "proposal_id=8880")
	same(q+"/..", m.Path("criteria", "obs_collection=HST"))
	same(q+"/../..", m.Path("criteria"))
	same(q+"/../../..", m.Dir)
	same(q+"/../../../..", filepath.Dir(m.Dir))
	same(m.Path("criteria", "obs_collection=HST", "..", "..", "..", ".."), filepath.Dir(filepath.Dir(m.Dir)))
	same(q+"/../proposal_id=8880", q)
	same(m.Path("uri", "mast:HST", "product", "..", ".."), m.Path("uri"))
	same(m.Path("missions", "HST", "..", ".."), m.Dir)
	same(m.Path("object", "M101", "..", ".."), m.Dir)

	if got, want := listDir(t, q+"/../.."), listDir(t, m.Path("criteria")); !slices.Equal(got, want) {
		t.Fatalf("criteria/obs_collection=HST/proposal_id=8880/../.. lists %q, want %q", got, want)
	}
	if got, want := listDir(t, m.Path("criteria", "obs_collection=HST", "..", "..")), listDir(t, m.Dir); !slices.Equal(got, want) {
		t.Fatalf("criteria/obs_collection=HST/../.. lists %q, want the root %q", got, want)
	}
	st := m.Emu.Stats()
	for _, svc := range []string{mast.ServiceCone, mast.ServiceFiltered, mast.ServiceFilteredPosition, mast.ServiceProducts} {
		if st.Services[svc] != 0 || st.CountQueries[svc] != 0 {
			t.Fatalf("walking through query directories ran queries: %v, counts %v", st.Services, st.CountQueries)
		}
	}

	// uri/: ".." climbs out of a data URI, never into the host.
	m.Emu.ResetStats()
	for _, p := range []string{
		m.Path("uri", "mast:HST", "product", "..", "..", "etc", "passwd"),
		m.Path("uri", "mast:HST", "product", "..", "..", "..", "etc", "passwd"),
		m.Path("uri", "..", "uri", "etc", "passwd"),
	} {
		if _, err := os.Stat(p); !errors.Is(err, syscall.ENOENT) {
			t.Fatalf("stat %s: %v, want ENOENT", p, err)
		}
		if _, err := os.ReadFile(p); !errors.Is(err, syscall.ENOENT) {
			t.Fatalf("read %s: %v, want ENOENT", p, err)
		}
	}
	if st := m.Emu.Stats(); len(st.Log) != 0 {
		t.Fatalf("uri/ with .. sent %d requests: %+v", len(st.Log), st.Log)
	}
	// What ".." leaves of a data URI is asked of the download service
	// only, under exactly that URI; an escaped "..%2F" stays literal.
	for _, tc := range []struct{ path, uri string }{
		{m.Path("uri", "mast:HST", "product", "..", "x.fits"), "mast:HST/x.fits"},
		{m.Path("uri", "mast:HST", "product", "..%2F..%2Fetc%2Fpasswd.fits"), "mast:HST/product/..%2F..%2Fetc%2Fpasswd.fits"},
		{m.Path("uri", "mast:HST", "product", `..\..\etc\passwd.x`), `mast:HST/product/..\..\etc\passwd.x`},
	} {
		m.Emu.ResetStats()
		if _, err := os.Stat(tc.path); !errors.Is(err, syscall.ENOENT) {
			t.Fatalf("stat %s: %v, want ENOENT", tc.path, err)
		}
		st := m.Emu.Stats()
		if len(st.Log) != 1 || st.Log[0].Endpoint != mastemu.EndpointDownload || st.Log[0].URI != tc.uri {
			t.Fatalf("%s: requests %+v, want one download request for %q", tc.path, st.Log, tc.uri)
		}
	}
}

// TestURISSRF: uri/ never fetches an arbitrary URL. A first component that
// is not mast:<COLLECTION> is ENOENT without any request; whatever follows
// it goes to the MAST download service as a data URI.
func TestURISSRF(t *testing.T) {
	var evilHits sync.Map
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		evilHits.Store(r.URL.String(), true)
		io.WriteString(w, "pwned")
	}))
	defer evil.Close()
	host := strings.TrimPrefix(evil.URL, "http://")
	m := mountForTest(t, mountConfig{})
	for _, p := range [][]string{
		{"https:", "evil.example", "x"},
		{"http:", host, "x.fits"},
		{"http:" + host, "x.fits"},
		{"file:", "etc", "passwd"},
		{"s3:", "stpubdata", "x.fits"},
		{"mast:", "x.fits"},
		{"mast:HST:80", "x.fits"},
		{"mast:HST@" + host, "x.fits"},
		{"mast:http:", host, "x.fits"},
		{"MAST:HST", "product", "x.fits"},
		{" mast:HST", "product", "x.fits"},
		{"mast:HST\n", "product", "x.fits"},
		{"mast:HST?x=1", "product", "x.fits"},
		{"mast:HST%2F..", "x.fits"},
	} {
		m.Emu.ResetStats()
		full := m.Path(append([]string{"uri"}, p...)...)
		if _, err := os.Stat(full); !errors.Is(err, syscall.ENOENT) {
			t.Fatalf("stat %q: %v, want ENOENT", full, err)
		}
		if _, err := os.ReadFile(full); !errors.Is(err, syscall.ENOENT) {
			t.Fatalf("read %q: %v, want ENOENT", full, err)
		}
		if st := m.Emu.Stats(); len(st.Log) != 0 {
			t.Fatalf("%q: %d requests to the archive: %+v", full, len(st.Log), st.Log)
		}
	}
	// A URL inside a data URI is a name: only the download service is
	// asked, about a prefix of that data URI (a component with a dot is
	// checked with a HEAD, whatever it is).
	for _, p := range [][]string{
		{"mast:HST", "product", "http:", host, "x.fits"},
		{"mast:HST", "product", "x.fits?uri=http:%2F%2F" + host + "&y=.z"},
		{"mast:HST", "product", "@" + host + ".fits"},
		{"mast:HST", "product", "x.fits#http:"},
	} {
		m.Emu.ResetStats()
		full := m.Path(append([]string{"uri"}, p...)...)
		_, _ = os.Stat(full)
		uri := strings.Join(p, "/")
		st := m.Emu.Stats()
		if len(st.Log) == 0 {
			t.Fatalf("%q: no request", full)
		}
		for _, e := range st.Log {
			if e.Endpoint != mastemu.EndpointDownload || e.Method != http.MethodHead || !strings.HasPrefix(uri, e.URI) || !strings.HasPrefix(e.URI, "mast:HST/product/") {
				t.Fatalf("%q: request %+v, want only HEADs of the download service for a prefix of %q", full, e, uri)
			}
		}
	}
	evilHits.Range(func(k, _ any) bool {
		t.Errorf("the evil server was asked for %v", k)
		return true
	})
}

// fuzzFields splits fuzz bytes into text fields at 0x1f (unit separator),
// so that values may hold any other byte, NUL and newlines included.
func fuzzFields(data []byte) []string {
	parts := strings.Split(string(data), "\x1f")
	if len(parts) > 200 {
		parts = parts[:200]
	}
	return parts
}

// FuzzCurlScript: whatever the archive calls its products, every command
// line of .curl.sh is `mast_get '<path>' '<url>' || status=1` whose two
// single-quoted words are exactly the download path and the URL, the title
// comment stays one line, and every download path is relative, inside
// mastDownload/ (or flat), with no empty, ".", ".." or NUL component.
func FuzzCurlScript(f *testing.F) {
	f.Add([]byte("criteria/obs_collection=HST\x1fmast:HST/product/o6au01msq_raw.fits\x1fHST\x1fo6au01msq\x1fo6au01msq_raw.fits"))
	f.Add([]byte("t\nrm -rf /\x1fmast:HST/product/a'b.fits\x1f..\x1f/\x1f../../etc/passwd\x1fmast:HST/product/a'b.fits\x1f\x1f.\x1fx\x00y"))
	f.Add([]byte("\x01t\x1f'$(id)'\x1f`id`\x1f\"$HOME\"\x1f\\\n\x1fmast:X/y\x1fC\x1fO\x1fsummary.txt\x1fmast:X/z\x1fC\x1fO\x1fsummary.txt"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fields := fuzzFields(data)
		title, rest := fields[0], fields[1:]
		flat := len(title) > 0 && title[0]&1 == 1
		var prods []Product
		for len(rest) >= 4 {
			prods = append(prods, Product{URI: rest[0], ObsCollection: rest[1], ObsID: rest[2], Filename: rest[3]})
			rest = rest[4:]
		}
		paths := DownloadPaths(prods, flat)
		if len(paths) != len(prods) {
			t.Fatalf("%d paths for %d products", len(paths), len(prods))
		}
		for _, p := range paths {
			comps := strings.Split(p, "/")
			if flat && len(comps) != 1 || !flat && (len(comps) != 4 || comps[0] != "mastDownload") {
				t.Fatalf("path %q (flat %v)", p, flat)
			}
			for _, c := range comps {
				if c == "" || c == "." || c == ".." || strings.ContainsRune(c, 0) {
					t.Fatalf("path %q has component %q", p, c)
				}
			}
		}
		// The URLs: the raw URIs themselves, the worst a caller could pass.
		urls := make([]string, len(prods))
		for i, p := range prods {
			urls[i] = p.URI
		}
		script := string(CurlScript(title, paths, urls))
		checkCurlScript(t, script, title, paths, urls)
	})
}

// checkCurlScript parses a CurlScript output strictly.
func checkCurlScript(t *testing.T, script, title string, targets, urls []string) {
	t.Helper()
	header := fmt.Sprintf("#!/bin/sh\n#\n# mastfs download script: %d file(s) of ", len(targets))
	rest, ok := strings.CutPrefix(script, header)
	if !ok {
		t.Fatalf("script starts %q", script[:min(len(script), 80)])
	}
	titleLine, rest, _ := strings.Cut(rest, "\n")
	if titleLine != commentSafe(title) || strings.ContainsAny(titleLine, "\r\n") {
		t.Fatalf("title comment %q for %q", titleLine, title)
	}
	for {
		line, after, _ := strings.Cut(rest, "\n")
		if !strings.HasPrefix(line, "#") {
			break
		}
		rest = after
	}
	rest, ok = strings.CutPrefix(rest, "\n"+curlScriptFunc+"\nstatus=0\n")
	if !ok {
		t.Fatalf("script body after the header: %q", rest[:min(len(rest), 200)])
	}
	// Then exactly one command per target. A quoted word may hold a
	// newline (sh reads it as part of the word), so parse words, not lines.
	for i := range targets {
		cmd, ok := strings.CutPrefix(rest, "mast_get ")
		if !ok {
			t.Fatalf("command %d: %q", i, rest[:min(len(rest), 200)])
		}
		path, cmd, ok1 := shSingleQuoted(cmd)
		cmd, ok2 := strings.CutPrefix(cmd, " ")
		u, cmd, ok3 := shSingleQuoted(cmd)
		cmd, ok4 := strings.CutPrefix(cmd, " || status=1\n")
		if !ok1 || !ok2 || !ok3 || !ok4 {
			t.Fatalf("command %d is not mast_get '<path>' '<url>' || status=1: %q", i, rest[:min(len(rest), 200)])
		}
		if path != targets[i] || u != urls[i] {
			t.Fatalf("command %d: words %q %q, want %q %q", i, path, u, targets[i], urls[i])
		}
		rest = cmd
	}
	if rest != "exit $status\n" {
		t.Fatalf("script ends %q", rest)
	}
}

// shSingleQuoted reads one sh word made only of '...' parts and \' at the
// start of s, as sh reads it, and returns its value and the rest of s.
func shSingleQuoted(s string) (word, rest string, ok bool) {
	var b strings.Builder
	i := 0
	for i < len(s) {
		switch {
		case s[i] == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return "", s, false
			}
			b.WriteString(s[i+1 : i+1+j])
			i += j + 2
		case strings.HasPrefix(s[i:], `\'`):
			b.WriteByte('\'')
			i += 2
		default:
			return b.String(), s[i:], i > 0
		}
	}
	return b.String(), "", i > 0
}

// fuzzConfigTransport answers every request with one body.
type fuzzConfigTransport struct{ body []byte }

func (ft fuzzConfigTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		r.Body.Close()
	}
	return &http.Response{StatusCode: 200, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{},
		Body: io.NopCloser(bytes.NewReader(ft.body)), ContentLength: int64(len(ft.body)), Request: r}, nil
}

// FuzzMetadataCSV: metadata/*.csv from any columns config the archive
// sends: RFC 4180, and encoding/csv reads back exactly the metadata table's
// strings (CRLF inside a value aside, as FuzzTableCSV documents).
func FuzzMetadataCSV(f *testing.F) {
	if b, err := os.ReadFile("../mast/testdata/columnsconfig.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"a": {"text": "x,\"y\"\r\nz", "type": "CHAR", "unit": " m ", "vot.description": "", "example": "\u0000"}, "_selected_": {}, "b": {"remove": true}}`))
	f.Add([]byte(`{"a": {"text": null, "vot.datatype": 5, "vot.unit": ["x"], "example": {"k": 1}}, "b": 1, "c": {}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c := mast.New(mast.Config{BaseURL: "http://mast.invalid",
			HTTPClient: &http.Client{Transport: fuzzConfigTransport{body: data}}})
		cc, err := c.ColumnsConfig(context.Background(), "Mast.Caom.Cone")
		if err != nil {
			return
		}
		tbl := metadataTable(cc)
		out := tableCSV(tbl)
		if len(tbl.Fields) == 0 {
			if len(out) != 0 {
				t.Fatalf("no columns but %q", out)
			}
			return
		}
		want := wantRecords(tbl)
		strict, err := parseRFC4180(out)
		if err != nil || !slices.EqualFunc(strict, want, slices.Equal) {
			t.Fatalf("strict parse: %v\n got %q\nwant %q", err, strict, want)
		}
		got, err := readGoCSV(out)
		if err != nil {
			t.Fatalf("encoding/csv: %v\n%q", err, out)
		}
		for _, rec := range want {
			for i := range rec {
				rec[i] = strings.ReplaceAll(rec[i], "\r\n", "\n")
			}
		}
		if !slices.EqualFunc(got, want, slices.Equal) {
			t.Fatalf("encoding/csv reads back\n %q\nwant\n %q", got, want)
		}
	})
}

// FuzzProductNames: whatever productFilename and dataURI the archive
// sends, the files of a listing have distinct names that are one usable
// path component: not empty, ".", ".." or TOO_MANY_OBSERVATIONS.txt, no
// '/' or NUL, at most 255 bytes, no leading dot (dotfiles are mastfs's own).
func FuzzProductNames(f *testing.F) {
	f.Add([]byte("mast:HST/product/a.fits\x1fa.fits\x1fmast:HST/product/b/a.fits\x1fa.fits"))
	f.Add([]byte("mast:X/..\x1f..\x1fmast:X/.\x1f.\x1fmast:X/\x1f/\x1fmast:X/y\x1f.count\x1fmast:X/z\x1fTOO_MANY_OBSERVATIONS.txt\x1fmast:X/w\x1fa\\..\\b"))
	f.Add([]byte("\x1f\x1f/\x1f\x1fx\x1f///"))
	f.Add([]byte("mast:X/" + strings.Repeat("n", 300) + ".fits\x1f\x1fmast:Y/" + strings.Repeat("n", 300) + ".fits\x1f\x1f///\x1f\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fields := fuzzFields(data)
		prods := &mast.Table{Fields: []mast.Field{{Name: "dataURI"}, {Name: "productFilename"}}}
		seen := map[string]bool{}
		for i := 0; i+1 < len(fields); i += 2 {
			if seen[fields[i]] { // a listing is unique by dataURI
				continue
			}
			seen[fields[i]] = true
			prods.Rows = append(prods.Rows, mast.Row{"dataURI": fields[i], "productFilename": fields[i+1]})
		}
		files := buildFiles(nil, prods)
		names := map[string]bool{}
		for _, p := range files {
			n := p.Name
			if n == "" || n == "." || n == ".." || n == tooManyName || strings.HasPrefix(n, ".") || strings.ContainsRune(n, '/') ||
				strings.ContainsRune(n, 0) || len(n) > 255 {
				t.Fatalf("file name %q (from %q, %q)", n, p.URI, p.Row.Str("productFilename"))
			}
			if names[n] {
				t.Fatalf("two files named %q", n)
			}
			names[n] = true
			_ = utf8.ValidString(n)
		}
	})
}
