package main

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/mastfs/mastfs/mast/mastemu"
)

const (
	dlObsid = "2003738726" // recorded HST observation U9O40504M
	dlToken = "right-token-never-printed"
	bigURI  = "mast:HST/product/big_raw.fits"
	bigSize = 24 << 20
)

// slowHandler paces Download/file bodies: 32 KiB, then a pause of *delay.
type slowHandler struct {
	h     http.Handler
	delay *atomic.Int64
}

func (s slowHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.Contains(r.URL.Path, "/Download/file") && r.Method == http.MethodGet {
		w = &slowWriter{ResponseWriter: w, delay: s.delay}
	}
	s.h.ServeHTTP(w, r)
}

type slowWriter struct {
	http.ResponseWriter
	delay *atomic.Int64
}

func (w *slowWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k := min(len(p), 32<<10)
		m, err := w.ResponseWriter.Write(p[:k])
		n += m
		if err != nil {
			return n, err
		}
		p = p[k:]
		if d := time.Duration(w.delay.Load()); d > 0 {
			if f, ok := w.ResponseWriter.(http.Flusher); ok {
				f.Flush()
			}
			time.Sleep(d)
		}
	}
	return n, nil
}

// dlEmulator serves the recorded catalog plus a 24 MiB product and an
// exclusive-access one, paced by delay.
func dlEmulator(t *testing.T, delay *atomic.Int64) (*mastemu.Catalog, *mastemu.Server, string) {
	t.Helper()
	cat := mastemu.Recorded()
	if _, err := cat.AddProduct(dlObsid, map[string]any{"dataURI": bigURI, "size": bigSize}); err != nil {
		t.Fatal(err)
	}
	if _, err := cat.AddProduct(dlObsid, map[string]any{
		"dataURI": "mast:HST/product/secret_raw.fits", "size": 57600, "dataRights": "EXCLUSIVE_ACCESS",
	}); err != nil {
		t.Fatal(err)
	}
	emu := mastemu.New(mastemu.Options{Catalog: cat, Token: dlToken})
	if delay == nil {
		delay = new(atomic.Int64)
	}
	hs := httptest.NewServer(slowHandler{h: emu, delay: delay})
	t.Cleanup(hs.Close)
	return cat, emu, hs.URL
}

// dlCmd is `mastfs download` against the emulator at url (MAST download
// service only, so the emulator counts every byte).
func dlCmd(bin, url string, args ...string) *exec.Cmd {
	all := append([]string{"download", "--mast-url", url, "--resolver-url", url + "/Santa-war/query", "--cloud", "off"}, args...)
	cmd := exec.Command(bin, all...)
	cmd.Env = append(os.Environ(), "MAST_API_TOKEN=")
	return cmd
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

func manifestRows(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) == 0 || strings.Join(rows[0], ",") != "Local Path,Status,Message,URL" {
		t.Fatalf("manifest %v %v", rows, err)
	}
	return rows[1:]
}

func downloadRequests(st mastemu.Stats) []mastemu.LogEntry {
	var out []mastemu.LogEntry
	for _, e := range st.Log {
		if strings.Contains(e.Path, "/Download/file") {
			out = append(out, e)
		}
	}
	return out
}

