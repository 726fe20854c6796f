package main

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	mfs "github.com/mastfs/mastfs/fs"
)

// TestDemoFitsheader: fitsheader (astropy-utils) reads the multi-HDU FITS
// files of the demo, one from the in-process bucket and one from the
// emulated MAST, through the mount, as the printed hint says.
func TestDemoFitsheader(t *testing.T) {
	requireFUSE(t)
	fitsheader, err := exec.LookPath("fitsheader")
	if err != nil {
		if os.Getenv("MASTFS_REQUIRE_ASTROQUERY") == "1" {
			t.Fatal("fitsheader (astropy-utils) is required (MASTFS_REQUIRE_ASTROQUERY=1) but not installed")
		}
		t.Skip("fitsheader (astropy-utils) not installed")
	}
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
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	var hint string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "fitsheader ") {
			hint = strings.TrimPrefix(line, "fitsheader ")
		}
		if strings.HasPrefix(line, "Press Ctrl-C") {
			break
		}
	}
	go io.Copy(io.Discard, stdout)
	if hint == "" {
		t.Fatal("demo printed no fitsheader example")
	}
	waitMounted(t, mnt)
	cloudFile := hint
	mastFile := filepath.Join(filepath.Dir(hint), "o6au01muq_sx2.fits")
	for _, f := range []string{cloudFile, mastFile} {
		out, err := exec.Command(fitsheader, f).CombinedOutput()
		if err != nil {
			t.Fatalf("fitsheader %s: %v\n%s", f, err, out)
		}
		for _, want := range []string{"# HDU 0", "TARGNAME= 'EV-LAC", "EXTNAME = 'SCI", "EXTNAME = 'ERR", "EXTNAME = 'DQ"} {
			if !strings.Contains(string(out), want) {
				t.Fatalf("fitsheader %s has no %q:\n%s", f, want, out)
			}
		}
	}
	if uri, err := xattr(cloudFile, "user.mast.cloud_uri"); err != nil || !strings.HasPrefix(uri, "s3://stpubdata/hst/public/o6au/") {
		t.Errorf("user.mast.cloud_uri of %s = %q, %v", cloudFile, uri, err)
	}
	raw, err := os.ReadFile(filepath.Join(mnt, ".mastfs", "stats.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st mfs.StatsSnapshot
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	if st.Bytes["s3"] == 0 || st.Bytes["mast"] == 0 {
		t.Errorf("the demo read from only one source (bytes %v); want both the bucket and MAST", st.Bytes)
	}
	stopAndWait(t, cmd, mnt)
}
