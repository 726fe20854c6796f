package main

import (
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
func newCloud(cfg *config, client *mast.Client) (mfs.CloudLocator, mfs.Source, error) {
	if cfg.Cloud == "off" {
		return nil, client, nil
	}
	s3, err := cloud.New(cloud.Config{
		Endpoint: cfg.S3Endpoint,
		Bucket:   cfg.S3Bucket,
		Region:   cfg.Region,
		Logger:   cfg.Logger,
	})
	if err != nil {
		return nil, nil, err
	}
	loc := cloud.NewLocator(client, s3, cloud.LocatorOptions{Logger: cfg.Logger})
	return loc, cloud.NewSource(s3, loc, client, cfg.Logger), nil
}
