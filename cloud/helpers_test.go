package cloud

import (
	"bytes"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// seenRequest is what the S3 server saw of one request.
type seenRequest struct {
	Method, Path, RawQuery string
	Header                 http.Header
}

// fakeS3 is an in-process gofakes3 with one bucket and a request log.
type fakeS3 struct {
	URL     string
	Backend *s3mem.Backend
	Bucket  string

	mu   sync.Mutex
	seen []seenRequest
}

// newFakeS3 starts gofakes3 (plain HTTP, or TLS when tlsServer) holding objects.
func newFakeS3(t testing.TB, objects map[string][]byte, tlsServer bool) (*fakeS3, *httptest.Server) {
	t.Helper()
	f := &fakeS3{Backend: s3mem.New(), Bucket: "stpubdata"}
	if err := f.Backend.CreateBucket(f.Bucket); err != nil {
		t.Fatal(err)
	}
	for k, v := range objects {
		f.put(t, k, v)
	}
	h := gofakes3.New(f.Backend, gofakes3.WithLogger(gofakes3.DiscardLog())).Server()
	wrapped := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.seen = append(f.seen, seenRequest{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone()})
		f.mu.Unlock()
		h.ServeHTTP(w, r)
	})
	var srv *httptest.Server
	if tlsServer {
		srv = httptest.NewTLSServer(wrapped)
	} else {
		srv = httptest.NewServer(wrapped)
	}
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f, srv
}

func (f *fakeS3) put(t testing.TB, key string, data []byte) {
	t.Helper()
	_, err := f.Backend.PutObject(f.Bucket, key, map[string]string{
		"Content-Type":  "application/octet-stream",
		"Last-Modified": time.Now().UTC().Format(http.TimeFormat),
	}, bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		t.Fatal(err)
	}
}

func (f *fakeS3) requests() []seenRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seenRequest(nil), f.seen...)
}

func (f *fakeS3) client(t testing.TB) *Client {
	t.Helper()
	c, err := New(Config{Endpoint: f.URL, Bucket: f.Bucket, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x5eed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}
