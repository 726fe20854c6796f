package fs

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mastfs/mastfs/mast"
	"github.com/mastfs/mastfs/mast/mastemu"
)

func TestMissionSpec(t *testing.T) {
	base, _ := RootSpec(KindCriteria, "")
	for _, name := range []string{"HST", "K2FFI", "SPITZER_SHA", "FIMS-SPEAR", "KeplerFFI", "PS1"} {
		spec, ok := missionSpec(name)
		if !ok {
			t.Errorf("%q: rejected", name)
			continue
		}
		crit, err := base.With("obs_collection=" + name)
		if err != nil || spec.Key() != crit.Key() || spec.QueryKey() != crit.QueryKey() {
			t.Errorf("missions/%s/ key %q, want criteria/obs_collection=%s/ key %q (%v)", name, spec.Key(), name, crit.Key(), err)
		}
	}
	// Names the criterion grammar would read as something else.
	for _, name := range []string{"", ".", "..", "A,B", "TESS*", "HS%", "a%2Fb", "a/b", "1..2", "a\x00b"} {
		if _, ok := missionSpec(name); ok {
			t.Errorf("%q: accepted as a mission directory", name)
		}
	}
}

// TestMissionsDir: missions/ lists list_missions (sorted as astroquery
// sorts it, fetched once per TTL), and missions/HST/ is
// criteria/obs_collection=HST/: the same listing, product inodes, count,
// tables and sub-directories, from one cache entry.
func TestMissionsDir(t *testing.T) {
	cat := mastemu.Generate(3, 200, 4)
	m := mountForTest(t, mountConfig{catalog: cat, maxObs: 100000})
	if root := listDir(t, m.Dir); !slices.Contains(root, "missions") || !slices.Contains(root, "metadata") {
		t.Fatalf("root lists %v, want missions and metadata", root)
	}
	want := cat.Missions()
	sort.Strings(want)
	m.Emu.ResetStats()
	got := listDir(t, m.Path("missions"))
	if !slices.Equal(got, want) || len(want) < 2 {
		t.Fatalf("missions/ lists %v, want %v", got, want)
	}
	// In readdir order too: sorted bytewise, as list_missions sorts.
	d, err := os.Open(m.Path("missions"))
	if err != nil {
		t.Fatal(err)
	}
	order, err := d.Readdirnames(-1)
	d.Close()
	if err != nil || !slices.Equal(order, want) {
		t.Fatalf("missions/ readdir order %v, want %v (%v)", order, want, err)
	}
	if _, err := os.Stat(m.Path("missions", "HST")); err != nil {
		t.Fatal(err)
	}
	if n := m.Emu.Stats().Services[mast.ServiceAll]; n != 1 {
		t.Fatalf("%d Mast.Caom.All requests for two listings and a lookup, want 1", n)
	}

	crit, mis := m.Path("criteria", "obs_collection=HST"), m.Path("missions", "HST")
	names := listDir(t, crit)
	m.Emu.ResetStats()
	misNames := listDir(t, mis)
	if !slices.Equal(names, misNames) || len(names) == 0 {
		t.Fatalf("missions/HST lists %d files, criteria/obs_collection=HST %d (want equal, non-zero)", len(misNames), len(names))
	}
	if st := m.Emu.Stats(); st.Services[mast.ServiceFiltered] != 0 || st.Services[mast.ServiceProducts] != 0 {
		t.Fatalf("missions/HST queried the archive again: %v", st.Services)
	}
	for _, n := range names[:3] {
		if a, b := inoOf(t, crit+"/"+n), inoOf(t, mis+"/"+n); a != b {
			t.Fatalf("%s is inode %d in missions/HST, %d in criteria/obs_collection=HST", n, b, a)
		}
	}
	// readdir and lookup agree on the inodes of missions/*.
	inos := direntInodes(t, m.Path("missions"))
	for _, mission := range want {
		if a, b := inos[mission], inoOf(t, m.Path("missions", mission)); a != b {
			t.Errorf("missions/%s: readdir says inode %d, stat %d", mission, a, b)
		}
	}
	for _, f := range []string{".count", ".observations.csv", ".products.csv"} {
		a, errA := os.ReadFile(crit + "/" + f)
		b, errB := os.ReadFile(mis + "/" + f)
		if errA != nil || errB != nil || !bytes.Equal(a, b) || len(a) == 0 {
			t.Fatalf("%s differs: %v %v (%d vs %d bytes)", f, errA, errB, len(a), len(b))
		}
	}
	sub := "@productType=SCIENCE"
	if a, b := listDir(t, crit+"/"+sub), listDir(t, mis+"/"+sub); !slices.Equal(a, b) || len(a) == 0 || len(a) >= len(names) {
		t.Fatalf("missions/HST/%s lists %d, criteria %d, of %d", sub, len(b), len(a), len(names))
	}
	for _, mission := range want {
		if len(listDir(t, m.Path("missions", mission))) == 0 {
			t.Errorf("missions/%s is empty", mission)
		}
	}
}

