package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mastfs/mastfs/mast/mastemu"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// buildBinary builds the mastfs command once per test binary run.
func buildBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mastfs-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "mastfs")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Stderr = os.Stderr
		buildErr = cmd.Run()
	})
	if buildErr != nil {
		t.Fatalf("go build: %v", buildErr)
	}
	return binPath
}

func requireFUSE(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err == nil && os.Geteuid() == 0 {
		return
	}
	if os.Getenv("MASTFS_REQUIRE_FUSE") == "1" {
		t.Fatal("FUSE is required (MASTFS_REQUIRE_FUSE=1) but unavailable")
	}
	t.Skip("needs /dev/fuse and root")
}

func isMounted(dir string) bool {
	b, _ := os.ReadFile("/proc/self/mounts")
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && f[1] == dir {
			return true
		}
	}
	return false
}

func waitMounted(t *testing.T, dir string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !isMounted(dir) {
		if time.Now().After(deadline) {
			t.Fatalf("%s was not mounted in time", dir)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stopAndWait sends SIGTERM and expects a clean exit with the mount gone.
func stopAndWait(t *testing.T, cmd *exec.Cmd, dir string) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("mastfs exited with %v after SIGTERM, want 0", err)
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("mastfs did not exit after SIGTERM")
	}
	if isMounted(dir) {
		t.Fatalf("%s is still mounted after SIGTERM", dir)
	}
}

func readAll(t *testing.T, cat *mastemu.Catalog, uri string) []byte {
	t.Helper()
	r, ok := cat.Open(uri)
	if !ok {
		t.Fatalf("no product %s", uri)
	}
	b, _ := io.ReadAll(r)
	return b
}

// TestMountCommandServesQueries runs the real binary against the emulator:
// `mastfs mount --mast-url <emu> --resolver-url <emu>/Santa-war/query MNT`.
func TestMountCommandServesQueries(t *testing.T) {
	requireFUSE(t)
	bin := buildBinary(t)
	cat := mastemu.Recorded()
	emu := httptest.NewServer(mastemu.New(mastemu.Options{Catalog: cat}))
	defer emu.Close()
	mnt := t.TempDir()
	cmd := exec.Command(bin, "mount", "--cloud", "off", "--mast-url", emu.URL, "--resolver-url", emu.URL+"/Santa-war/query", mnt)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			t.Logf("mastfs stderr:\n%s", stderr.String())
		}
	}()
	waitMounted(t, mnt)

	prop, _ := cat.BusiestProposal("HST")
	dir := filepath.Join(mnt, "criteria", "obs_collection=HST", "proposal_id="+prop)
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) == 0 {
		t.Fatalf("ls %s: %v (%d entries)", dir, err, len(ents))
	}
	checked := 0
	for _, e := range ents {
		uri, _ := xattr(filepath.Join(dir, e.Name()), "user.mast.dataURI")
		info, ok := cat.Product(uri)
		if !ok {
			t.Fatalf("%s: xattr user.mast.dataURI %q is not a catalog product", e.Name(), uri)
		}
		if info.Exclusive {
			continue
		}
		got, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, readAll(t, cat, uri)) {
			t.Fatalf("%s differs from the archive's bytes", e.Name())
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no product compared")
	}
	stopAndWait(t, cmd, mnt)
}

func xattr(path, name string) (string, error) {
	buf := make([]byte, 4096)
	n, err := syscall.Getxattr(path, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// TestDemoServesSampleArchive: `mastfs demo MNT` needs no network, prints
// paths to try, and serves byte-exact files.
func TestDemoServesSampleArchive(t *testing.T) {
	requireFUSE(t)
	bin := buildBinary(t)
	mnt := t.TempDir()
	cmd := exec.Command(bin, "demo", mnt)
	stdout, _ := cmd.StdoutPipe()
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			t.Logf("demo stderr:\n%s", stderr.String())
		}
	}()
	var lsPath string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "ls ") && lsPath == "" {
			lsPath = strings.Trim(strings.TrimPrefix(line, "ls "), "'")
		}
		if strings.HasPrefix(line, "Press Ctrl-C") {
			break
		}
	}
	go io.Copy(io.Discard, stdout)
	if lsPath == "" {
		t.Fatal("demo printed no path to try")
	}
	waitMounted(t, mnt)
	cat, err := demoCatalog(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(lsPath)
	if err != nil || len(ents) == 0 {
		t.Fatalf("ls %s: %v (%d entries)", lsPath, err, len(ents))
	}
	for _, e := range ents[:min(3, len(ents))] {
		uri, err := xattr(filepath.Join(lsPath, e.Name()), "user.mast.dataURI")
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(lsPath, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, readAll(t, cat, uri)) {
			t.Fatalf("demo file %s differs from the sample archive's bytes", e.Name())
		}
	}
	stopAndWait(t, cmd, mnt)
}