// TestDownloadKillResume: kill -9 in the middle of a 24 MiB file, then a
// rerun fetches exactly the missing bytes with Range and completes; a third
// run fetches nothing.
func TestDownloadKillResume(t *testing.T) {
	bin := buildBinary(t)
	delay := new(atomic.Int64)
	delay.Store(int64(5 * time.Millisecond)) // about 6 MB/s
	cat, emu, url := dlEmulator(t, delay)
	dest := t.TempDir()
	args := []string{"--block-size", "64KiB", "--jobs", "1", "obsid/" + dlObsid + "/@productFilename=big_raw.fits", dest}
	local := filepath.Join(dest, "mastDownload", "HST", "U9O40504M", "big_raw.fits")

	first := dlCmd(bin, url, args...)
	var out1 syncBuffer
	first.Stdout, first.Stderr = &out1, &out1
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if fi, err := os.Stat(local); err == nil && fi.Size() >= 6<<20 {
			break
		}
		if time.Now().After(deadline) {
			first.Process.Kill()
			first.Wait()
			t.Fatalf("no progress:\n%s", out1.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	first.Process.Kill() // SIGKILL: no clean-up of any kind
	first.Wait()
	fi, err := os.Stat(local)
	if err != nil {
		t.Fatal(err)
	}
	partial := fi.Size()
	if partial >= bigSize {
		t.Fatalf("the first run finished (%d bytes) before the kill", partial)
	}
	// The killed run's last response may still be draining into the dead
	// connection: wait until the emulator has stopped counting it, so the
	// rerun's count holds only the rerun's bytes.
	sentBeforeKill := emu.Stats().DownloadBytes
	for quiet := 0; quiet < 5; time.Sleep(50 * time.Millisecond) {
		if now := emu.Stats().DownloadBytes; now != sentBeforeKill {
			sentBeforeKill, quiet = now, 0
		} else {
			quiet++
		}
	}

	emu.ResetStats()
	delay.Store(0)
	out, err := dlCmd(bin, url, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("rerun: %v\n%s", err, out)
	}
	st := emu.Stats()
	missing := int64(bigSize) - partial
	reqs := downloadRequests(st)
	t.Logf("killed at %d of %d bytes on disk (emulator had sent %d); rerun fetched %d bytes in %d ranged requests (missing %d)",
		partial, bigSize, sentBeforeKill, st.DownloadBytes, len(reqs), missing)
	if st.DownloadBytes != missing {
		t.Errorf("rerun fetched %d bytes, want exactly the %d missing", st.DownloadBytes, missing)
	}
	if len(reqs) == 0 || reqs[0].Range != fmt.Sprintf("bytes=%d-%d", partial, partial+256<<10-1) {
		t.Errorf("first rerun request %+v, want Range from %d", reqs, partial)
	}
	got, _ := os.ReadFile(local)
	if !bytes.Equal(got, readAll(t, cat, bigURI)) {
		t.Fatal("resumed file differs from the emulator's bytes")
	}
	rows := manifestRows(t, filepath.Join(dest, "manifest.csv"))
	if len(rows) != 1 || rows[0][0] != local || rows[0][1] != "COMPLETE" || !strings.Contains(rows[0][2], fmt.Sprintf("resumed at byte %d", partial)) {
		t.Errorf("manifest %v", rows)
	}

	emu.ResetStats()
	out, err = dlCmd(bin, url, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("third run: %v\n%s", err, out)
	}
	if st := emu.Stats(); st.DownloadBytes != 0 || len(downloadRequests(st)) != 0 {
		t.Errorf("third run fetched %d bytes in %d requests, want none", st.DownloadBytes, len(downloadRequests(st)))
	}
	if !strings.Contains(string(out), "already complete") {
		t.Errorf("third run output:\n%s", out)
	}
}

// TestDownloadErrorsFlatDryRun: an exclusive product without the token is
// an ERROR row and exit status 1, and the (wrong) token never shows; the
// right token fetches it; --flat and --dry-run.
func TestDownloadErrorsFlatDryRun(t *testing.T) {
	bin := buildBinary(t)
	cat, emu, url := dlEmulator(t, nil)
	path := "/mnt/mast/obsid/" + dlObsid + "/@productFilename=secret_raw.fits,u9o40504m_c0f.fits"

	dest := t.TempDir()
	const wrong = "wrong-token-that-must-not-leak"
	cmd := dlCmd(bin, url, path, dest)
	cmd.Env = append(cmd.Env, "MAST_API_TOKEN="+wrong)
	out, err := cmd.CombinedOutput()
	if exitCode(err) != 1 {
		t.Fatalf("exit %v, want 1:\n%s", err, out)
	}
	man, _ := os.ReadFile(filepath.Join(dest, "manifest.csv"))
	if strings.Contains(string(out), wrong) || strings.Contains(string(man), wrong) {
		t.Fatal("the token leaked")
	}
	statuses := map[string]string{}
	for _, r := range manifestRows(t, filepath.Join(dest, "manifest.csv")) {
		statuses[filepath.Base(r[0])] = r[1]
		if r[1] == "ERROR" && (!strings.Contains(r[2], "401") || !strings.Contains(r[3], "/api/v0.1/Download/file?uri=mast:HST/product/secret_raw.fits")) {
			t.Errorf("ERROR row %v", r)
		}
	}
	if statuses["secret_raw.fits"] != "ERROR" || statuses["u9o40504m_c0f.fits"] != "COMPLETE" {
		t.Fatalf("statuses %v\n%s", statuses, out)
	}

	cmd = dlCmd(bin, url, path, dest)
	cmd.Env = append(cmd.Env, "MAST_API_TOKEN="+dlToken)
	if out, err := cmd.CombinedOutput(); err != nil || strings.Contains(string(out), dlToken) {
		t.Fatalf("with the token: %v\n%s", err, out)
	}
	got, _ := os.ReadFile(filepath.Join(dest, "mastDownload", "HST", "U9O40504M", "secret_raw.fits"))
	if !bytes.Equal(got, readAll(t, cat, "mast:HST/product/secret_raw.fits")) {
		t.Fatal("exclusive product bytes differ")
	}

	flat := t.TempDir()
	emu.ResetStats()
	out, err = dlCmd(bin, url, "--dry-run", "--flat", "obsid/"+dlObsid+"/@mrp", flat).CombinedOutput()
	if err != nil || emu.Stats().DownloadBytes != 0 || strings.Count(string(out), "fetch   ") != 3 {
		t.Fatalf("--dry-run: %v (%d bytes fetched)\n%s", err, emu.Stats().DownloadBytes, out)
	}
	if ents, _ := os.ReadDir(flat); len(ents) != 0 {
		t.Fatalf("--dry-run wrote %v", ents)
	}
	if out, err := dlCmd(bin, url, "--flat", "obsid/"+dlObsid+"/@mrp", flat).CombinedOutput(); err != nil {
		t.Fatalf("--flat: %v\n%s", err, out)
	}
	ents, _ := os.ReadDir(flat)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "manifest.csv,u9o40504m_c0f.fits,u9o40504m_c1f.fits,u9o40504m_drz.fits" {
		t.Fatalf("--flat wrote %v", names)
	}
}

// TestDownloadCurlScript: --curl writes only the script, and running it
// with sh gives the same files as a download.
func TestDownloadCurlScript(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("needs curl")
	}
	bin := buildBinary(t)
	_, emu, url := dlEmulator(t, nil)
	path := "obsid/" + dlObsid + "/@mrp"
	scripted, direct := t.TempDir(), t.TempDir()
	emu.ResetStats()
	out, err := dlCmd(bin, url, "--curl", path, scripted).CombinedOutput()
	if err != nil || emu.Stats().DownloadBytes != 0 {
		t.Fatalf("--curl: %v\n%s", err, out)
	}
	scripts, _ := filepath.Glob(filepath.Join(scripted, "mastDownload_*.sh"))
	if len(scripts) != 1 || !regexp.MustCompile(`mastDownload_\d{14}\.sh$`).MatchString(scripts[0]) {
		t.Fatalf("scripts %v", scripts)
	}
	sh := exec.Command("sh", filepath.Base(scripts[0]))
	sh.Dir = scripted
	sh.Env = append(os.Environ(), "MAST_API_TOKEN=")
	if out, err := sh.CombinedOutput(); err != nil {
		t.Fatalf("sh %s: %v\n%s", scripts[0], err, out)
	}
	if out, err := dlCmd(bin, url, path, direct).CombinedOutput(); err != nil {
		t.Fatalf("download: %v\n%s", err, out)
	}
	n := 0
	filepath.WalkDir(filepath.Join(direct, "mastDownload"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(direct, p)
		a, _ := os.ReadFile(p)
		b, err := os.ReadFile(filepath.Join(scripted, rel))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s: the script's file differs (%v)", rel, err)
		}
		n++
		return nil
	})
	if n != 3 {
		t.Fatalf("%d files, want 3", n)
	}
}

