package main

import (
	"github.com/mastfs/mastfs/cloud"
	mfs "github.com/mastfs/mastfs/fs"
	"github.com/mastfs/mastfs/mast"
)

// newCloudLocator builds the cloud side of a configuration from --s3-endpoint,
// --s3-bucket, --s3-region and --cloud: an anonymous S3 client and a locator
// (path_lookup through the archive client, HEAD on the bucket). With
// --cloud off there is none (a nil interface, not a typed nil).
func newCloudLocator(cfg *config, client *mast.Client) (mfs.CloudLocator, error) {
	if cfg.Cloud == "off" {
		return nil, nil
	}
	s3, err := cloud.New(cloud.Config{
		Endpoint: cfg.S3Endpoint,
		Bucket:   cfg.S3Bucket,
		Region:   cfg.Region,
		Logger:   cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	return cloud.NewLocator(client, s3, cloud.LocatorOptions{Logger: cfg.Logger}), nil
}
