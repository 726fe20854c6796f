// Command mastfs mounts the MAST archive as a read-only filesystem.
package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
)

func main() {
	if isMountHelper(os.Args[0]) {
		os.Exit(mountHelper(os.Args[1:]))
	}
	if err := newApp().Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "mastfs:", err)
		if ec, ok := err.(cli.ExitCoder); ok {
			os.Exit(ec.ExitCode())
		}
		os.Exit(1)
	}
}

func newApp() *cli.App {
	return &cli.App{
		Name:  "mastfs",
		Usage: "mount the MAST archive (Mikulski Archive for Space Telescopes) as a read-only filesystem",
		Description: `A path is a query (astroquery's Observations), its products are files, read
lazily in ranges from the public S3 bucket or MAST. "mastfs COMMAND --help"
describes each command; docs/ has the design, paths, operations and
troubleshooting.

Examples:
  mastfs demo /tmp/mast                      # offline sample archive, Ctrl-C to stop
  mastfs mount /mnt/mast                     # the real archive
  ls /mnt/mast/criteria/obs_collection=HST/proposal_id=12062/
  mastfs explain criteria/obs_collection=HST/proposal_id=8880/@mrp
  mastfs download criteria/obs_collection=HST/proposal_id=8880/@mrp ./data
  mastfs unmount /mnt/mast`,
		Commands: []*cli.Command{
			mountCommand(),
			demoCommand(),
			explainCommand(),
			downloadCommand(),
			unmountCommand(),
			versionCommand(),
		},
		HideHelpCommand: true,
	}
}
