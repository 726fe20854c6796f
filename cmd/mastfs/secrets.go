package main

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"

	"github.com/urfave/cli/v2"
)

// maxTokenFile bounds what --token-file reads; a MAST token is a few dozen
// bytes.
const maxTokenFile = 64 << 10

// resolveToken returns the MAST API token of --token (or MAST_API_TOKEN)
// or --token-file (or MASTFS_TOKEN_FILE); giving both is an error. Errors
// never contain the token.
func resolveToken(c *cli.Context) (string, error) {
	token, path := c.String("token"), c.String("token-file")
	if path == "" {
		return token, nil
	}
	if token != "" {
		return "", fmt.Errorf("give the MAST API token either with --token (or MAST_API_TOKEN) or with --token-file (or MASTFS_TOKEN_FILE), not both")
	}
	return readTokenFile(path)
}

// readTokenFile reads a token from path, trimmed of surrounding whitespace.
// A file that group or others may read or write is refused, as ssh refuses
// a private key: the token grants the owner's exclusive-access data. The
// mode is checked on the opened file, so a swap between the check and the
// read does not matter.
func readTokenFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("--token-file %s is not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("--token-file %s has mode %04o: group or others may read or change the token; run `chmod 600 %s`", path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxTokenFile+1))
	if err != nil {
		return "", fmt.Errorf("--token-file %s: %w", path, err)
	}
	if len(b) > maxTokenFile {
		return "", fmt.Errorf("--token-file %s is larger than %d bytes; it should hold only the MAST API token", path, maxTokenFile)
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		return "", fmt.Errorf("--token-file %s is empty", path)
	}
	return token, nil
}

// tokenInArgs reports whether args (os.Args) give --token or -token a
// non-empty value on the command line (--token=x, --token x, -token=x,
// -token x), where any user can read it in ps or /proc/PID/cmdline.
// Scanning stops at "--".
func tokenInArgs(args []string) bool {
	for i := 1; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return false
		}
		name, value, hasValue := strings.Cut(a, "=")
		if name != "--token" && name != "-token" {
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				return false
			}
			value = args[i+1]
			i++
		}
		if value != "" {
			return true
		}
	}
	return false
}

var argvTokenWarning sync.Once

// warnTokenInArgs logs once, at WARN, that the token was given in argv.
// Go cannot portably overwrite its own argv, so the token stays visible
// for the life of the process; the warning says what to use instead. It
// never includes the token.
func warnTokenInArgs(log *slog.Logger, args []string) {
	if !tokenInArgs(args) {
		return
	}
	argvTokenWarning.Do(func() {
		log.Warn("the MAST API token was given on the command line (--token), where other users can read it with ps or in /proc; use the MAST_API_TOKEN environment variable or --token-file instead")
	})
}

// tokenInClear reports whether a token sent to mastURL would cross the
// network unencrypted: plain http to a host other than the loopback.
func tokenInClear(mastURL string) bool {
	u, err := url.Parse(mastURL)
	if err != nil || !strings.EqualFold(u.Scheme, "http") {
		return false
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}