// TestDownloadProgressBarsInTerminal drives download in a real terminal
// (tmux) and sees the progress bars.
func TestDownloadProgressBarsInTerminal(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("MASTFS_REQUIRE_TMUX") == "1" {
			t.Fatal("tmux is required (MASTFS_REQUIRE_TMUX=1) but missing")
		}
		t.Skip("needs tmux")
	}
	bin := buildBinary(t)
	delay := new(atomic.Int64)
	delay.Store(int64(5 * time.Millisecond))
	_, _, url := dlEmulator(t, delay)
	dest := t.TempDir()
	sock := fmt.Sprintf("mastfs-test-%d", os.Getpid())
	tmux := func(args ...string) ([]byte, error) {
		return exec.Command("tmux", append([]string{"-L", sock}, args...)...).CombinedOutput()
	}
	t.Cleanup(func() { tmux("kill-server") })
	if out, err := tmux("new-session", "-d", "-s", "dl", "-x", "160", "-y", "30", "sh"); err != nil {
		t.Fatalf("tmux: %v %s", err, out)
	}
	line := fmt.Sprintf("MAST_API_TOKEN= %s download --mast-url %s --resolver-url %s/Santa-war/query --cloud off --jobs 2 'obsid/%s/@productFilename=big_raw.fits,u9o40504m_drz.fits' %s; echo EXIT=$?",
		bin, url, url, dlObsid, dest)
	if out, err := tmux("send-keys", "-t", "dl", line, "Enter"); err != nil {
		t.Fatalf("send-keys: %v %s", err, out)
	}
	bar := regexp.MustCompile(`\[[=>\-_ ]{10,}\]`)
	sawBars, sawTotal := false, false
	var screen string
	exited := regexp.MustCompile(`(?m)^EXIT=(\d+)`)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		out, _ := tmux("capture-pane", "-p", "-t", "dl")
		screen = string(out)
		if !sawBars && bar.MatchString(screen) && strings.Contains(screen, "big_raw.fits") && strings.Contains(screen, "MiB") {
			sawBars = true
			t.Logf("terminal while downloading:\n%s", strings.TrimRight(screen, "\n"))
		}
		if strings.Contains(screen, "total (2 files)") {
			sawTotal = true
		}
		if exited.MatchString(screen) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("terminal at the end:\n%s", strings.TrimRight(screen, "\n"))
	if !sawBars || !sawTotal {
		t.Fatalf("no progress bars seen (file bar %v, total bar %v)", sawBars, sawTotal)
	}
	if m := exited.FindStringSubmatch(screen); m == nil || m[1] != "0" {
		t.Fatal("download did not finish with status 0")
	}
}

