package main

import (
	"flag"

	"github.com/urfave/cli/v2"
)

// flagSetFor builds a cli.Context holding the shared flags at their defaults
// (and environment), with the given overrides. Commands that are not given
// the shared flags on their command line (demo) use it to reach parseConfig.
func flagSetFor(parent *cli.Context, overrides map[string]string) *cli.Context {
	set := flag.NewFlagSet("shared", flag.ContinueOnError)
	for _, f := range sharedFlags() {
		_ = f.Apply(set)
	}
	for k, v := range overrides {
		_ = set.Set(k, v)
	}
	return cli.NewContext(parent.App, set, parent)
}
