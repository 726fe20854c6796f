package fs

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/mastfs/mastfs/mast/mastemu"
)

// exclusiveCase is an EXCLUSIVE_ACCESS product and where the mount shows it.
type exclusiveCase struct {
	what string
	info mastemu.ProductInfo
}

// fileOf finds the file of dataURI in dir by its user.mast.dataURI xattr.
func fileOf(t *testing.T, dir, uri string) string {
	t.Helper()
	for _, name := range listDir(t, dir) {
		if getxattr(t, dir+"/"+name, "user.mast.dataURI") == uri {
			return dir + "/" + name
		}
	}
	t.Fatalf("%s does not list %s", dir, uri)
	return ""
}

// allXattrs returns every user.mast.* attribute value of file.
func allXattrs(t *testing.T, file string) map[string]string {
	t.Helper()
	buf := make([]byte, 64<<10)
	n, err := syscall.Listxattr(file, buf)
	if err != nil {
		t.Fatalf("listxattr %s: %v", file, err)
	}
	out := map[string]string{}
	for _, name := range strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00") {
		out[name] = getxattr(t, file, name)
	}
	return out
}

// TestExclusiveProductNeedsToken: an EXCLUSIVE_ACCESS product reads as
// EACCES (with a log line) without a token or with a wrong one, and
// byte-exact with the right one; the token is never in a log line, an
// xattr, stats.json or an error.
func TestExclusiveProductNeedsToken(t *testing.T) {
	const token = "tok-5f0c2e9a-mast-exclusive"
	cat := mastemu.Generate(1, 600, 6)
	var cases []exclusiveCase
	for _, c := range []struct {
		what string
		pred func(mastemu.ProductInfo) bool
	}{
		{"sized", func(p mastemu.ProductInfo) bool { return p.Exclusive && p.Size > 0 && p.Size < 4<<20 }},
		{"unsized", func(p mastemu.ProductInfo) bool { return p.Exclusive && p.Dynamic }},
	} {
		if info, ok := cat.FindProduct(c.pred); ok {
			cases = append(cases, exclusiveCase{c.what, info})
		}
	}
	if len(cases) == 0 || cases[0].what != "sized" {
		t.Fatal("the catalog has no exclusive product with a size")
	}
	for _, c := range cases {
		t.Logf("%s exclusive product: %s (size %d, obsid %s)", c.what, c.info.DataURI, c.info.Size, c.info.OwnerObsID)
	}
	dirOf := func(m *mounted, c exclusiveCase) string { return m.Path("obsid", c.info.OwnerObsID) }

	denied := func(t *testing.T, m *mounted, secret string) {
		for _, c := range cases {
			file := fileOf(t, dirOf(m, c), c.info.DataURI)
			// Listed, so visible: stat and xattrs work (a size the archive
			// does not give stays unknown, 0, until someone may read it).
			st, err := os.Stat(file)
			if err != nil {
				t.Errorf("%s: stat %v", c.what, err)
			} else if want := max(c.info.Size, 0); st.Size() != want {
				t.Errorf("%s: size %d, want %d without any read", c.what, st.Size(), want)
			}
			_, err = os.ReadFile(file)
			if !errors.Is(err, syscall.EACCES) {
				t.Errorf("%s: read %v, want EACCES", c.what, err)
			}
			if secret != "" && err != nil && strings.Contains(err.Error(), secret) {
				t.Errorf("%s: the error shows the token: %v", c.what, err)
			}
			if !logLineAbout(m.Logs(), c.info.DataURI, "unauthorized") {
				t.Errorf("%s: no log line says why %s was refused", c.what, c.info.DataURI)
			}
		}
		if secret != "" {
			assertNoSecret(t, m, secret, dirOf(m, cases[0]))
		}
	}

	t.Run("anonymous", func(t *testing.T) {
		m := mountForTest(t, mountConfig{catalog: cat, emu: mastemu.Options{Token: token}})
		denied(t, m, "")
	})
	t.Run("wrong token", func(t *testing.T) {
		const wrong = "tok-wrong-0000-do-not-log"
		m := mountForTest(t, mountConfig{catalog: cat, token: wrong, emu: mastemu.Options{Token: token}})
		denied(t, m, wrong)
	})
	t.Run("token", func(t *testing.T) {
		// A server that echoes the credentials back in an error body, for
		// one public product of the same observation.
		var echoURI string
		for _, p := range cat.ProductsFor(cases[0].info.OwnerObsID) {
			if info, _ := cat.Product(str(p["dataURI"])); info.DataURI != cases[0].info.DataURI && info.Size > 0 {
				echoURI = info.DataURI
				break
			}
		}
		m := mountForTest(t, mountConfig{catalog: cat, token: token, emu: mastemu.Options{Token: token},
			wrap: func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if echoURI != "" && r.Method == http.MethodGet && r.URL.Query().Get("uri") == echoURI {
						http.Error(w, "denied for "+r.Header.Get("Authorization")+"; cookie "+r.Header.Get("Cookie"), http.StatusForbidden)
						return
					}
					h.ServeHTTP(w, r)
				})
			}})
		for _, c := range cases {
			got, err := os.ReadFile(fileOf(t, dirOf(m, c), c.info.DataURI))
			if err != nil {
				t.Fatalf("%s: read with the token: %v", c.what, err)
			}
			if !bytes.Equal(got, productBytes(t, cat, c.info.DataURI)) {
				t.Fatalf("%s: %d bytes differ from the archive's %d", c.what, len(got), c.info.Length)
			}
		}
		if echoURI == "" {
			t.Fatal("no second product to echo the credentials for")
		}
		_, err := os.ReadFile(fileOf(t, dirOf(m, cases[0]), echoURI))
		if !errors.Is(err, syscall.EACCES) {
			t.Errorf("read of a product whose server answers 403: %v, want EACCES", err)
		}
		if !strings.Contains(m.Logs(), "[redacted]") {
			t.Errorf("the echoed credentials were not logged as [redacted]")
		}
		assertNoSecret(t, m, token, dirOf(m, cases[0]))
	})
}

// logLineAbout reports whether one log line names uri and says why.
func logLineAbout(logs, uri, why string) bool {
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, uri) && strings.Contains(strings.ToLower(line), why) {
			return true
		}
	}
	return false
}

// assertNoSecret checks the mount's logs, every xattr of dir's files and
// .mastfs/stats.json for secret.
func assertNoSecret(t *testing.T, m *mounted, secret, dir string) {
	t.Helper()
	if strings.Contains(m.Logs(), secret) {
		t.Errorf("the token is in the mount's log")
	}
	for _, name := range listDir(t, dir) {
		for k, v := range allXattrs(t, dir+"/"+name) {
			if strings.Contains(v, secret) {
				t.Errorf("%s: xattr %s shows the token", name, k)
			}
		}
	}
	if _, raw := readStats(t, m); bytes.Contains(raw, []byte(secret)) {
		t.Errorf("stats.json shows the token")
	}
}
