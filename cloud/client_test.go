package cloud

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func TestHead(t *testing.T) {
	data := randomBytes(1, 12345)
	f, _ := newFakeS3(t, map[string][]byte{"hst/public/u9o4/u9o40504m/u9o40504m_c3m.fits": data}, false)
	c := f.client(t)
	size, etag, err := c.Head(context.Background(), "hst/public/u9o4/u9o40504m/u9o40504m_c3m.fits")
	if err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum(data)
	if size != int64(len(data)) || strings.Trim(etag, `"`) != hex.EncodeToString(sum[:]) {
		t.Fatalf("Head = %d, %s; want %d, md5 %x", size, etag, len(data), sum)
	}
	_, _, err = c.Head(context.Background(), "hst/public/nope.fits")
	var nf *NotFoundError
	if !errors.Is(err, ErrNotFound) || !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &nf) || nf.Key != "hst/public/nope.fits" {
		t.Fatalf("Head of a missing key: %v (%T), want a *NotFoundError", err, err)
	}
	if st := c.Stats(); st.Heads != 2 || st.Errors != 0 {
		t.Fatalf("stats %+v, want 2 heads and no errors (not found is no error)", st)
	}
}

func TestReadAtExact(t *testing.T) {
	const size = 3<<20 + 17
	data := randomBytes(2, size)
	f, _ := newFakeS3(t, map[string][]byte{"k/obj.fits": data}, false)
	c := f.client(t)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 200; i++ {
		off := r.Int64N(size)
		n := 1 + r.IntN(300<<10)
		p := make([]byte, n)
		got, err := c.ReadAt(ctx, "k/obj.fits", p, off)
		want := min(int64(n), size-off)
		switch {
		case int64(got) != want:
			t.Fatalf("ReadAt(%d, %d) = %d, want %d (err %v)", off, n, got, want, err)
		case want < int64(n) && err != io.EOF:
			t.Fatalf("ReadAt(%d, %d) past the end: err %v, want io.EOF", off, n, err)
		case want == int64(n) && err != nil:
			t.Fatalf("ReadAt(%d, %d): %v", off, n, err)
		}
		if !bytes.Equal(p[:got], data[off:off+int64(got)]) {
			t.Fatalf("ReadAt(%d, %d): wrong bytes", off, n)
		}
	}
	// Edges: exactly to the end, at the end, past it, empty, negative.
	p := make([]byte, 100)
	if n, err := c.ReadAt(ctx, "k/obj.fits", p, size-100); n != 100 || err != nil || !bytes.Equal(p, data[size-100:]) {
		t.Fatalf("read ending at EOF: %d, %v", n, err)
	}
	if n, err := c.ReadAt(ctx, "k/obj.fits", p, size); n != 0 || err != io.EOF {
		t.Fatalf("read at EOF: %d, %v; want 0, io.EOF", n, err)
	}
	if n, err := c.ReadAt(ctx, "k/obj.fits", p, size+1000); n != 0 || err != io.EOF {
		t.Fatalf("read past EOF: %d, %v; want 0, io.EOF", n, err)
	}
	if n, err := c.ReadAt(ctx, "k/obj.fits", nil, 5); n != 0 || err != nil {
		t.Fatalf("empty read: %d, %v", n, err)
	}
	if _, err := c.ReadAt(ctx, "k/obj.fits", p, -1); err == nil {
		t.Fatal("negative offset accepted")
	}
	if _, err := c.ReadAt(ctx, "k/missing.fits", p, 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("read of a missing key: %v, want ErrNotFound", err)
	}
	// Every GET was ranged.
	for _, r := range f.requests() {
		if r.Method == http.MethodGet && !strings.HasPrefix(r.Header.Get("Range"), "bytes=") {
			t.Fatalf("GET without Range: %+v", r)
		}
	}
}

