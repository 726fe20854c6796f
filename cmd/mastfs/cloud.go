package main

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/mastfs/mastfs/cloud"
	mfs "github.com/mastfs/mastfs/fs"
	"github.com/mastfs/mastfs/mast"
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
// slots of the configuration's request limiter (outside the client's
// per-attempt stall watchdog: waiting for a slot is not a stall).
func newS3(cfg *config) (*cloud.Client, error) {
	limiter := cfg.requestLimiter()
	return cloud.New(cloud.Config{
		Endpoint:       cfg.S3Endpoint,
		Bucket:         cfg.S3Bucket,
		Region:         cfg.Region,
		Logger:         cfg.Logger,
		StallTimeout:   s3StallTimeout,
		WrapHTTPClient: func(hc aws.HTTPClient) aws.HTTPClient { return limiter.Client(hc) },
	})
}

// s3StallTimeout is shorter than the clients' default (30 s): an S3 range
// that stalls on every attempt must fail over to MAST well within the
// default --read-timeout (1 min), not after 3 x 30 s.
const s3StallTimeout = 10 * time.Second
