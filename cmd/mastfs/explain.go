package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	mfs "github.com/mastfs/mastfs/fs"
	"github.com/mastfs/mastfs/mast"
)

func explainCommand() *cli.Command {
	return &cli.Command{
		Name:      "explain",
		Usage:     "show the MAST requests behind a path, or why it is invalid (exit 2), without mounting",
		ArgsUsage: "PATH",
		Description: `Prints the MAST requests (service and JSON parameters) that listing PATH
would send, and the product filters applied afterwards, without mounting. An
invalid path prints why, as the mount's log would (e.g. "Filter 'x' does not
exist. Did you mean 'y'?"), and exits 2. A mount-point prefix is ignored.

Examples:
  mastfs explain criteria/obs_collection=HST/proposal_id=8880/@mrp
  mastfs explain '/mnt/mast/region/322.49324 12.16683/radius=5arcmin/obs_collection=HST'
  mastfs explain object/M101/instrument_name=ACS%2FWFC
  mastfs explain criteria/oops_collection=HST      # exit 2, suggests obs_collection`,
		Flags: sharedFlags(),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return cli.Exit("usage: mastfs explain [flags] PATH", 2)
			}
			cfg, err := parseConfig(c)
			if err != nil {
				return cli.Exit(err.Error(), 2)
			}
			out, err := explain(c.Context, newClient(cfg), c.Args().First())
			fmt.Print(out)
			if err != nil {
				return cli.Exit("invalid path: "+err.Error(), 2)
			}
			return nil
		},
	}
}

// explain renders the requests of a query path. The path may be relative
// to the mount point or carry any prefix before the first query root.
func explain(ctx context.Context, client *mast.Client, p string) (string, error) {
	rel := mfs.TrimToQueryRoot(p)
	spec, err := mfs.ParseQueryPath(rel)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "path:      %s\ncanonical: %s\n", rel, spec.Key())
	if err := spec.Runnable(); err != nil {
		return b.String(), err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if ids, ok := spec.ObsIDs(); ok {
		fmt.Fprintf(&b, "products:  POST /api/v0/invoke Mast.Caom.Products for %d obsid(s) in batches of %d\n", len(ids), mast.ProductBatchSize)
	} else {
		if name, resolver, ok := spec.ObjectName(); ok {
			fmt.Fprintf(&b, "resolve:   GET %s name=%q resolver=%q\n", client.Config().ResolverURL, name, resolver)
		}
		q, err := spec.ObservationQuery(func(name, resolver string) (float64, float64, error) {
			return client.Resolve(ctx, name, resolver)
		})
		if err != nil {
			return b.String(), err
		}
		svc, env, err := client.DescribeQuery(ctx, q, "*")
		if err != nil {
			var ie *mast.InvalidCriteriaError
			if errors.As(err, &ie) {
				return b.String(), err
			}
			return b.String(), fmt.Errorf("building the request: %w", err)
		}
		fmt.Fprintf(&b, "query:     POST %s/api/v0/invoke %s\n           request=%s\n", client.Config().BaseURL, svc, env)
		if csvc, cenv, err := client.DescribeQuery(ctx, q, "COUNT_BIG(*)"); err == nil {
			fmt.Fprintf(&b, ".count:    POST %s/api/v0/invoke %s\n           request=%s\n", client.Config().BaseURL, csvc, cenv)
		}
		fmt.Fprintf(&b, "products:  POST /api/v0/invoke Mast.Caom.Products, obsids of the query in batches of %d\n", mast.ProductBatchSize)
	}
	if fs := spec.ProductFilters(); len(fs) > 0 {
		fmt.Fprintf(&b, "filters:   %d client-side product filter(s) (astroquery filter_products), then unique by dataURI\n", len(fs))
	}
	return b.String(), nil
}
