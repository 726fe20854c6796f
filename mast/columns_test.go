package mast

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseColumnsConfigKeepsOrder(t *testing.T) {
	cc, err := parseColumnsConfig(ServiceCone, fixture(t, "columnsconfig.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cc.Columns) != 51 {
		t.Fatalf("%d columns, want 51", len(cc.Columns))
	}
	var first []string
	for _, c := range cc.Columns[:6] {
		first = append(first, c.Name)
	}
	if got := strings.Join(first, ","); got != "_selected_,intentType,obs_collection,instrument_name,project,filters" {
		t.Errorf("order %s", got)
	}
	if last := cc.Columns[50].Name; last != "objID1" {
		t.Errorf("last column %s, want objID1", last)
	}
	tmin, ok := cc.Lookup("T_MIN")
	if !ok || tmin.Name != "t_min" || !tmin.MJD() || !tmin.Continuous() || tmin.Units() != "MJD" || tmin.Label() != "Start Time" {
		t.Errorf("t_min: %+v", tmin)
	}
	coll, _ := cc.Lookup("obs_collection")
	if coll.Separator != ";" || coll.Continuous() || coll.Label() != "Mission" || coll.VOTDescription != "Collection" {
		t.Errorf("obs_collection: %+v", coll)
	}
	if c, _ := cc.Lookup("calib_level"); c.Continuous() {
		t.Error("calib_level (int) must be discrete")
	}
	if c, _ := cc.Lookup("dataRights"); c.Datatype() != "string" {
		t.Errorf("dataRights datatype %q, want the type fallback", c.Datatype())
	}
	fov, _ := cc.Lookup("s_fov")
	if !fov.Remove || fmt.Sprint(fov.IgnoreValue) != "0" {
		t.Errorf("s_fov: %+v", fov)
	}
}

func TestParseColumnsConfigEdgeCases(t *testing.T) {
	cc, err := parseColumnsConfig("x", []byte(` {} `))
	if err != nil || len(cc.Columns) != 0 {
		t.Errorf("{}: %v, %v", cc, err)
	}
	for _, body := range []string{"", "null", "[]"} {
		if _, err := parseColumnsConfig("x", []byte(body)); !isServiceError(err) {
			t.Errorf("%q: err = %v, want *ServiceError", body, err)
		}
	}
	if _, err := parseColumnsConfig("x", []byte(`{"a": {"text": "A"`)); !errors.Is(err, ErrServer) {
		t.Errorf("truncated: err = %v, want ErrServer", err)
	}
	cc, err = parseColumnsConfig("x", []byte(`{"a": {"treatNumeric": "yes", "vot.datatype": "int"}, "A": {"type": "double"}, "b": 5}`))
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := cc.Lookup("a"); !a.Continuous() {
		t.Error("treatNumeric must make a column continuous")
	}
	if a, _ := cc.Lookup("A"); a.Type != "double" {
		t.Error("exact-case match must win")
	}
	if b, ok := cc.Lookup("B"); !ok || len(b.Props) != 0 {
		t.Errorf("non-object entry: %+v %v", b, ok)
	}
}

func TestColumnsConfigSingleFlightAndCache(t *testing.T) {
	var hits atomic.Int32
	release := make(chan struct{})
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := make([]byte, 100)
		n, _ := r.Body.Read(body)
		if got := string(body[:n]); got != "colConfigId=Mast.Caom.Cone" {
			t.Errorf("body %q", got)
		}
		if r.URL.Path != "/portal/Mashup/Mashup.asmx/columnsconfig" || r.Header.Get("Accept") != "text/plain" {
			t.Errorf("request %s %v", r.URL.Path, r.Header)
		}
		hits.Add(1)
		<-release
		w.Write(fixture(t, "columnsconfig.json"))
	}), Config{})
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.ColumnsConfig(context.Background(), ServiceCone)
		}()
	}
	// One waiter gives up; the fetch must go on for the others.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := c.ColumnsConfig(ctx, ServiceCone); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("impatient caller: %v", err)
	}
	close(release)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.ColumnsConfig(context.Background(), ServiceCone); err != nil {
		t.Fatal(err)
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestColumnsConfigErrorNotCached(t *testing.T) {
	var hits atomic.Int32
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			w.WriteHeader(502)
			return
		}
		w.Write([]byte(`{"a": {"type": "char"}}`))
	}), Config{Retries: -1}) // no retry: the first call must fail
	if _, err := c.ColumnsConfig(context.Background(), "s"); !errors.Is(err, ErrServer) {
		t.Fatalf("first: %v", err)
	}
	cc, err := c.ColumnsConfig(context.Background(), "s")
	if err != nil || len(cc.Columns) != 1 {
		t.Fatalf("second: %v %v", cc, err)
	}
}

func TestMask(t *testing.T) {
	cc, _ := parseColumnsConfig("x", []byte(`{"s_fov": {"ignoreValue": 0}, "em_resolution": {"ignoreValue": -9999}, "name": {"ignoreValue": "n/a"}}`))
	tab := &Table{Rows: []Row{
		{"s_fov": jsonNum("0.0"), "em_resolution": jsonNum("-9999"), "name": "n/a"},
		{"s_fov": jsonNum("0.5"), "em_resolution": jsonNum("3"), "name": "x"},
	}}
	cc.Mask(tab)
	if tab.Rows[0]["s_fov"] != nil || tab.Rows[0]["em_resolution"] != nil || tab.Rows[0]["name"] != nil {
		t.Errorf("row 0 not masked: %v", tab.Rows[0])
	}
	if tab.Rows[1]["s_fov"] == nil || tab.Rows[1]["name"] == nil {
		t.Errorf("row 1 masked: %v", tab.Rows[1])
	}
}