// TestExplain: explain prints the request a path maps to, and exits 2 with
// the suggestion for an invalid one, without mounting.
func TestExplain(t *testing.T) {
	bin := buildBinary(t)
	emu := httptest.NewServer(mastemu.New(mastemu.Options{}))
	defer emu.Close()
	run := func(p string) (string, int) {
		cmd := exec.Command(bin, "explain", "--mast-url", emu.URL, "--resolver-url", emu.URL+"/Santa-war/query", p)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}
	out, code := run("/mnt/mast/criteria/proposal_id=8880/obs_collection=HST/@mrp")
	if code != 0 || !strings.Contains(out, "Mast.Caom.Filtered") || !strings.Contains(out, `"paramName": "obs_collection"`) || !strings.Contains(out, "COUNT_BIG") {
		t.Fatalf("explain of a valid path (exit %d):\n%s", code, out)
	}
	out, code = run("criteria/oops_collection=HST")
	if code != 2 || !strings.Contains(out, "Did you mean 'obs_collection'") {
		t.Fatalf("explain of an unknown column: exit %d, want 2 with a suggestion:\n%s", code, out)
	}
	out, code = run("criteria/s_ra=1..")
	if code != 2 {
		t.Fatalf("explain of a malformed range: exit %d, want 2:\n%s", code, out)
	}
}

// TestStaleMountRecoveryAndUnmount: after the daemon is killed, a new
// `mastfs mount` on the same mountpoint clears the dead mount with a clear
// message; `mastfs unmount` then unmounts and the daemon exits 0.
func TestStaleMountRecoveryAndUnmount(t *testing.T) {
	requireFUSE(t)
	bin := buildBinary(t)
	emu := httptest.NewServer(mastemu.New(mastemu.Options{}))
	defer emu.Close()
	mnt := t.TempDir()
	start := func() (*exec.Cmd, *syncBuffer) {
		cmd := exec.Command(bin, "mount", "--cloud", "off", "--mast-url", emu.URL, "--resolver-url", emu.URL+"/Santa-war/query", mnt)
		stderr := &syncBuffer{}
		cmd.Stderr = stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, stderr
	}
	first, _ := start()
	waitMounted(t, mnt)
	first.Process.Kill()
	first.Wait()
	t.Cleanup(func() { syscall.Unmount(mnt, syscall.MNT_DETACH) })
	if _, err := os.ReadDir(mnt); !errors.Is(err, syscall.ENOTCONN) {
		t.Fatalf("after kill, readdir gives %v, want ENOTCONN (a dead mount)", err)
	}
	second, stderr := start()
	defer func() {
		if t.Failed() {
			second.Process.Kill()
			t.Logf("second mastfs stderr:\n%s", stderr.String())
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(mnt, "README.txt")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the new mount did not come up over the stale one")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(stderr.String(), "dead mount") {
		t.Errorf("no clear message about the stale mount:\n%s", stderr.String())
	}
	if out, err := exec.Command(bin, "unmount", mnt).CombinedOutput(); err != nil {
		t.Fatalf("mastfs unmount: %v %s", err, out)
	}
	done := make(chan error, 1)
	go func() { done <- second.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("daemon exited with %v after unmount, want 0", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("daemon did not exit after unmount")
	}
	if isMounted(mnt) {
		t.Fatal("still mounted")
	}
}

// syncBuffer collects a child's output while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
