package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"

	"github.com/mastfs/mastfs/cloud"
	mfs "github.com/mastfs/mastfs/fs"
	"github.com/mastfs/mastfs/mast"
	"github.com/mastfs/mastfs/throttle"
)

// newCloud builds the cloud side of a configuration from --s3-endpoint,
// --s3-bucket, --s3-region and --cloud: an anonymous S3 client, a locator
// (path_lookup through the archive client, HEAD on the bucket) and the
// source that reads the bucket first and MAST otherwise. With --cloud off
// there is no locator (a nil interface, not a typed nil) and bytes come
// from MAST alone. --cloud only reads like auto; the mount hides the
// products the locator does not place in the bucket (fs.Options.CloudOnly).
// The S3 client's requests hold slots of the configuration's request
// limiter, the one the archive client of newClient holds.
func newCloud(cfg *config, client *mast.Client) (mfs.CloudLocator, mfs.Source, error) {
	if cfg.Cloud == "off" {
		return nil, client, nil
	}
	s3, err := newS3(cfg)
	if err != nil {
		return nil, nil, err
	}
	loc := cloud.NewLocator(client, s3, cloud.LocatorOptions{Logger: cfg.Logger})
	return loc, cloud.NewSource(s3, loc, client, cfg.Logger), nil
}

// newS3 is the anonymous S3 client of a configuration; its requests hold
// slots of the configuration's request limiter.
func newS3(cfg *config) (*cloud.Client, error) {
	hc, err := s3HTTPClient(os.Getenv("AWS_CA_BUNDLE"))
	if err != nil {
		return nil, err
	}
	return cloud.New(cloud.Config{
		Endpoint:   cfg.S3Endpoint,
		Bucket:     cfg.S3Bucket,
		Region:     cfg.Region,
		Logger:     cfg.Logger,
		HTTPClient: cfg.requestLimiter().Client(hc),
	})
}

// s3HTTPClient is the S3 client's transport as cloud.New builds it when
// given none (cloud's unexported newHTTPClient, kept identical): the SDK's
// buildable client, TLS verification always on, the extra roots of
// AWS_CA_BUNDLE (caBundle), 64 idle connections per host. cloud.New only
// builds it when Config.HTTPClient is nil, and the throttle must wrap it,
// so it is made here. TODO: use cloud.NewHTTPClient once cloud exports it.
func s3HTTPClient(caBundle string) (*awshttp.BuildableClient, error) {
	var roots *x509.CertPool
	if caBundle != "" {
		pem, err := os.ReadFile(caBundle)
		if err != nil {
			return nil, fmt.Errorf("cloud: AWS_CA_BUNDLE: %w", err)
		}
		roots, err = x509.SystemCertPool()
		if err != nil || roots == nil {
			roots = x509.NewCertPool()
		}
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("cloud: AWS_CA_BUNDLE %s: no certificates found", caBundle)
		}
	}
	return awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		if t.TLSClientConfig == nil {
			t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		t.TLSClientConfig.InsecureSkipVerify = false
		if roots != nil {
			t.TLSClientConfig.RootCAs = roots
		}
		t.MaxIdleConnsPerHost = 64
	}), nil
}

// The SDK's client is what the throttle wraps.
var _ throttle.Doer = (*awshttp.BuildableClient)(nil)
