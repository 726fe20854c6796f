package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mastfs/mastfs/mast/mastemu"
)

// testToken is the token of these tests: distinctive, so that a grep of
// any output for it finds every leak.
const testToken = "tok-7d1e90c4-secrets-test-do-not-log"

// childEnv is the environment for a mastfs child: the test's own, without
// any mastfs or MAST setting that could change what is tested, plus extra.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "MASTFS_") || strings.HasPrefix(kv, "MAST_API_TOKEN=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// writeTokenFile writes token (with surrounding whitespace, which is
// trimmed) to a file of the given mode.
func writeTokenFile(t *testing.T, token string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "mast-token")
	if err := os.WriteFile(p, []byte("  "+token+"\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// runMastfs runs the binary to completion and returns its combined output
// and exit status.
func runMastfs(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(buildBinary(t), args...)
	cmd.Env = env
	done := make(chan struct{})
	timer := time.AfterFunc(60*time.Second, func() {
		select {
		case <-done:
		default:
			cmd.Process.Kill()
		}
	})
	defer timer.Stop()
	out, err := cmd.CombinedOutput()
	close(done)
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	}
	t.Fatalf("mastfs %s: %v", strings.Join(args, " "), err)
	return "", 0
}

func TestTokenInArgs(t *testing.T) {
	for _, c := range []struct {
		args []string
		want bool
	}{
		{[]string{"mastfs", "mount", "--token", "x", "/mnt"}, true},
		{[]string{"mastfs", "mount", "--token=x", "/mnt"}, true},
		{[]string{"mastfs", "explain", "-token", "x", "p"}, true},
		{[]string{"mastfs", "explain", "-token=x", "p"}, true},
		{[]string{"mastfs", "mount", "--token=", "/mnt"}, false},
		{[]string{"mastfs", "mount", "--token"}, false},
		{[]string{"mastfs", "mount", "--token-file", "/etc/mastfs/token", "/mnt"}, false},
		{[]string{"mastfs", "mount", "--token-file=/x", "/mnt"}, false},
		{[]string{"mastfs", "mount", "/mnt"}, false},
		{[]string{"mastfs", "mount", "--", "--token=x"}, false},
		{[]string{"--token=x"}, false}, // argv[0] is the program
	} {
		if got := tokenInArgs(c.args); got != c.want {
			t.Errorf("tokenInArgs(%q) = %v, want %v", c.args, got, c.want)
		}
	}
}

func TestTokenInClear(t *testing.T) {
	for u, want := range map[string]bool{
		"https://mast.stsci.edu":  false,
		"http://mast.stsci.edu":   true,
		"HTTP://10.0.0.5:8080/x":  true,
		"http://127.0.0.1:45999":  false,
		"http://[::1]:8080":       false,
		"http://localhost:8080/a": false,
	} {
		if got := tokenInClear(u); got != want {
			t.Errorf("tokenInClear(%q) = %v, want %v", u, got, want)
		}
	}
}

// TestReadTokenFile: the token is trimmed; a file group or others may read
// or write is refused with the path and the fix, never the token.
func TestReadTokenFile(t *testing.T) {
	p := writeTokenFile(t, testToken, 0o600)
	if got, err := readTokenFile(p); err != nil || got != testToken {
		t.Fatalf("readTokenFile(0600) = %q, %v; want the trimmed token", got, err)
	}
	if got, err := readTokenFile(writeTokenFile(t, testToken, 0o400)); err != nil || got != testToken {
		t.Fatalf("readTokenFile(0400) = %q, %v; want the token", got, err)
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o620, 0o602, 0o660, 0o610} {
		p := writeTokenFile(t, testToken, mode)
		_, err := readTokenFile(p)
		if err == nil {
			t.Errorf("mode %04o accepted", mode)
			continue
		}
		msg := err.Error()
		if strings.Contains(msg, testToken) {
			t.Errorf("mode %04o: the error shows the token: %s", mode, msg)
		}
		if !strings.Contains(msg, p) || !strings.Contains(msg, "chmod 600 "+p) {
			t.Errorf("mode %04o: the error does not name the file and the fix: %s", mode, msg)
		}
	}
	if _, err := readTokenFile(writeTokenFile(t, " \n", 0o600)); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("an empty token file: %v, want an error saying it is empty", err)
	}
	if _, err := readTokenFile(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing token file was accepted")
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o700)
	if _, err := readTokenFile(dir); err == nil {
		t.Error("a directory was accepted as a token file")
	}
}

