package main

import (
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mastfs/mastfs/mast/mastemu"
)

func TestCheckMountpointEmpty(t *testing.T) {
	dir := t.TempDir()
	if err := checkMountpointEmpty(dir); err != nil {
		t.Fatalf("empty directory: %v", err)
	}
	if err := checkMountpointEmpty(filepath.Join(dir, "missing")); err != nil {
		t.Fatalf("a missing directory is the mount's to report, got %v", err)
	}
	os.WriteFile(filepath.Join(dir, "data.fits"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, ".hidden"), nil, 0o644)
	err := checkMountpointEmpty(dir)
	want := "mountpoint " + dir + " is not empty (2 entries); use --nonempty to mount over it"
	if err == nil || err.Error() != want {
		t.Fatalf("non-empty directory: %v\nwant: %s", err, want)
	}
}

// TestHelperArgsNonemptyAndTokenFile: the fstab options nonempty and
// token_file map to --nonempty and --token-file.
func TestHelperArgsNonemptyAndTokenFile(t *testing.T) {
	got, err := helperArgs([]string{"none", "/mnt/mast", "-o", "nofail,nonempty,token_file=/etc/mastfs/token"})
	want := []string{"mount", "--nonempty", "--token-file=/etc/mastfs/token", "/mnt/mast"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("helperArgs = %q, %v; want %q", got, err, want)
	}
}

// startMountAt starts `mastfs mount` against emu with extra flags.
func startMountAt(t *testing.T, emuURL, mnt string, extra ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	args := append([]string{"mount", "--cloud", "off", "--mast-url", emuURL, "--resolver-url", emuURL + "/Santa-war/query"}, extra...)
	cmd := exec.Command(buildBinary(t), append(args, mnt)...)
	cmd.Env = childEnv()
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, out
}

