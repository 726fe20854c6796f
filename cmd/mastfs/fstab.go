package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// mount(8) runs /sbin/mount.fuse.mastfs for `mount -t fuse.mastfs` and for
// fstab lines of type fuse.mastfs; /sbin/mount.mastfs serves -t mastfs.
// Either is a symlink to the mastfs binary, which recognises the name.
var helperNames = map[string]bool{"mount.fuse.mastfs": true, "mount.mastfs": true}

func isMountHelper(argv0 string) bool { return helperNames[filepath.Base(argv0)] }

// Options mount(8) and systemd pass along that mean nothing to mastfs.
var ignoredOptions = map[string]bool{
	"rw": true, "ro": true, "defaults": true, "auto": true, "noauto": true, "user": true, "users": true,
	"nouser": true, "nofail": true, "_netdev": true, "dev": true, "nodev": true, "suid": true,
	"nosuid": true, "exec": true, "noexec": true, "atime": true, "noatime": true, "relatime": true,
}

// helperArgs turns `SOURCE MOUNTPOINT [-o opt,opt=val] [-fnsv]` into the
// arguments of `mastfs mount`: each option name=value becomes
// --name=value with _ read as - (mast_url=... is --mast-url=...), a bare
// name a boolean flag (allow_other is --allow-other, nonempty is
// --nonempty). nonempty is mastfs's own check, never passed to the kernel.
// For the token, token_file=PATH (--token-file) keeps it out of fstab,
// which everyone may read; token=... would also put it in the daemon's
// argv, and the daemon warns about that.
func helperArgs(args []string) ([]string, error) {
	var pos, opts []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-o" && i+1 < len(args):
			opts = append(opts, strings.Split(args[i+1], ",")...)
			i++
		case strings.HasPrefix(a, "-o"):
			opts = append(opts, strings.Split(a[2:], ",")...)
		case strings.HasPrefix(a, "-") && len(a) > 1:
			// -f (fake), -n (no mtab), -s (sloppy), -v: nothing to do.
		default:
			pos = append(pos, a)
		}
	}
	if len(pos) != 2 {
		return nil, fmt.Errorf("usage: mount.fuse.mastfs SOURCE MOUNTPOINT [-o name=value,...]")
	}
	out := []string{"mount"}
	for _, o := range opts {
		name, value, hasValue := strings.Cut(o, "=")
		if o == "" || ignoredOptions[name] || strings.HasPrefix(name, "x-") || strings.HasPrefix(name, "comment=") {
			continue
		}
		flag := "--" + strings.ReplaceAll(name, "_", "-")
		if hasValue {
			flag += "=" + value
		}
		out = append(out, flag)
	}
	return append(out, pos[1]), nil
}

// mountHelper starts `mastfs mount` in the background (its own session,
// output to --log-file or discarded) and returns once the mount is up, as
// mount(8) expects of a helper. If the daemon exits first, its output is
// shown and the status is 1.
func mountHelper(args []string) int {
	margs, err := helperArgs(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mastfs:", err)
		return 2
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "mastfs:", err)
		return 1
	}
	// The daemon's early output goes to an unlinked file that we read if it
	// fails to mount; later logs belong in log_file=.
	early, err := os.CreateTemp("", "mastfs-helper")
	if err != nil {
		fmt.Fprintln(os.Stderr, "mastfs:", err)
		return 1
	}
	os.Remove(early.Name())
	defer early.Close()
	cmd := exec.Command(self, margs...)
	cmd.Stdout, cmd.Stderr = early, early
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "mastfs:", err)
		return 1
	}
	mnt, _ := filepath.Abs(margs[len(margs)-1])
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case err := <-exited:
			early.Seek(0, io.SeekStart)
			io.Copy(os.Stderr, early)
			fmt.Fprintf(os.Stderr, "mastfs: the mount daemon exited before %s was mounted (%v)\n", mnt, err)
			return 1
		case <-deadline:
			fmt.Fprintf(os.Stderr, "mastfs: %s was not mounted within a minute; the daemon (pid %d) keeps trying\n", mnt, cmd.Process.Pid)
			return 1
		case <-time.After(50 * time.Millisecond):
			if mountedAt(mnt) {
				return 0
			}
		}
	}
}
