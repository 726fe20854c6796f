package fs

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mastfs/mastfs/cloud"
	"github.com/mastfs/mastfs/mast/mastemu"
)

// versityGW is a versitygw S3 gateway (POSIX backend, a temporary root) on a
// free loopback port: a real, auth-enforcing S3 server. Its bucket
// stpubdata has a public-read policy, as on AWS, so only unsigned reads
// prove anything: a signed request with an unknown key gets 404.
type versityGW struct {
	URL   string
	Root  string
	admin *s3.Client // signed with the root key
}

const (
	versityAK = "mastfs-admin"
	versitySK = "mastfs-admin-secret"
)

// requireVersityGW returns the versitygw binary, or skips the test when it
// is missing, unless MASTFS_REQUIRE_VERSITYGW=1 (scripts/test.sh), where
// that is a failure.
func requireVersityGW(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("versitygw")
	if err == nil {
		return bin
	}
	if os.Getenv("MASTFS_REQUIRE_VERSITYGW") == "1" {
		t.Fatalf("versitygw is required (MASTFS_REQUIRE_VERSITYGW=1) but not found: %v", err)
	}
	t.Skip("needs versitygw (scripts/setup.sh installs it)")
	return ""
}

// freeLoopbackPort picks a port nobody listens on now.
func freeLoopbackPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startVersityGW starts the gateway with --keep-alive, creates the public
// bucket stpubdata and stops the gateway at cleanup.
func startVersityGW(t testing.TB) *versityGW {
	t.Helper()
	bin := requireVersityGW(t)
	root := t.TempDir()
	var g *versityGW
	for attempt := 0; attempt < 3 && g == nil; attempt++ {
		port := freeLoopbackPort(t)
		logf, err := os.Create(filepath.Join(t.TempDir(), "versitygw.log"))
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "--port", fmt.Sprintf("127.0.0.1:%d", port), "--keep-alive", "--quiet", "posix", root)
		cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY_ID="+versityAK, "ROOT_SECRET_ACCESS_KEY="+versitySK)
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting versitygw: %v", err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		t.Cleanup(func() {
			cmd.Process.Kill()
			<-exited
			logf.Close()
		})
		url := fmt.Sprintf("http://127.0.0.1:%d", port)
		if waitHTTP(url, exited) {
			g = &versityGW{URL: url, Root: root}
		} else {
			log, _ := os.ReadFile(logf.Name())
			t.Logf("versitygw on port %d did not start: %s", port, log)
		}
	}
	if g == nil {
		t.Fatal("versitygw did not start")
	}
	g.admin = s3.New(s3.Options{
		Region:       cloud.DefaultRegion,
		BaseEndpoint: aws.String(g.URL),
		UsePathStyle: true,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: versityAK, SecretAccessKey: versitySK}, nil
		}),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := g.admin.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(cloud.DefaultBucket)}); err != nil {
		t.Fatalf("versitygw: create bucket: %v", err)
	}
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::stpubdata","arn:aws:s3:::stpubdata/*"]}]}`
	if _, err := g.admin.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(cloud.DefaultBucket), Policy: aws.String(policy)}); err != nil {
		t.Fatalf("versitygw: bucket policy: %v", err)
	}
	return g
}

// waitHTTP waits until url answers (any status) or the process exited.
func waitHTTP(url string, exited <-chan struct{}) bool {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// Put uploads an object through S3 (so it has an ETag) and returns the ETag.
func (g *versityGW) Put(t testing.TB, key string, data []byte) string {
	t.Helper()
	out, err := g.admin.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(cloud.DefaultBucket), Key: aws.String(key),
		Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data))),
		ContentType: aws.String("application/octet-stream"),
	})
	if err != nil {
		t.Fatalf("versitygw: put %s: %v", key, err)
	}
	return aws.ToString(out.ETag)
}

// Delete removes an object.
func (g *versityGW) Delete(t testing.TB, key string) {
	t.Helper()
	if _, err := g.admin.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(cloud.DefaultBucket), Key: aws.String(key)}); err != nil {
		t.Fatalf("versitygw: delete %s: %v", key, err)
	}
}

// putCatalog uploads the catalog's cloud objects for which keep is true
// and returns key -> data URI of what it put.
func (g *versityGW) putCatalog(t testing.TB, cat *mastemu.Catalog, keep func(key, uri string) bool) map[string]string {
	t.Helper()
	keys := map[string]string{}
	for key, uri := range cat.CloudObjects() {
		if !keep(key, uri) {
			continue
		}
		r, ok := cat.Open(uri)
		if !ok {
			t.Fatalf("catalog has no bytes for %s", uri)
		}
		data := make([]byte, r.Size())
		if _, err := r.ReadAt(data, 0); err != nil {
			t.Fatalf("catalog bytes of %s: %v", uri, err)
		}
		g.Put(t, key, data)
		keys[key] = uri
	}
	return keys
}

// startVersityS3 is startS3 on versitygw: the catalog's cloud objects for
// which keep is true are uploaded through S3, and the mount's cloud client
// reads them anonymously.
func startVersityS3(t testing.TB, cat *mastemu.Catalog, keep func(key, uri string) bool, client cloud.PathLookuper, fallback cloud.Fallback, logger *slog.Logger) *testS3 {
	t.Helper()
	g := startVersityGW(t)
	s := &testS3{VGW: g, URL: g.URL, Keys: g.putCatalog(t, cat, keep)}
	var err error
	s.Client, err = cloud.New(cloud.Config{Endpoint: g.URL, Logger: logger, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s.Locator = cloud.NewLocator(client, s.Client, cloud.LocatorOptions{Logger: logger})
	s.Source = cloud.NewSource(s.Client, s.Locator, fallback, logger)
	return s
}
