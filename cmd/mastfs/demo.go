package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/mastfs/mastfs/mast/mastemu"
)

func demoCommand() *cli.Command {
	return &cli.Command{
		Name:      "demo",
		Usage:     "mount a built-in sample archive (no network needed); Ctrl-C unmounts",
		ArgsUsage: "MOUNTPOINT",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "log-level", EnvVars: []string{"MASTFS_LOG_LEVEL"}, Value: "warn", Usage: "debug, info, warn or error"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return cli.Exit("usage: mastfs demo MOUNTPOINT", 2)
			}
			mnt := c.Args().First()
			cat := mastemu.Recorded()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return err
			}
			srv := &http.Server{Handler: mastemu.New(mastemu.Options{Catalog: cat})}
			go srv.Serve(ln)
			defer srv.Close()
			base := "http://" + ln.Addr().String()

			// The demo takes the mount's defaults, pointed at the emulator.
			set := flagSetFor(c, map[string]string{
				"mast-url":     base,
				"resolver-url": base + "/Santa-war/query",
				"cloud":        "off",
				"log-level":    c.String("log-level"),
			})
			cfg, err := parseConfig(set)
			if err != nil {
				return err
			}
			proposal, _ := cat.BusiestProposal("HST")
			return serve(c.Context, cfg, mnt, false, false, func() {
				q := filepath.Join(mnt, "criteria", "obs_collection=HST", "proposal_id="+proposal)
				fmt.Fprintf(os.Stdout, "mastfs demo: the sample archive is mounted at %s (offline emulator at %s).\nTry:\n", mnt, base)
				fmt.Fprintf(os.Stdout, "  ls %s\n", q)
				fmt.Fprintf(os.Stdout, "  cat %s/.count\n", q)
				fmt.Fprintf(os.Stdout, "  ls '%s'\n", filepath.Join(mnt, "obsid", "2003738726", "@mrp"))
				fmt.Fprintf(os.Stdout, "  ls '%s'\n", filepath.Join(mnt, "region", "23.34086 60.658", "radius=0.2deg"))
				fmt.Fprintf(os.Stdout, "Press Ctrl-C to unmount.\n")
			})
		},
	}
}
