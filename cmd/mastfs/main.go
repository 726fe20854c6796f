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
