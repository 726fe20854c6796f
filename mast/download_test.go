package mast

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const hlaURI = "mast:HLA/url/cgi-bin/fitscut.cgi?red=hst_04819_65_wfpc2_f814w_pc&blue=hst_04819_65_wfpc2_f555w_pc&size=ALL&format=fits"

func productBytes(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(7, 11))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// rawResponse hijacks the connection and writes head and body verbatim,
// then closes: for responses net/http would not produce (short bodies,
// close-delimited bodies).
func rawResponse(w http.ResponseWriter, head string, body []byte) {
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	buf.WriteString(strings.ReplaceAll(head, "\n", "\r\n") + "\r\n")
	buf.Write(body)
	buf.Flush()
}

func TestDownloadURLQuoting(t *testing.T) {
	c := New(Config{BaseURL: "https://mast.example/"})
	want := "https://mast.example/api/v0.1/Download/file?uri=mast:HLA/url/cgi-bin/fitscut.cgi%3Fred%3Dhst_04819_65_wfpc2_f814w_pc%26blue%3Dhst_04819_65_wfpc2_f555w_pc%26size%3DALL%26format%3Dfits"
	if got := c.DownloadURL(hlaURI); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestReadAtAgainstServeContent(t *testing.T) {
	data := productBytes(300_000)
	var requests atomic.Int32
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if r.URL.Path != "/api/v0.1/Download/file" || r.URL.Query().Get("uri") != hlaURI {
			t.Errorf("request %s %s", r.URL.Path, r.URL.RawQuery)
		}
		if r.Header.Get("Authorization") != "token tok" || r.Header.Get("Cookie") != "mast_token=tok" {
			t.Errorf("auth headers %v", r.Header)
		}
		w.Header().Set("ETag", `"v1"`)
		http.ServeContent(w, r, "", time.Unix(1700000000, 0), bytes.NewReader(data))
	}), Config{Token: "tok"})
	ctx := context.Background()

	info, err := c.Head(ctx, hlaURI)
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != int64(len(data)) || info.ETag != `"v1"` || !info.AcceptRanges || info.LastModified.Unix() != 1700000000 {
		t.Errorf("Head = %+v", info)
	}

	r := rand.New(rand.NewPCG(1, 1))
	for i := 0; i < 40; i++ {
		off := r.Int64N(int64(len(data)))
		p := make([]byte, 1+r.IntN(70_000))
		n, err := c.ReadAt(ctx, hlaURI, p, off)
		want := data[off:min(int(off)+len(p), len(data))]
		if n != len(want) || !bytes.Equal(p[:n], want) {
			t.Fatalf("ReadAt(%d, %d) = %d bytes, want %d (equal %v)", off, len(p), n, len(want), bytes.Equal(p[:n], want))
		}
		if (n < len(p)) != (err == io.EOF) || err != nil && err != io.EOF {
			t.Fatalf("ReadAt(%d, %d): n=%d err=%v", off, len(p), n, err)
		}
	}
	// The exact tail is not EOF; past the end is.
	p := make([]byte, 100)
	if n, err := c.ReadAt(ctx, hlaURI, p, int64(len(data))-100); n != 100 || err != nil {
		t.Errorf("tail: %d, %v", n, err)
	}
	if n, err := c.ReadAt(ctx, hlaURI, p, int64(len(data))); n != 0 || err != io.EOF {
		t.Errorf("at size: %d, %v", n, err)
	}
	if n, err := c.ReadAt(ctx, hlaURI, p, int64(len(data))+5000); n != 0 || err != io.EOF {
		t.Errorf("past size: %d, %v", n, err)
	}
	before := requests.Load()
	if n, err := c.ReadAt(ctx, hlaURI, nil, 5); n != 0 || err != nil || requests.Load() != before {
		t.Errorf("empty read: %d, %v", n, err)
	}
}

func TestReadAtServerIgnoresRange(t *testing.T) {
	data := productBytes(50_000)
	for _, framing := range []string{"content-length", "chunked"} {
		t.Run(framing, func(t *testing.T) {
			c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if framing == "content-length" {
					w.Header().Set("Content-Length", fmt.Sprint(len(data)))
				} else {
					w.(http.Flusher).Flush() // headers out before the body: chunked, no length
				}
				w.Write(data)
			}), Config{})
			ctx := context.Background()
			p := make([]byte, 1000)
			if n, err := c.ReadAt(ctx, "mast:X/a.fits", p, 12345); n != 1000 || err != nil || !bytes.Equal(p, data[12345:13345]) {
				t.Errorf("middle: %d, %v", n, err)
			}
			if n, err := c.ReadAt(ctx, "mast:X/a.fits", p, 49_500); n != 500 || err != io.EOF || !bytes.Equal(p[:500], data[49_500:]) {
				t.Errorf("tail: %d, %v", n, err)
			}
			if n, err := c.ReadAt(ctx, "mast:X/a.fits", p, 60_000); n != 0 || err != io.EOF {
				t.Errorf("past end: %d, %v", n, err)
			}
		})
	}
}