// TestAnonymousWhateverTheEnvironment: AWS variables and files in the
// environment must not make mastfs sign its requests (a developer's key
// fails against a gateway that checks it, and leaks to a third party).
func TestAnonymousWhateverTheEnvironment(t *testing.T) {
	dir := t.TempDir()
	creds := filepath.Join(dir, "credentials")
	os.WriteFile(creds, []byte("[default]\naws_access_key_id = AKIAFILEGARBAGE\naws_secret_access_key = filesecret\n"), 0o600)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAGARBAGEGARBAGE00")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "garbage/secret/garbage")
	t.Setenv("AWS_SESSION_TOKEN", "garbage-session-token")
	t.Setenv("AWS_PROFILE", "no-such-profile")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", creds)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "missing-config"))
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
	t.Setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:1")
	t.Setenv("AWS_REGION", "eu-west-3")

	data := randomBytes(5, 5000)
	f, _ := newFakeS3(t, map[string][]byte{"hst/public/a/b.fits": data}, false)
	c := f.client(t)
	ctx := context.Background()
	if _, _, err := c.Head(ctx, "hst/public/a/b.fits"); err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 1000)
	if n, err := c.ReadAt(ctx, "hst/public/a/b.fits", p, 10); n != 1000 || err != nil || !bytes.Equal(p, data[10:1010]) {
		t.Fatalf("ReadAt: %d, %v", n, err)
	}
	reqs := f.requests()
	if len(reqs) != 2 {
		t.Fatalf("server saw %d requests, want 2 (HEAD, GET)", len(reqs))
	}
	for _, r := range reqs {
		if a := r.Header.Get("Authorization"); a != "" {
			t.Errorf("%s %s signed: Authorization %q", r.Method, r.Path, a)
		}
		if tok := r.Header.Get("X-Amz-Security-Token"); tok != "" {
			t.Errorf("%s %s carries the session token", r.Method, r.Path)
		}
		if strings.Contains(r.RawQuery, "X-Amz-Signature") || strings.Contains(r.RawQuery, "X-Amz-Credential") {
			t.Errorf("%s %s presigned: %s", r.Method, r.Path, r.RawQuery)
		}
		if !strings.HasPrefix(r.Path, "/stpubdata/") {
			t.Errorf("%s %s: not path-style", r.Method, r.Path)
		}
	}

	// The check can fail: the same server sees the header of a signed client.
	signed := s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(f.URL),
		UsePathStyle: true,
		Credentials:  aws.NewCredentialsCache(staticCreds{}),
	})
	if _, err := signed.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("stpubdata"), Key: aws.String("hst/public/a/b.fits")}); err != nil {
		t.Fatal(err)
	}
	reqs = f.requests()
	if a := reqs[len(reqs)-1].Header.Get("Authorization"); !strings.HasPrefix(a, "AWS4-HMAC-SHA256") {
		t.Fatalf("a signed request shows Authorization %q; the check above proves nothing", a)
	}
}

type staticCreds struct{}

func (staticCreds) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: "AKIASIGNED", SecretAccessKey: "secret", Source: "test"}, nil
}

