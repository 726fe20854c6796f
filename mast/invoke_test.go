package mast

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// pagedServer serves n rows in pages of at most perPage rows, whatever
// page size the client asks for, like a server with a page-size cap.
func pagedServer(t *testing.T, n, perPage int, got *[]mashupRequest, mu *sync.Mutex) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		req := readMashupRequest(t, r)
		mu.Lock()
		*got = append(*got, req)
		mu.Unlock()
		pages := (n + perPage - 1) / perPage
		var rows []string
		for i := (req.Page - 1) * perPage; i < min(n, req.Page*perPage); i++ {
			rows = append(rows, fmt.Sprintf(`{"obsid": %d, "_selected_": null, "s_ra": 1.5}`, 9000000000000000001+i))
		}
		fmt.Fprintf(w, `{"status": "COMPLETE", "msg": "", "data": [%s], "fields": [{"name": "obsid", "type": "string"}, {"name": "_selected_", "type": "boolean"}, {"name": "s_ra", "type": "float"}], "paging": {"page": %d, "pageSize": %d, "pagesFiltered": %d, "rows": %d, "rowsFiltered": %d, "rowsTotal": %d}}`,
			strings.Join(rows, ", "), req.Page, perPage, pages, len(rows), n, n)
	}
}

func TestInvokePagingFollowsServerPages(t *testing.T) {
	var got []mashupRequest
	var mu sync.Mutex
	c := newTestClient(t, pagedServer(t, 7, 3, &got, &mu), Config{})
	tab, err := c.Invoke(context.Background(), ServiceCone, Params{{"ra", 1.0}}, InvokeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(tab.Rows) != 7 || len(got) != 3 {
		t.Fatalf("%d rows in %d requests, want 7 in 3", len(tab.Rows), len(got))
	}
	for i, r := range got {
		if r.Page != i+1 || r.PageSize != DefaultPageSize {
			t.Errorf("request %d asked page %d size %d", i, r.Page, r.PageSize)
		}
	}
	// astroquery gets page N+1 by rewriting "page": N, in the encoded body.
	want := strings.Replace(got[0].Raw, "page%22%3A%201%2C", "page%22%3A%202%2C", 1)
	if got[1].Raw != want {
		t.Errorf("page 2 body differs from astroquery's rewrite:\n got %s\nwant %s", got[1].Raw, want)
	}
	if names := fieldNames(tab); names != "obsid,s_ra" {
		t.Errorf("fields %s, want obsid,s_ra (_selected_ dropped)", names)
	}
	if _, ok := tab.Rows[0]["_selected_"]; ok {
		t.Error("_selected_ kept in rows")
	}
	if v := tab.Rows[6]["obsid"]; v != json.Number("9000000000000000007") {
		t.Errorf("obsid %v (%T): precision lost", v, v)
	}
}

func fieldNames(t *Table) string {
	var s []string
	for _, f := range t.Fields {
		s = append(s, f.Name)
	}
	return strings.Join(s, ",")
}

func TestInvokeSinglePage(t *testing.T) {
	var got []mashupRequest
	var mu sync.Mutex
	c := newTestClient(t, pagedServer(t, 7, 3, &got, &mu), Config{})
	tab, err := c.Invoke(context.Background(), ServiceCone, nil, InvokeOptions{Page: 2, PageSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Page != 2 || got[0].PageSize != 3 || len(tab.Rows) != 3 {
		t.Fatalf("%d requests, %d rows", len(got), len(tab.Rows))
	}
}

func TestInvokePollsExecuting(t *testing.T) {
	var bodies []string
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bodies = append(bodies, readMashupRequest(t, r).Raw)
		if len(bodies) <= 3 {
			fmt.Fprint(w, `{"status": "EXECUTING", "msg": ""}`)
			return
		}
		w.Write(fixture(t, "countsResp.json"))
	}), Config{})
	tab, err := c.Invoke(context.Background(), ServiceFiltered, nil, InvokeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(bodies) != 4 || len(tab.Rows) != 1 {
		t.Fatalf("%d requests, %d rows", len(bodies), len(tab.Rows))
	}
	for _, b := range bodies[1:] {
		if b != bodies[0] {
			t.Errorf("poll body changed:\n%s\n%s", b, bodies[0])
		}
	}
	want := []time.Duration{pollFirstDelay, 2 * pollFirstDelay, 4 * pollFirstDelay}
	if fmt.Sprint(c.sleeps) != fmt.Sprint(want) {
		t.Errorf("backoff %v, want %v", c.sleeps, want)
	}
}

func TestInvokePollBackoffIsCapped(t *testing.T) {
	n := 0
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n++; n < 10 {
			fmt.Fprint(w, `{"status": "EXECUTING"}`)
			return
		}
		w.Write(fixture(t, "countsResp.json"))
	}), Config{})
	if _, err := c.Invoke(context.Background(), ServiceFiltered, nil, InvokeOptions{}); err != nil {
		t.Fatal(err)
	}
	if last := c.sleeps[len(c.sleeps)-1]; last != pollMaxDelay {
		t.Errorf("last delay %v, want the cap %v", last, pollMaxDelay)
	}
}

