package main

import (
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mastfs/mastfs/mast/mastemu"
)

func TestHelperArgs(t *testing.T) {
	got, err := helperArgs([]string{"none", "/mnt/mast", "-n", "-o", "rw,noauto,x-systemd.automount,allow_other,mast_url=http://h:1/a,cache_size=2GiB"})
	want := []string{"mount", "--allow-other", "--mast-url=http://h:1/a", "--cache-size=2GiB", "/mnt/mast"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("helperArgs = %q, %v; want %q", got, err, want)
	}
	if _, err := helperArgs([]string{"/mnt/mast"}); err == nil {
		t.Fatal("no error without a SOURCE")
	}
}

// fstabExample is the fstab line of docs/operations.md.
func fstabExample(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "<!-- fstab-example -->\n```\n")
	if !ok {
		t.Fatal("docs/operations.md has no fstab example")
	}
	line, _, _ := strings.Cut(rest, "\n")
	return line
}

// TestFstabExample mounts the documented fstab line (mount -T with a copy of
// it pointed at the emulator) through /sbin/mount.fuse.mastfs, lists it,
// and unmounts it with umount; the daemon logs its exit to log_file.
func TestFstabExample(t *testing.T) {
	requireFUSE(t)
	bin := buildBinary(t)
	const helper = "/sbin/mount.fuse.mastfs"
	if _, err := os.Lstat(helper); err == nil {
		if dst, _ := os.Readlink(helper); dst != bin {
			t.Skipf("%s exists and is not this test's; not replacing it", helper)
		}
	} else {
		if err := os.Symlink(bin, helper); err != nil {
			t.Skipf("cannot install %s: %v", helper, err)
		}
		t.Cleanup(func() { os.Remove(helper) })
	}
	emu := httptest.NewServer(mastemu.New(mastemu.Options{}))
	defer emu.Close()
	dir := t.TempDir()
	mnt := filepath.Join(dir, "mast")
	logFile := filepath.Join(dir, "mastfs.log")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	line := fstabExample(t)
	for old, repl := range map[string]string{
		"/mnt/mast":                       mnt,
		"/var/log/mastfs.log":             logFile,
		"mast_url=https://mast.stsci.edu": "mast_url=" + emu.URL + ",resolver_url=" + emu.URL + "/Santa-war/query,cloud=off",
	} {
		if !strings.Contains(line, old) {
			t.Fatalf("the fstab example has no %q: %s", old, line)
		}
		line = strings.ReplaceAll(line, old, repl)
	}
	fstab := filepath.Join(dir, "fstab")
	if err := os.WriteFile(fstab, []byte(line+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-T", fstab, mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount -T %s %s: %v\n%s\nfstab: %s", fstab, mnt, err, out, line)
	}
	t.Cleanup(func() {
		if isMounted(mnt) {
			exec.Command("umount", "-l", mnt).Run()
		}
	})
	if !isMounted(mnt) {
		t.Fatal("mount returned but nothing is mounted")
	}
	ents, err := os.ReadDir(filepath.Join(mnt, "missions"))
	if err != nil || len(ents) == 0 {
		t.Fatalf("ls missions: %v (%d entries)", err, len(ents))
	}
	if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
		t.Fatalf("umount: %v\n%s", err, out)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, _ := os.ReadFile(logFile)
		if strings.Contains(string(b), "msg=unmounted") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon did not log its unmount:\n%s", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestHelpHasExamples: mastfs --help and every command's help describe it
// and give examples.
func TestHelpHasExamples(t *testing.T) {
	bin := buildBinary(t)
	cmds := [][]string{{"--help"}}
	for _, c := range newApp().Commands {
		cmds = append(cmds, []string{c.Name, "--help"})
	}
	for _, args := range cmds {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("mastfs %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		for _, want := range []string{"DESCRIPTION:", "Examples:", "  mastfs "} {
			if !strings.Contains(string(out), want) {
				t.Errorf("mastfs %s has no %q:\n%s", strings.Join(args, " "), want, out)
			}
		}
	}
}