// TestCABundle: TLS is verified; AWS_CA_BUNDLE adds trusted roots (and
// does not break the client, as it does with the SDK's default loader).
func TestCABundle(t *testing.T) {
	data := randomBytes(6, 777)
	f, srv := newFakeS3(t, map[string][]byte{"x/y.fits": data}, true)
	ctx := context.Background()

	t.Setenv("AWS_CA_BUNDLE", "")
	c := f.client(t)
	if _, _, err := c.Head(ctx, "x/y.fits"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("HEAD to a server with an unknown certificate: %v; want a verification error", err)
	}

	bundle := filepath.Join(t.TempDir(), "ca.pem")
	pemData := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(bundle, pemData, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CA_BUNDLE", bundle)
	c = f.client(t)
	if size, _, err := c.Head(ctx, "x/y.fits"); err != nil || size != 777 {
		t.Fatalf("HEAD with AWS_CA_BUNDLE: %d, %v", size, err)
	}
	p := make([]byte, 777)
	if n, err := c.ReadAt(ctx, "x/y.fits", p, 0); n != 777 || err != nil || !bytes.Equal(p, data) {
		t.Fatalf("ReadAt over TLS: %d, %v", n, err)
	}

	// The environment of this machine: the system bundle.
	if _, err := os.Stat("/etc/ssl/certs/ca-certificates.crt"); err == nil {
		t.Setenv("AWS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
		if _, err := New(Config{Endpoint: f.URL}); err != nil {
			t.Fatalf("New with the system bundle: %v", err)
		}
	}
	t.Setenv("AWS_CA_BUNDLE", filepath.Join(t.TempDir(), "missing.pem"))
	if _, err := New(Config{Endpoint: f.URL}); err == nil {
		t.Fatal("New accepted an unreadable AWS_CA_BUNDLE")
	}
}

// badServer answers ranged GETs of a 10000-byte object in a chosen wrong
// way, to check that ReadAt never returns wrong bytes.
func badServer(t *testing.T, data []byte, answer func(w http.ResponseWriter, first, last int64, call int)) (*Client, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(calls.Add(1))
		spec := strings.TrimPrefix(r.Header.Get("Range"), "bytes=")
		a, b, _ := strings.Cut(spec, "-")
		first, _ := strconv.ParseInt(a, 10, 64)
		last, _ := strconv.ParseInt(b, 10, 64)
		last = min(last, int64(len(data))-1)
		answer(w, first, last, n)
	}))
	t.Cleanup(srv.Close)
	c, err := New(Config{Endpoint: srv.URL, Timeout: 5 * time.Second, RetryMaxAttempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	return c, &calls
}

func TestReadAtRejectsWrongAnswers(t *testing.T) {
	data := randomBytes(7, 10000)
	partial := func(w http.ResponseWriter, first, last int64, cr string, body []byte) {
		w.Header().Set("Content-Range", cr)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusPartialContent)
		w.Write(body)
	}
	cases := []struct {
		name   string
		answer func(w http.ResponseWriter, first, last int64, call int)
	}{
		{"shifted range", func(w http.ResponseWriter, first, last int64, _ int) {
			partial(w, first, last, fmt.Sprintf("bytes %d-%d/%d", first+1, last+1, len(data)), data[first+1:last+2])
		}},
		{"shifted shorter range", func(w http.ResponseWriter, first, last int64, _ int) {
			partial(w, first, last, fmt.Sprintf("bytes %d-%d/%d", first+1, last, len(data)), data[first+1:last+1])
		}},
		{"longer range", func(w http.ResponseWriter, first, last int64, _ int) {
			partial(w, first, last, fmt.Sprintf("bytes %d-%d/%d", first, last+5, len(data)), data[first:last+6])
		}},
		{"length mismatch", func(w http.ResponseWriter, first, last int64, _ int) {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", first, last, len(data)))
			w.Header().Set("Content-Length", strconv.FormatInt(last-first, 10))
			w.WriteHeader(http.StatusPartialContent)
			w.Write(data[first:last])
		}},
		{"206 without Content-Range", func(w http.ResponseWriter, first, last int64, _ int) {
			w.Header().Set("Content-Length", strconv.FormatInt(last-first+1, 10))
			w.WriteHeader(http.StatusPartialContent)
			w.Write(data[first : last+1])
		}},
		{"garbage Content-Range", func(w http.ResponseWriter, first, last int64, _ int) {
			partial(w, first, last, "bytes whatever", data[first:last+1])
		}},
		{"body breaks off every time", func(w http.ResponseWriter, first, last int64, _ int) {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", first, last, len(data)))
			w.Header().Set("Content-Length", strconv.FormatInt(last-first+1, 10))
			w.WriteHeader(http.StatusPartialContent)
			w.Write(data[first : first+(last-first)/2])
			panic(http.ErrAbortHandler)
		}},
		{"500", func(w http.ResponseWriter, first, last int64, _ int) {
			http.Error(w, "boom", http.StatusInternalServerError)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := badServer(t, data, tc.answer)
			p := bytes.Repeat([]byte{0xAA}, 1000)
			n, err := c.ReadAt(context.Background(), "k", p, 100)
			if err == nil || n != 0 {
				t.Fatalf("ReadAt = %d, %v; want 0 and an error", n, err)
			}
			if !errors.Is(err, ErrS3) {
				t.Fatalf("error %v is not ErrS3", err)
			}
		})
	}
}