// direntInodes reads a directory's entries with getdents64 and returns
// their inode numbers by name.
func direntInodes(t *testing.T, dir string) map[string]uint64 {
	t.Helper()
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]uint64{}
	buf := make([]byte, 64<<10)
	for {
		n, err := syscall.ReadDirent(int(f.Fd()), buf)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return out
		}
		for b := buf[:n]; len(b) >= 19; {
			// struct linux_dirent64: ino u64, off s64, reclen u16, type u8, name.
			ino := binary.NativeEndian.Uint64(b[0:8])
			reclen := int(binary.NativeEndian.Uint16(b[16:18]))
			name := b[19:reclen]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			out[string(name)] = ino
			b = b[reclen:]
		}
	}
}

// TestMissionsListRefreshesAfterTTL: the list is fetched again once the
// query TTL has passed.
func TestMissionsListRefreshesAfterTTL(t *testing.T) {
	m := mountForTest(t, mountConfig{catalog: mastemu.Generate(3, 50, 1), ttl: 300 * time.Millisecond})
	listDir(t, m.Path("missions"))
	listDir(t, m.Path("missions"))
	if n := m.Emu.Stats().Services[mast.ServiceAll]; n != 1 {
		t.Fatalf("%d Mast.Caom.All requests within the TTL, want 1", n)
	}
	time.Sleep(400 * time.Millisecond)
	listDir(t, m.Path("missions"))
	if n := m.Emu.Stats().Services[mast.ServiceAll]; n != 2 {
		t.Fatalf("%d Mast.Caom.All requests after the TTL, want 2", n)
	}
}