// TestDownloadCloudFirst: with --cloud auto the bytes of products in the
// bucket come from S3 (the emulator serves only the others), and with
// --cloud only the products not in the bucket are SKIPPED.
func TestDownloadCloudFirst(t *testing.T) {
	bin := buildBinary(t)
	cat, emu, url := dlEmulator(t, nil)
	const bucket = "mastbucket"
	be := s3mem.New()
	if err := be.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	inCloud := map[string]bool{}
	for key, uri := range cat.CloudObjects() {
		r, _ := cat.Open(uri)
		if r.Size() > 8<<20 {
			continue // left out of the bucket: fetched from MAST
		}
		if _, err := be.PutObject(bucket, key, map[string]string{"Last-Modified": time.Now().UTC().Format(http.TimeFormat)}, r, r.Size(), nil); err != nil {
			t.Fatal(err)
		}
		inCloud[uri] = true
	}
	s3srv := httptest.NewServer(gofakes3.New(be, gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	defer s3srv.Close()
	path := "obsid/" + dlObsid + "/@productFilename=u9o40504m_c0f.fits,u9o40504m_c1f.fits,u9o40504m_drz.fits"

	for _, mode := range []string{"auto", "only"} {
		dest := t.TempDir()
		emu.ResetStats()
		cmd := exec.Command(bin, "download", "--mast-url", url, "--resolver-url", url+"/Santa-war/query",
			"--s3-endpoint", s3srv.URL, "--s3-bucket", bucket, "--cloud", mode, path, dest)
		cmd.Env = append(os.Environ(), "MAST_API_TOKEN=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("--cloud %s: %v\n%s", mode, err, out)
		}
		var fromMAST, fromS3 int64
		rows := manifestRows(t, filepath.Join(dest, "manifest.csv"))
		for _, r := range rows {
			uri := strings.TrimPrefix(r[3], url+"/api/v0.1/Download/file?uri=")
			if mode == "only" && !inCloud[uri] {
				if r[1] != "SKIPPED" || r[2] != "Product not found in cloud" {
					t.Errorf("--cloud only, %s not in the bucket: %v", uri, r)
				}
				continue
			}
			if r[1] != "COMPLETE" {
				t.Fatalf("--cloud %s: %v\n%s", mode, r, out)
			}
			got, _ := os.ReadFile(r[0])
			want := readAll(t, cat, uri)
			if !bytes.Equal(got, want) {
				t.Fatalf("--cloud %s: %s differs", mode, r[0])
			}
			if inCloud[uri] {
				fromS3 += int64(len(want))
			} else {
				fromMAST += int64(len(want))
			}
		}
		if len(rows) != 3 || fromS3 == 0 {
			t.Fatalf("--cloud %s: %d rows, %d bytes in the bucket\n%s", mode, len(rows), fromS3, out)
		}
		if n := emu.Stats().DownloadBytes; n != fromMAST {
			t.Errorf("--cloud %s: MAST served %d bytes, want %d (the rest from S3: %d)", mode, n, fromMAST, fromS3)
		}
		t.Logf("--cloud %s: %d bytes from S3, %d from MAST", mode, fromS3, fromMAST)
	}
}