func TestReadAtCloseDelimitedBodyIsNotEOF(t *testing.T) {
	data := productBytes(5000)
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rawResponse(w, "HTTP/1.1 200 OK\nConnection: close\n", data)
	}), Config{})
	p := make([]byte, 100)
	if n, err := c.ReadAt(context.Background(), "mast:X/a", p, 100); n != 100 || err != nil || !bytes.Equal(p, data[100:200]) {
		t.Errorf("inside: %d, %v", n, err)
	}
	// The connection closing could be the end or a failure: not EOF.
	if n, err := c.ReadAt(context.Background(), "mast:X/a", p, 4950); !errors.Is(err, ErrServer) {
		t.Errorf("at close: %d, %v; want ErrServer", n, err)
	}
}

func TestReadAtShortRangeIsContinued(t *testing.T) {
	data := productBytes(10_000)
	var ranges []string
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ranges = append(ranges, r.Header.Get("Range"))
		var a, b int
		fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-%d", &a, &b)
		b = min(b, a+999) // the server caps each answer at 1000 bytes
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", a, b, len(data)))
		w.WriteHeader(http.StatusPartialContent)
		w.Write(data[a : b+1])
	}), Config{})
	p := make([]byte, 2500)
	n, err := c.ReadAt(context.Background(), "mast:X/a", p, 100)
	if n != 2500 || err != nil || !bytes.Equal(p, data[100:2600]) {
		t.Fatalf("%d, %v", n, err)
	}
	if strings.Join(ranges, " ") != "bytes=100-2599 bytes=1100-2599 bytes=2100-2599" {
		t.Errorf("ranges %q", ranges)
	}
}

func TestReadAtMisbehaviour(t *testing.T) {
	data := productBytes(1000)
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		want    error
	}{
		{"wrong start", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Range", "bytes 0-99/1000")
			w.WriteHeader(206)
			w.Write(data[:100])
		}, ErrServer},
		{"longer than asked", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Range", "bytes 100-299/1000")
			w.WriteHeader(206)
			w.Write(data[100:300])
		}, ErrServer},
		{"no Content-Range", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(206)
			w.Write(data[100:200])
		}, ErrServer},
		{"garbage Content-Range", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Range", "bytes 100-199/50")
			w.WriteHeader(206)
			w.Write(data[100:200])
		}, ErrServer},
		{"length disagrees with Content-Range", func(w http.ResponseWriter, r *http.Request) {
			rawResponse(w, "HTTP/1.1 206 Partial Content\nContent-Range: bytes 100-199/1000\nContent-Length: 50\n", data[100:150])
		}, ErrServer},
		{"truncated body", func(w http.ResponseWriter, r *http.Request) {
			rawResponse(w, "HTTP/1.1 206 Partial Content\nContent-Range: bytes 100-199/1000\nContent-Length: 100\n", data[100:150])
		}, ErrServer},
		{"truncated chunked body", func(w http.ResponseWriter, r *http.Request) {
			rawResponse(w, "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n", []byte("20\r\n"+string(data[:32])+"\r\n"))
		}, ErrServer},
		{"truncated 200 with length", func(w http.ResponseWriter, r *http.Request) {
			rawResponse(w, "HTTP/1.1 200 OK\nContent-Length: 1000\n", data[:150])
		}, ErrServer},
		{"multipart", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "multipart/byteranges; boundary=x")
			w.Header().Set("Content-Range", "bytes 100-199/1000")
			w.WriteHeader(206)
			w.Write(data[100:200])
		}, ErrServer},
		{"204", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }, ErrServer},
		{"401", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(401) }, ErrUnauthorized},
		{"403", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(403) }, ErrUnauthorized},
		{"404", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(404) }, ErrNotFound},
		{"500", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }, ErrServer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestClient(t, tc.handler, Config{Token: "sekrit"})
			p := make([]byte, 100)
			n, err := c.ReadAt(context.Background(), "mast:X/a", p, 100)
			if !errors.Is(err, tc.want) {
				t.Fatalf("n=%d err=%v, want %v", n, err, tc.want)

			}
			if err == io.EOF || strings.Contains(err.Error(), "sekrit") {
				t.Errorf("err %v", err)
			}
		})
	}
}

func TestReadAtRedirect(t *testing.T) {
	data := productBytes(2000)
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v0.1/Download/file" {
			http.Redirect(w, r, "/files/a.fits", http.StatusFound)
			return
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
	}), Config{})
	p := make([]byte, 10)
	if n, err := c.ReadAt(context.Background(), "mast:X/a", p, 1990); n != 10 || err != nil || !bytes.Equal(p, data[1990:]) {
		t.Errorf("%d, %v", n, err)
	}
}

