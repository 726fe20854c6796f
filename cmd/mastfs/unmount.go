package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"
)

func unmountCommand() *cli.Command {
	return &cli.Command{
		Name:      "unmount",
		Usage:     "unmount a mastfs mount (also clears a mount whose daemon died)",
		ArgsUsage: "MOUNTPOINT",
		Description: `Unmounts MOUNTPOINT; the mastfs serving it exits 0. As root it unmounts
directly, otherwise through fusermount3. A mount whose daemon died (reads
fail with "Transport endpoint is not connected") is detached. Exits 1 when
nothing is mounted there.

Examples:
  mastfs unmount /mnt/mast
  umount /mnt/mast              # the same, as root`,
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return cli.Exit("usage: mastfs unmount MOUNTPOINT", 2)
			}
			mnt := c.Args().First()
			if !mountedAt(mnt) {
				return cli.Exit(fmt.Sprintf("%s is not mounted", mnt), 1)
			}
			if err := unmountPath(mnt, false); err != nil {
				return cli.Exit(fmt.Sprintf("unmount %s: %v", mnt, err), 1)
			}
			return nil
		},
	}
}

// mountedAt reports whether a filesystem is mounted exactly at dir.
func mountedAt(dir string) bool {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return false
	}
	want := strings.TrimRight(dir, "/")
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && unescapeMountPath(f[1]) == want {
			return true
		}
	}
	return false
}

// unescapeMountPath undoes /proc/mounts' octal escapes (\040 for a space).
func unescapeMountPath(s string) string {
	r := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	return r.Replace(s)
}

// unmountPath unmounts directly when root, else through fusermount3. lazy
// detaches a dead mount that cannot be unmounted normally.
func unmountPath(dir string, lazy bool) error {
	flags := 0
	if lazy {
		flags = syscall.MNT_DETACH
	}
	err := syscall.Unmount(dir, flags)
	if err == nil || !errors.Is(err, syscall.EPERM) {
		return err
	}
	args := []string{"-u", dir}
	if lazy {
		args = []string{"-u", "-z", dir}
	}
	for _, bin := range []string{"fusermount3", "fusermount"} {
		if path, lerr := exec.LookPath(bin); lerr == nil {
			out, err := exec.Command(path, args...).CombinedOutput()
			if err != nil {
				return fmt.Errorf("%s: %v: %s", bin, err, strings.TrimSpace(string(out)))
			}
			return nil
		}
	}
	return err
}

// clearStaleMount detects a mount left behind by a daemon that died (its
// mountpoint answers ENOTCONN) and detaches it, so that a new mount can take
// its place. It says what it did.
func clearStaleMount(dir string) (bool, error) {
	if !deadMount(dir) {
		return false, nil
	}
	if err := unmountPath(dir, true); err != nil {
		return false, fmt.Errorf("%s holds a dead mount (transport endpoint is not connected) and it could not be cleared: %w", dir, err)
	}
	return true, nil
}

// deadMount reports whether dir is a mount whose FUSE daemon is gone. The
// kernel may still answer stat from its cache; reading the directory asks
// the (missing) daemon.
func deadMount(dir string) bool {
	f, err := os.Open(dir)
	if err == nil {
		_, err = f.Readdirnames(1)
		f.Close()
	}
	return errors.Is(err, syscall.ENOTCONN)
}