// TestTokenFileRefusedByCommands: mount, explain and download refuse a
// token file of mode 0644 before doing anything, naming the file and the
// fix but not the token, and refuse --token with --token-file.
func TestTokenFileRefusedByCommands(t *testing.T) {
	open := writeTokenFile(t, testToken, 0o644)
	private := writeTokenFile(t, testToken, 0o600)
	mnt := t.TempDir()
	for _, c := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"mount 0644", childEnv(), []string{"mount", "--token-file", open, mnt}, "chmod 600 " + open},
		{"explain 0644", childEnv(), []string{"explain", "--token-file=" + open, "criteria/obs_collection=HST"}, "chmod 600 " + open},
		{"download 0644", childEnv(), []string{"download", "--token-file", open, "criteria/obs_collection=HST", t.TempDir()}, "chmod 600 " + open},
		{"env 0644", childEnv("MASTFS_TOKEN_FILE=" + open), []string{"explain", "criteria/obs_collection=HST"}, "chmod 600 " + open},
		{"both flags", childEnv(), []string{"explain", "--token", testToken, "--token-file", private, "criteria/obs_collection=HST"}, "not both"},
		{"env and flag", childEnv("MAST_API_TOKEN=" + testToken), []string{"mount", "--token-file", private, mnt}, "not both"},
	} {
		out, code := runMastfs(t, c.env, c.args...)
		if code == 0 {
			t.Errorf("%s: exit 0, want a refusal:\n%s", c.name, out)
		}
		if !strings.Contains(out, c.want) {
			t.Errorf("%s: the output does not say %q:\n%s", c.name, c.want, out)
		}
		if strings.Contains(out, testToken) {
			t.Errorf("%s: the output shows the token:\n%s", c.name, out)
		}
	}
	if isMounted(mnt) {
		t.Fatal("a refused mount is mounted")
	}
	// Help never shows the value of MAST_API_TOKEN.
	out, _ := runMastfs(t, childEnv("MAST_API_TOKEN="+testToken), "mount", "--help")
	if !strings.Contains(out, "--token-file PATH") || strings.Contains(out, testToken) {
		t.Errorf("mount --help lacks --token-file PATH or shows the token:\n%s", out)
	}
}

// exclusiveProduct is an EXCLUSIVE_ACCESS product of cat with a size.
func exclusiveProduct(t *testing.T, cat *mastemu.Catalog) mastemu.ProductInfo {
	t.Helper()
	info, ok := cat.FindProduct(func(p mastemu.ProductInfo) bool { return p.Exclusive && p.Size > 0 && p.Size < 4<<20 })
	if !ok {
		t.Fatal("the catalog has no exclusive product with a size")
	}
	return info
}

// fileWithURI finds the file of uri in dir by its user.mast.dataURI xattr.
func fileWithURI(t *testing.T, dir, uri string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("ls %s: %v", dir, err)
	}
	for _, e := range ents {
		if got, _ := xattr(filepath.Join(dir, e.Name()), "user.mast.dataURI"); got == uri {
			return filepath.Join(dir, e.Name())
		}
	}
	t.Fatalf("%s does not list %s", dir, uri)
	return ""
}

const argvWarning = "the MAST API token was given on the command line"