func TestInvokePollDeadline(t *testing.T) {
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"status": "EXECUTING"}`)
	}), Config{PollDeadline: 30 * time.Millisecond})
	c.sleep = sleepCtx // really wait, so the deadline passes
	_, err := c.Invoke(context.Background(), ServiceFiltered, nil, InvokeOptions{})
	if !errors.Is(err, ErrServer) || !strings.Contains(err.Error(), "EXECUTING") {
		t.Fatalf("err = %v, want ErrServer still EXECUTING", err)
	}
}

func TestInvokeTimeoutAppliesToPolling(t *testing.T) {
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"status": "EXECUTING"}`)
	}), Config{Timeout: 50 * time.Millisecond})
	c.sleep = sleepCtx
	_, err := c.Invoke(context.Background(), ServiceFiltered, nil, InvokeOptions{})
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrServer) {
		t.Fatalf("err = %v, want a deadline error", err)
	}
}

func TestInvokeLoopGuards(t *testing.T) {
	for name, answer := range map[string]string{
		"same page again": `{"status": "COMPLETE", "data": [{"a": 1}], "fields": [{"name": "a", "type": "int"}], "paging": {"page": 1, "pagesFiltered": 3}}`,
		"empty page":      `{"status": "COMPLETE", "data": [], "fields": [], "paging": {"page": %d, "pagesFiltered": 1000000}}`,
	} {
		t.Run(name, func(t *testing.T) {
			n := 0
			c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n++
				page := readMashupRequest(t, r).Page
				if strings.Contains(answer, "%d") {
					fmt.Fprintf(w, answer, page)
				} else {
					fmt.Fprint(w, answer)
				}
			}), Config{})
			_, err := c.Invoke(context.Background(), ServiceFiltered, nil, InvokeOptions{})
			if !errors.Is(err, ErrServer) {
				t.Fatalf("err = %v, want ErrServer", err)
			}
			if n > 2 {
				t.Errorf("%d requests before giving up", n)
			}
		})
	}
}

func TestInvokeErrors(t *testing.T) {
	const token = "56a9cf3df4c04052atest43feb87f282"
	for _, tc := range []struct {
		name   string
		status int
		body   string
		check  func(error) bool
	}{
		{"status ERROR", 200, `{"status": "ERROR", "msg": "Error converting data type varchar to bigint."}`, func(err error) bool {
			var se *ServiceError
			return errors.As(err, &se) && se.Msg == "Error converting data type varchar to bigint." && se.Service == ServiceProducts
		}},
		{"empty object", 200, `{}`, isServiceError},
		{"empty list", 200, `[]`, isServiceError},
		{"null", 200, `null`, isServiceError},
		{"no body", 200, ``, isServiceError},
		{"not JSON", 200, `<html>oops</html>`, isServer},
		{"no status", 200, `{"data": []}`, isServer},
		{"500", 500, `boom`, isServer},
		{"503", 503, ``, isServer},
		{"401", 401, `no`, func(err error) bool { return errors.Is(err, ErrUnauthorized) }},
		{"403", 403, `no`, func(err error) bool { return errors.Is(err, ErrUnauthorized) }},
		{"404", 404, `no`, func(err error) bool { return errors.Is(err, ErrNotFound) }},
		{"token echoed in msg", 200, `{"status": "ERROR", "msg": "bad token ` + token + `"}`, isServiceError},
		{"token echoed in body", 401, `token ` + token + ` rejected`, func(err error) bool { return errors.Is(err, ErrUnauthorized) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			}), Config{Token: token})
			_, err := c.Invoke(context.Background(), ServiceProducts, Params{{"obsid", "U9O40504M"}}, InvokeOptions{})
			if err == nil || !tc.check(err) {
				t.Fatalf("err = %v (%T)", err, err)
			}
			if strings.Contains(err.Error(), token) {
				t.Errorf("token in error: %v", err)
			}
		})
	}
}

func isServiceError(err error) bool {
	var se *ServiceError
	return errors.As(err, &se)
}

func isServer(err error) bool { return errors.Is(err, ErrServer) }

func TestInvokeTransportErrorIsServer(t *testing.T) {
	c := New(Config{BaseURL: "http://127.0.0.1:1"}) // nothing listens on port 1
	_, err := c.Invoke(context.Background(), ServiceCone, nil, InvokeOptions{})
	if !errors.Is(err, ErrServer) {
		t.Fatalf("err = %v, want ErrServer", err)
	}
}

func TestInvokeCancelIsNotServerError(t *testing.T) {
	release := make(chan struct{})
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}), Config{})
	t.Cleanup(func() { close(release) }) // runs before the server closes
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	_, err := c.Invoke(ctx, ServiceCone, nil, InvokeOptions{})
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrServer) {
		t.Fatalf("err = %v, want context.Canceled only", err)
	}
}

func TestArchiveHeadersAndToken(t *testing.T) {
	const token = "secret-token-123"
	var h http.Header
	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h = r.Header.Clone()
		w.Write(fixture(t, "countsResp.json"))
	}), Config{Token: token, UserAgent: "mastfs-test", Logger: logger})
	c.log.Debug("config", "cfg", c.Config())
	if _, err := c.Invoke(context.Background(), ServiceFiltered, nil, InvokeOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "/api/v0/invoke") {
		t.Errorf("no request logged: %s", logs.String())
	}
	if strings.Contains(logs.String(), token) {
		t.Errorf("token in logs: %s", logs.String())
	}
	for k, want := range map[string]string{
		"Content-Type":  "application/x-www-form-urlencoded",
		"Accept":        "text/plain",
		"User-Agent":    "mastfs-test",
		"Authorization": "token " + token,
		"Cookie":        "mast_token=" + token,
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if s := fmt.Sprint(c.Config()); strings.Contains(s, token) {
		t.Errorf("Config prints the token: %s", s)
	}
}