// TestUnknownMissionIsENOENT: a name list_missions does not give is ENOENT,
// and the log says why, suggesting the name that differs only in case.
func TestUnknownMissionIsENOENT(t *testing.T) {
	m := mountForTest(t, mountConfig{catalog: mastemu.Generate(3, 50, 1)})
	for _, tc := range []struct{ name, logWants string }{
		{"hst", "Mission 'hst' does not exist. Did you mean 'HST'?"},
		{"NOPE", "Mission 'NOPE' does not exist"},
	} {
		if _, err := os.Stat(m.Path("missions", tc.name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("stat missions/%s: %v, want ENOENT", tc.name, err)
		}
		if !strings.Contains(m.Logs(), tc.logWants) {
			t.Errorf("the log does not say %q", tc.logWants)
		}
	}
	if strings.Contains(m.Logs(), "Did you mean 'NOPE") || strings.Count(m.Logs(), "Did you mean") != 1 {
		t.Errorf("a suggestion where none exists:\n%s", m.Logs())
	}
}

// rawColumnsConfig fetches a columns config from the emulator and returns
// its keys in server order with their properties.
func rawColumnsConfig(t *testing.T, base, service string) ([]string, map[string]map[string]any) {
	t.Helper()
	resp, err := http.Post(base+"/portal/Mashup/Mashup.asmx/columnsconfig", "application/x-www-form-urlencoded",
		strings.NewReader("colConfigId="+url.QueryEscape(service)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	keys := orderedKeys(t, raw)
	props := map[string]map[string]any{}
	if err := json.Unmarshal(raw, &props); err != nil {
		t.Fatal(err)
	}
	return keys, props
}

// orderedKeys returns the keys of a JSON object in document order.
func orderedKeys(t *testing.T, raw []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %v %v", tok, err)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

var metadataHeader = []string{"Column Name", "Column Label", "Data Type", "Units", "Description", "Examples/Valid Values"}

// TestMetadataFiles: metadata/observations.csv and metadata/products.csv
// are get_metadata's tables: checked against the rules and the documented
// rows, and (where /usr/bin/python3 has astroquery) against astroquery
// 0.4.6's own Observations.get_metadata on the same emulator, cell by cell,
// and loaded back with Python's csv and astropy.
func TestMetadataFiles(t *testing.T) {
	m := mountForTest(t, mountConfig{})
	if names := listDir(t, m.Path("metadata")); !slices.Equal(names, []string{"observations.csv", "products.csv"}) {
		t.Fatalf("metadata/ lists %v", names)
	}
	files := map[string]string{"observations": mast.ServiceCone, "products": mast.ServiceProducts}
	spot := map[string]map[string][]string{ // documented rows (protocol §4.2), by Column Name
		"observations": {
			"intentType":     {"intentType", "Observation Type", "string", "", "Whether observation is for science or calibration.", "Valid values: science, calibration"},
			"obs_collection": {"obs_collection", "Mission", "string", "", "Collection", ""},
			"t_min":          {"t_min", "Start Time", "float", "MJD", "Observation start datetime", "May be displayed in the Portal as YYY-MM-DD HH:MM, but should be searched as MJD"},
			"s_region":       {"s_region", "s_region", "string", "ICRS Shape", "STC/S Footprint", "Will be ICRS circle or polygon. E.g. CIRCLE ICRS 17.71740689 -58.40043015 0.625"},
			"obsid":          {"obsid", "Product Group ID", "integer", "", "Database identifier for obs_id", "Long integer, e.g. 2007590987"},
			"mtFlag":         {"mtFlag", "Moving Target", "boolean", "", "Moving Target Flag", "*Not available yet"},
			"s_ra":           {"s_ra", "RA", "float", "deg", "Observation Right Ascension", "May be displayed in the Portal as hh:mm:ss.sss, but should be searched as decimal"},
		},
		"products": {
			"obs_id":       {"obs_id", "Observation ID", "string", "", "Observation identifier, given by mission", "U24Z0101T, N4QF18030"},
			"obsID":        {"obsID", "Product Group ID", "integer", "", "Database identifier for obs_id", "Long integer, e.g. 2007590987"},
			"size":         {"size", "Size", "integer", "bytes", "File size in bytes; null when the file is generated on request", ""},
			"parent_obsid": nil,
		},
	}
	got := map[string][][]string{}
	for kind, service := range files {
		path := m.Path("metadata", kind+".csv")
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := parseRFC4180(b)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		got[kind] = recs
		if !slices.Equal(recs[0], metadataHeader) {
			t.Fatalf("%s header %q, want %q", kind, recs[0], metadataHeader)
		}
		// The rows are the config's keys in server order, without
		// _selected_ and removed columns.
		keys, props := rawColumnsConfig(t, m.URL, service)
		var wantNames []string
		for _, k := range keys {
			if r, _ := props[k]["remove"].(bool); k != "_selected_" && !r {
				wantNames = append(wantNames, k)
			}
		}
		var names []string
		byName := map[string][]string{}
		for _, r := range recs[1:] {
			names = append(names, r[0])
			byName[r[0]] = r
		}
		if !slices.Equal(names, wantNames) {
			t.Fatalf("%s rows\n %q\nwant (config order, no _selected_, no removed)\n %q", kind, names, wantNames)
		}
		for name, row := range spot[kind] {
			if _, ok := byName[name]; !ok {
				t.Errorf("%s: no row for %s", kind, name)
			} else if row != nil && !slices.Equal(byName[name], row) {
				t.Errorf("%s row %s\n %q\nwant\n %q", kind, name, byName[name], row)
			}
		}
	}

	requirePythonModule(t, "astroquery.mast")
	aq := astroqueryMetadata(t, m.URL)
	for kind, recs := range got {
		want := aq[kind]
		if !slices.EqualFunc(recs, want, slices.Equal) {
			t.Errorf("metadata/%s.csv differs from astroquery's get_metadata(%q):\n got %q\nwant %q", kind, kind, recs, want)
		}
		tbl := &mast.Table{RowsFiltered: -1}
		for _, h := range want[0] {
			tbl.Fields = append(tbl.Fields, mast.Field{Name: h, Type: "string"})
		}
		for _, r := range want[1:] {
			row := mast.Row{}
			for i, h := range want[0] {
				row[h] = r[i]
			}
			tbl.Rows = append(tbl.Rows, row)
		}
		checkLoaded(t, loadWithPython(t, m.Path("metadata", kind+".csv"), "", tbl), tbl)
	}
}

// astroqueryMetadata runs astroquery's Observations.get_metadata against
// the emulator (with mast/mastemu/testdata/fidelity.py) and returns each
// table as records: the column names, then the rows.
func astroqueryMetadata(t *testing.T, server string) map[string][][]string {
	t.Helper()
	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o755); err != nil {
		t.Fatal(err)
	}
	plan, _ := json.Marshal(map[string]any{"server": server, "token": "", "workdir": work, "cases": []map[string]any{
		{"id": "observations", "op": "get_metadata", "args": map[string]any{"query_type": "observations"}},
		{"id": "products", "op": "get_metadata", "args": map[string]any{"query_type": "products"}},
	}})
	planFile, outFile := filepath.Join(dir, "plan.json"), filepath.Join(dir, "out.json")
	if err := os.WriteFile(planFile, plan, 0o644); err != nil {
		t.Fatal(err)
	}
	runTablesPython(t, "../mast/mastemu/testdata/fidelity.py", planFile, outFile)
	raw, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Version string `json:"astroquery_version"`
		Results map[string]struct {
			Value json.RawMessage `json:"value"`
			Error string          `json:"error"`
		} `json:"results"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	t.Logf("astroquery %s", out.Version)
	tables := map[string][][]string{}
	for kind, r := range out.Results {
		if r.Error != "" {
			t.Fatalf("astroquery get_metadata(%q): %s", kind, r.Error)
		}
		var rows []json.RawMessage
		if err := json.Unmarshal(r.Value, &rows); err != nil || len(rows) == 0 {
			t.Fatalf("get_metadata(%q): %v (%d rows)", kind, err, len(rows))
		}
		cols := orderedKeys(t, rows[0]) // astroquery's column order
		recs := [][]string{cols}
		for _, raw := range rows {
			var row map[string]any
			if err := json.Unmarshal(raw, &row); err != nil {
				t.Fatal(err)
			}
			rec := make([]string, len(cols))
			for i, c := range cols {
				s, ok := row[c].(string)
				if !ok && row[c] != nil {
					t.Fatalf("get_metadata(%q) %s is %#v, not text", kind, c, row[c])
				}
				rec[i] = s
			}
			recs = append(recs, rec)
		}
		tables[kind] = recs
	}
	return tables
}