// TestTokenSources mounts the emulator, whose exclusive products need
// testToken, with the token from each source, at --log-level debug: the
// token reaches MAST from --token-file, MAST_API_TOKEN and --token alike;
// only --token logs the ps warning (once); no log line shows the token.
func TestTokenSources(t *testing.T) {
	requireFUSE(t)
	bin := buildBinary(t)
	cat := mastemu.Generate(1, 600, 6)
	info := exclusiveProduct(t, cat)
	want := readAll(t, cat, info.DataURI)
	emu := httptest.NewServer(mastemu.New(mastemu.Options{Catalog: cat, Token: testToken}))
	defer emu.Close()
	base := []string{"mount", "--cloud", "off", "--log-level", "debug", "--mast-url", emu.URL, "--resolver-url", emu.URL + "/Santa-war/query"}

	for _, c := range []struct {
		name     string
		env      []string
		args     []string
		readable bool
		warn     bool
	}{
		{"token-file", childEnv(), []string{"--token-file", writeTokenFile(t, testToken, 0o600)}, true, false},
		{"MASTFS_TOKEN_FILE", childEnv("MASTFS_TOKEN_FILE=" + writeTokenFile(t, testToken, 0o400)), nil, true, false},
		{"MAST_API_TOKEN", childEnv("MAST_API_TOKEN=" + testToken), nil, true, false},
		{"argv", childEnv(), []string{"--token", testToken}, true, true},
		{"argv=", childEnv(), []string{"--token=" + testToken}, true, true},
		{"anonymous", childEnv(), nil, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			mnt := t.TempDir()
			metricsAddr := freeAddr(t)
			args := append(append(append([]string{}, base...), c.args...), "--metrics-addr", metricsAddr, mnt)
			cmd := exec.Command(bin, args...)
			cmd.Env = c.env
			logs := &syncBuffer{}
			cmd.Stderr, cmd.Stdout = logs, logs
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				if t.Failed() {
					cmd.Process.Kill()
					syscall.Unmount(mnt, syscall.MNT_DETACH)
					t.Logf("mastfs output:\n%s", strings.ReplaceAll(logs.String(), testToken, "<TOKEN>"))
				}
			}()
			waitMounted(t, mnt)
			file := fileWithURI(t, filepath.Join(mnt, "obsid", info.OwnerObsID), info.DataURI)
			got, err := os.ReadFile(file)
			if c.readable {
				if err != nil {
					t.Fatalf("read of an exclusive product with the token: %v", err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("%d bytes differ from the archive's %d", len(got), len(want))
				}
			} else if !errors.Is(err, syscall.EACCES) {
				t.Fatalf("read of an exclusive product without a token: %v, want EACCES", err)
			}
			// Nowhere else either: ps (the process's argv) unless it was
			// given there, stats.json, the Prometheus metrics.
			argv, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", cmd.Process.Pid))
			if !c.warn && bytes.Contains(argv, []byte(testToken)) {
				t.Errorf("the token is in the process's command line (ps)")
			}
			if stats, err := os.ReadFile(filepath.Join(mnt, ".mastfs", "stats.json")); err != nil || bytes.Contains(stats, []byte(testToken)) {
				t.Errorf("stats.json: %v, or it shows the token", err)
			}
			if resp, err := http.Get("http://" + metricsAddr + "/metrics"); err != nil {
				t.Errorf("metrics: %v", err)
			} else {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if !bytes.Contains(body, []byte("mastfs_")) || bytes.Contains(body, []byte(testToken)) {
					t.Errorf("metrics (%d bytes) show the token or no mastfs metric", len(body))
				}
			}
			stopAndWait(t, cmd, mnt)
			out := logs.String()
			if !strings.Contains(out, "level=DEBUG") {
				t.Errorf("no debug line logged; the grep for the token proves little")
			}
			if strings.Contains(out, testToken) {
				t.Errorf("the token is in the log")
			}
			n := strings.Count(out, argvWarning)
			switch {
			case c.warn && n != 1:
				t.Errorf("%d warnings about the token on the command line, want 1", n)
			case !c.warn && n != 0:
				t.Errorf("warned about the command line when the token came from elsewhere")
			}
			if c.warn && !strings.Contains(out, "level=WARN msg=\""+argvWarning) {
				t.Errorf("the warning is not a WARN log line")
			}
			if c.warn && (!strings.Contains(out, "MAST_API_TOKEN") || !strings.Contains(out, "--token-file")) {
				t.Errorf("the warning does not recommend MAST_API_TOKEN or --token-file")
			}
		})
	}
}

