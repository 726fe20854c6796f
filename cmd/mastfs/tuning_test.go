package main

import (
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/mastfs/mastfs/mast/mastemu"
)

// TestMountRaisesKernelReadahead: a root mount asks the kernel for 1 MiB
// readahead instead of FUSE's 128 KiB default.
func TestMountRaisesKernelReadahead(t *testing.T) {
	requireFUSE(t)
	bin := buildBinary(t)
	emu := httptest.NewServer(mastemu.New(mastemu.Options{}))
	defer emu.Close()
	mnt := t.TempDir()
	cmd := exec.Command(bin, "mount", "--cloud", "off", "--mast-url", emu.URL, "--resolver-url", emu.URL+"/Santa-war/query", mnt)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitMounted(t, mnt)
	defer stopAndWait(t, cmd, mnt)
	var st syscall.Stat_t
	if err := syscall.Stat(mnt, &st); err != nil {
		t.Fatal(err)
	}
	major, minor := (st.Dev>>8)&0xfff, (st.Dev&0xff)|((st.Dev>>12)&0xfff00)
	b, err := os.ReadFile(fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", major, minor))
	if err != nil {
		t.Skipf("no bdi readahead knob here: %v", err)
	}
	if got := strings.TrimSpace(string(b)); got != "1024" {
		t.Fatalf("read_ahead_kb = %s, want 1024", got)
	}
}