func TestReadAtToleratesHonestAnswers(t *testing.T) {
	data := randomBytes(8, 10000)
	t.Run("range ignored", func(t *testing.T) {
		c, _ := badServer(t, data, func(w http.ResponseWriter, first, last int64, _ int) {
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
			w.WriteHeader(http.StatusOK)
			w.Write(data)
		})
		p := make([]byte, 1000)
		if n, err := c.ReadAt(context.Background(), "k", p, 9500); n != 500 || err != io.EOF || !bytes.Equal(p[:n], data[9500:]) {
			t.Fatalf("ReadAt = %d, %v", n, err)
		}
		if n, err := c.ReadAt(context.Background(), "k", p, 100); n != 1000 || err != nil || !bytes.Equal(p, data[100:1100]) {
			t.Fatalf("ReadAt = %d, %v", n, err)
		}
	})
	t.Run("short ranges", func(t *testing.T) {
		c, calls := badServer(t, data, func(w http.ResponseWriter, first, last int64, _ int) {
			last = min(last, first+99) // at most 100 bytes per answer
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", first, last, len(data)))
			w.Header().Set("Content-Length", strconv.FormatInt(last-first+1, 10))
			w.WriteHeader(http.StatusPartialContent)
			w.Write(data[first : last+1])
		})
		p := make([]byte, 1000)
		if n, err := c.ReadAt(context.Background(), "k", p, 50); n != 1000 || err != nil || !bytes.Equal(p, data[50:1050]) {
			t.Fatalf("ReadAt = %d, %v", n, err)
		}
		if calls.Load() != 10 {
			t.Fatalf("%d requests, want 10", calls.Load())
		}
	})
	t.Run("body breaks off once", func(t *testing.T) {
		c, calls := badServer(t, data, func(w http.ResponseWriter, first, last int64, call int) {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", first, last, len(data)))
			w.Header().Set("Content-Length", strconv.FormatInt(last-first+1, 10))
			w.WriteHeader(http.StatusPartialContent)
			if call == 1 {
				w.Write(data[first : first+10])
				panic(http.ErrAbortHandler)
			}
			w.Write(data[first : last+1])
		})
		p := make([]byte, 1000)
		if n, err := c.ReadAt(context.Background(), "k", p, 0); n != 1000 || err != nil || !bytes.Equal(p, data[:1000]) {
			t.Fatalf("ReadAt = %d, %v", n, err)
		}
		if calls.Load() != 2 {
			t.Fatalf("%d requests, want 2", calls.Load())
		}
	})
	t.Run("stall hits the timeout", func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Range", "bytes 0-999/10000")
			w.Header().Set("Content-Length", "1000")
			w.WriteHeader(http.StatusPartialContent)
			w.Write(data[:10])
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		defer srv.Close()
		c, err := New(Config{Endpoint: srv.URL, Timeout: 300 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		n, err := c.ReadAt(context.Background(), "k", make([]byte, 1000), 0)
		if n != 0 || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("stalled ReadAt = %d, %v; want a deadline error", n, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("stalled read took %v", d)
		}
	})
}

func TestParseContentRange(t *testing.T) {
	for _, tc := range []struct {
		in                 string
		first, last, total int64
		ok                 bool
	}{
		{"bytes 0-9/10", 0, 9, 10, true},
		{"bytes 5-5/*", 5, 5, -1, true},
		{"bytes 0-10/10", 0, 0, 0, false},
		{"bytes 9-3/10", 0, 0, 0, false},
		{"bytes */10", 0, 0, 0, false},
		{"items 0-1/2", 0, 0, 0, false},
		{"bytes -1-3/10", 0, 0, 0, false},
	} {
		f, l, tot, err := parseContentRange(tc.in)
		if (err == nil) != tc.ok || tc.ok && (f != tc.first || l != tc.last || tot != tc.total) {
			t.Errorf("parseContentRange(%q) = %d, %d, %d, %v", tc.in, f, l, tot, err)
		}
	}
}