// TestTokenOnCommandLineWarnsInExplain: explain warns as mount does.
func TestTokenOnCommandLineWarnsInExplain(t *testing.T) {
	emu := httptest.NewServer(mastemu.New(mastemu.Options{}))
	defer emu.Close()
	args := []string{"explain", "--mast-url", emu.URL, "--resolver-url", emu.URL + "/Santa-war/query"}
	out, code := runMastfs(t, childEnv(), append(args, "--token", testToken, "criteria/obs_collection=HST")...)
	if code != 0 || strings.Count(out, argvWarning) != 1 || strings.Contains(out, testToken) {
		t.Errorf("explain --token: exit %d, want 0 with one warning and no token:\n%s", code, strings.ReplaceAll(out, testToken, "<TOKEN>"))
	}
	out, code = runMastfs(t, childEnv("MAST_API_TOKEN="+testToken), append(args, "criteria/obs_collection=HST")...)
	if code != 0 || strings.Contains(out, argvWarning) {
		t.Errorf("explain with MAST_API_TOKEN: exit %d, want 0 without the warning:\n%s", code, out)
	}
}

// TestTLSVerificationAlwaysOn: a MAST URL served with a self-signed
// certificate fails with a certificate error, for explain and for a
// mount's listing (EIO, logged), and no flag turns verification off.
func TestTLSVerificationAlwaysOn(t *testing.T) {
	for _, cmd := range newApp().Commands {
		for _, f := range cmd.Flags {
			for _, name := range f.Names() {
				n := strings.ToLower(name)
				for _, bad := range []string{"insecure", "skip-verify", "no-verify", "noverify", "tls"} {
					if strings.Contains(n, bad) {
						t.Errorf("mastfs %s has a flag --%s", cmd.Name, name)
					}
				}
			}
		}
	}
	emu := httptest.NewUnstartedServer(mastemu.New(mastemu.Options{}))
	emu.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	emu.StartTLS()
	defer emu.Close()
	path := "criteria/obs_collection=HST/proposal_id=8880"
	flags := []string{"--cloud", "off", "--mast-url", emu.URL, "--resolver-url", emu.URL + "/Santa-war/query"}
	out, code := runMastfs(t, childEnv(), append(append([]string{"explain"}, flags...), path)...)
	if code == 0 || !strings.Contains(out, "certificate") {
		t.Errorf("explain against a self-signed https MAST: exit %d, want a certificate error:\n%s", code, out)
	}

	requireFUSE(t)
	mnt := t.TempDir()
	cmd := exec.Command(buildBinary(t), append(append([]string{"mount"}, flags...), mnt)...)
	cmd.Env = childEnv()
	logs := &syncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			cmd.Process.Kill()
			syscall.Unmount(mnt, syscall.MNT_DETACH)
			t.Logf("mastfs stderr:\n%s", logs.String())
		}
	}()
	waitMounted(t, mnt)
	_, err := os.ReadDir(filepath.Join(mnt, filepath.FromSlash(path)))
	if !errors.Is(err, syscall.EIO) {
		t.Errorf("listing through a self-signed https MAST: %v, want EIO", err)
	}
	stopAndWait(t, cmd, mnt)
	if !strings.Contains(logs.String(), "certificate") {
		t.Errorf("no certificate error in the log:\n%s", logs.String())
	}
}

// TestAllowOtherOffByDefault: the mount command's --allow-other is false
// unless given.
func TestAllowOtherOffByDefault(t *testing.T) {
	for _, f := range mountCommand().Flags {
		if bf, ok := f.(*cli.BoolFlag); ok && (bf.Name == "allow-other" || bf.Name == "nonempty") {
			if bf.Value || len(bf.EnvVars) > 0 {
				t.Errorf("--%s defaults to %v (env %v), want false and no environment variable", bf.Name, bf.Value, bf.EnvVars)
			}
		}
	}
}