// TestNonEmptyMountpoint: mount refuses a directory with entries, before
// mounting and with exit status 1, and mounts over it with --nonempty;
// the entries are back after the unmount.
func TestNonEmptyMountpoint(t *testing.T) {
	requireFUSE(t)
	emu := httptest.NewServer(mastemu.New(mastemu.Options{}))
	defer emu.Close()
	mnt := t.TempDir()
	for _, name := range []string{"results.csv", "notes"} {
		if err := os.WriteFile(filepath.Join(mnt, name), []byte("mine"), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	cmd, out := startMountAt(t, emu.URL, mnt)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 1 {
			t.Fatalf("mount over a non-empty directory: %v, want exit status 1\n%s", err, out.String())
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		syscall.Unmount(mnt, syscall.MNT_DETACH)
		t.Fatalf("mount over a non-empty directory did not exit\n%s", out.String())
	}
	want := "mountpoint " + mnt + " is not empty (2 entries); use --nonempty to mount over it"
	if !strings.Contains(out.String(), want) {
		t.Errorf("the refusal does not say %q:\n%s", want, out.String())
	}
	if isMounted(mnt) {
		t.Fatal("mounted although refused")
	}

	cmd, out = startMountAt(t, emu.URL, mnt, "--nonempty")
	defer func() {
		if t.Failed() {
			cmd.Process.Kill()
			syscall.Unmount(mnt, syscall.MNT_DETACH)
			t.Logf("mastfs output:\n%s", out.String())
		}
	}()
	waitMounted(t, mnt)
	if _, err := os.Stat(filepath.Join(mnt, "README.txt")); err != nil {
		t.Fatalf("--nonempty mount: %v", err)
	}
	if _, err := os.Stat(filepath.Join(mnt, "results.csv")); err == nil {
		t.Error("the directory's own entries show through the mount")
	}
	stopAndWait(t, cmd, mnt)
	if b, err := os.ReadFile(filepath.Join(mnt, "results.csv")); err != nil || string(b) != "mine" {
		t.Errorf("after the unmount, results.csv: %q, %v", b, err)
	}
}

// TestStaleMountOverNonEmptyDirectory: a dead mount is cleared before the
// emptiness check, which then looks at the directory underneath.
func TestStaleMountOverNonEmptyDirectory(t *testing.T) {
	requireFUSE(t)
	emu := httptest.NewServer(mastemu.New(mastemu.Options{}))
	defer emu.Close()
	mnt := t.TempDir()
	os.WriteFile(filepath.Join(mnt, "underneath"), nil, 0o644)
	first, _ := startMountAt(t, emu.URL, mnt, "--nonempty")
	waitMounted(t, mnt)
	first.Process.Kill()
	first.Wait()
	t.Cleanup(func() { syscall.Unmount(mnt, syscall.MNT_DETACH) })

	// Without --nonempty: the dead mount is cleared, then refused for the
	// file underneath; with it, the new mount comes up.
	out, code := runMastfs(t, childEnv(), "mount", "--cloud", "off", "--mast-url", emu.URL, mnt)
	if code != 1 || !strings.Contains(out, "dead mount") || !strings.Contains(out, "is not empty (1 entry)") {
		t.Fatalf("mount over a dead mount on a non-empty directory: exit %d, want 1 after clearing it:\n%s", code, out)
	}
	second, logs := startMountAt(t, emu.URL, mnt, "--nonempty")
	defer func() {
		if t.Failed() {
			second.Process.Kill()
			t.Logf("mastfs output:\n%s", logs.String())
		}
	}()
	waitMounted(t, mnt)
	if _, err := os.Stat(filepath.Join(mnt, "README.txt")); err != nil {
		t.Fatalf("the new mount: %v", err)
	}
	stopAndWait(t, second, mnt)
}

// TestMountedFilesBelongToUser: files and directories of a mount belong to
// the mounting user, without any write bit; the mount has no allow_other,
// so another user (nobody) cannot even stat it.
func TestMountedFilesBelongToUser(t *testing.T) {
	requireFUSE(t)
	cat := mastemu.Recorded()
	emu := httptest.NewServer(mastemu.New(mastemu.Options{Catalog: cat}))
	defer emu.Close()
	// A directory others may traverse, so that only the mount refuses them.
	top, err := os.MkdirTemp("", "mastfs-owner")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(top) })
	mnt := filepath.Join(top, "mnt")
	if err := os.Chmod(top, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd, out := startMountAt(t, emu.URL, mnt)
	defer func() {
		if t.Failed() {
			cmd.Process.Kill()
			syscall.Unmount(mnt, syscall.MNT_DETACH)
			t.Logf("mastfs output:\n%s", out.String())
		}
	}()
	waitMounted(t, mnt)

	prop, _ := cat.BusiestProposal("HST")
	dir := filepath.Join(mnt, "criteria", "obs_collection=HST", "proposal_id="+prop)
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) == 0 {
		t.Fatalf("ls %s: %v (%d entries)", dir, err, len(ents))
	}
	for _, p := range []string{mnt, filepath.Join(mnt, "README.txt"), dir, filepath.Join(dir, ents[0].Name()), filepath.Join(mnt, ".mastfs", "stats.json")} {
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			t.Fatalf("stat %s: %v", p, err)
		}
		if int(st.Uid) != os.Getuid() || int(st.Gid) != os.Getgid() {
			t.Errorf("%s: owner %d:%d, want the mounting user %d:%d", p, st.Uid, st.Gid, os.Getuid(), os.Getgid())
		}
		if st.Mode&0o022 != 0 {
			t.Errorf("%s: mode %04o is writable by group or others", p, st.Mode&0o7777)
		}
		if st.Mode&0o200 != 0 {
			t.Errorf("%s: mode %04o is writable (a read-only mount)", p, st.Mode&0o7777)
		}
	}
	if opts := mountOptions(mnt); opts == "" || strings.Contains(opts, "allow_other") {
		t.Errorf("mount options %q: want a mount without allow_other", opts)
	}
	// Another user: the kernel refuses it before mastfs sees the request.
	stat := exec.Command("stat", "-c", "%u", filepath.Join(mnt, "README.txt"))
	stat.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	if b, err := stat.CombinedOutput(); err == nil || !strings.Contains(string(b), "Permission denied") {
		t.Errorf("stat by uid 65534 without --allow-other: %v %s, want Permission denied", err, b)
	}
	stopAndWait(t, cmd, mnt)
}

// mountOptions returns the options of the mount at dir in /proc/self/mounts.
func mountOptions(dir string) string {
	b, _ := os.ReadFile("/proc/self/mounts")
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 3 && f[1] == dir {
			return f[3]
		}
	}
	return ""
}