func TestHeadWithoutLength(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		size    int64
		ranges  bool
	}{
		{"probe 206", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("ETag", `"e"`)
			if r.Method == http.MethodHead {
				return
			}
			w.Header().Set("Content-Range", "bytes 0-0/12345")
			w.WriteHeader(206)
			w.Write([]byte{1})
		}, 12345, true},
		{"HEAD not allowed, probe 200 with length", func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodHead {
				w.WriteHeader(405)
				return
			}
			w.Header().Set("Content-Length", "777")
			w.Write(make([]byte, 777))
		}, 777, false},
		{"dynamic product", func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodHead {
				return
			}
			w.(http.Flusher).Flush()
			w.Write([]byte("generated"))
		}, -1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestClient(t, tc.handler, Config{})
			info, err := c.Head(context.Background(), "mast:HLA/url/cgi-bin/getdata.cgi?filename=x.cat")
			if err != nil {
				t.Fatal(err)
			}
			if info.Size != tc.size || info.AcceptRanges != tc.ranges {
				t.Errorf("Head = %+v", info)
			}
		})
	}
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(401) }), Config{})
	if _, err := c.Head(context.Background(), "mast:X/secret"); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("401: %v", err)
	}
}

func TestOpenStreamsWithoutLength(t *testing.T) {
	data := productBytes(100_000)
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept-Encoding") != "identity" {
			t.Errorf("Accept-Encoding %q", r.Header.Get("Accept-Encoding"))
		}
		w.(http.Flusher).Flush()
		for i := 0; i < len(data); i += 10_000 {
			w.Write(data[i : i+10_000])
			w.(http.Flusher).Flush()
		}
	}), Config{})
	rc, err := c.Open(context.Background(), "mast:HLA/url/cgi-bin/getdata.cgi?filename=x.cat")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(bufio.NewReader(rc))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("%d bytes, %v", len(got), err)
	}
}

func TestOpenStallAndErrors(t *testing.T) {
	release := make(chan struct{})
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.RawQuery, "missing") {
			w.WriteHeader(404)
			return
		}
		w.Header().Set("Content-Length", "1000")
		w.Write(make([]byte, 10))
		w.(http.Flusher).Flush()
		select { // then nothing more
		case <-release:
		case <-r.Context().Done():
		}
	}), Config{Timeout: 100 * time.Millisecond})
	t.Cleanup(func() { close(release) })
	if _, err := c.Open(context.Background(), "mast:missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing: %v", err)
	}
	rc, err := c.Open(context.Background(), "mast:slow")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if len(got) != 10 || !errors.Is(err, ErrServer) || !strings.Contains(err.Error(), "no data") {
		t.Errorf("%d bytes, %v; want 10 and a stall error", len(got), err)
	}
}

func TestBundleScript(t *testing.T) {
	var body, auth string
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		body, auth = string(b), r.Header.Get("Authorization")
		if r.URL.Path != "/api/v0.1/Download/bundle.sh" || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			t.Errorf("%s %v", r.URL.Path, r.Header)
		}
		w.Write([]byte("#!/bin/sh\n"))
	}), Config{Token: "tok"})
	script, err := c.BundleScript(context.Background(), []string{"mast:HST/product/a b.fits", hlaURI})
	if err != nil || string(script) != "#!/bin/sh\n" {
		t.Fatalf("%q, %v", script, err)
	}
	want := "uri=mast%3AHST%2Fproduct%2Fa+b.fits&uri=mast%3AHLA%2Furl%2Fcgi-bin%2Ffitscut.cgi%3Fred%3Dhst_04819_65_wfpc2_f814w_pc%26blue%3Dhst_04819_65_wfpc2_f555w_pc%26size%3DALL%26format%3Dfits"
	if body != want || auth != "token tok" {
		t.Errorf("body %s auth %q", body, auth)
	}
}

func TestParseContentRange(t *testing.T) {
	for s, want := range map[string]string{
		"bytes 0-0/1":      "{0 0 1}",
		"bytes 5-9/*":      "{5 9 -1}",
		"bytes */100":      "{-1 -1 100}",
		"bytes 9-5/100":    "error",
		"bytes 0-100/100":  "error",
		"bits 0-1/2":       "error",
		"bytes 0-1":        "error",
		"bytes a-1/2":      "error",
		" bytes 10-19/20 ": "{10 19 20}",
	} {
		cr, err := parseContentRange(s)
		got := fmt.Sprint(cr)
		if err != nil {
			got = "error"
		}
		if got != want {
			t.Errorf("parseContentRange(%q) = %s, want %s", s, got, want)
		}
	}
}
