package mastemu

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
)

// productFor finds the product a Download/file request names. astroquery
// 0.4.6 sends the URI unescaped, so an HLA cgi URI's own "&" splits it into
// several query parameters; the raw query after "uri=" is tried as well.
func (s *Server) productFor(r *http.Request) (string, *product) {
	uri := r.URL.Query().Get("uri")
	if p := s.cat.product(uri); p != nil {
		return uri, p
	}
	raw := r.URL.RawQuery
	for k := 0; k+4 <= len(raw); k++ {
		if raw[k:k+4] != "uri=" || (k > 0 && raw[k-1] != '&') {
			continue
		}
		if whole, err := url.PathUnescape(raw[k+4:]); err == nil {
			if p := s.cat.product(whole); p != nil {
				return whole, p
			}
		}
		break
	}
	return uri, nil
}

// serveDownload answers HEAD/GET /api/v0.1/Download/file?uri=..
func (s *Server) serveDownload(w http.ResponseWriter, r *http.Request, entry *LogEntry) {
	uri, p := s.productFor(r)
	entry.URI = uri
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if p == nil {
		http.Error(w, "File not found: "+uri, http.StatusNotFound)
		return
	}
	if p.rights == rightsExclusive && !s.authorized(r) {
		http.Error(w, "Unauthorized: exclusive access data requires a valid MAST token", http.StatusUnauthorized)
		return
	}
	h := w.Header()
	h.Set("Content-Type", contentType(p.kind))
	h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", p.filename))
	body := io.NewSectionReader(&contentReader{c: s.cat, p: p}, 0, p.length)

	if p.size < 0 {
		// Dynamic product: generated per request, so no length and no ranges.
		w.WriteHeader(http.StatusOK)
		flush(w) // headers out now: the body is chunked, never measured
		if r.Method == http.MethodGet {
			io.CopyBuffer(w, body, make([]byte, 64<<10))
		}
		return
	}
	if s.opts.IgnoreRange {
		r.Header.Del("Range")
		r.Header.Del("If-Range")
	}
	if s.opts.OmitContentLength {
		w = &noLengthWriter{w}
	}
	http.ServeContent(w, r, "", time.Time{}, body)
	return
}

func flush(w http.ResponseWriter) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

// noLengthWriter removes Content-Length and sends the headers at once, so
// the body goes out chunked.
type noLengthWriter struct{ http.ResponseWriter }

func (w *noLengthWriter) WriteHeader(code int) {
	w.Header().Del("Content-Length")
	w.ResponseWriter.WriteHeader(code)
	flush(w.ResponseWriter)
}

// serveBundle answers POST /api/v0.1/Download/bundle.sh with a curl script.
func (s *Server) serveBundle(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	uris := r.Form["uri"]
	base := "http://" + r.Host
	if r.TLS != nil {
		base = "https://" + r.Host
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "#!/bin/sh\n#\n# MAST download script (mastemu): %d file(s).\n", len(uris))
	b.WriteString("# Set MAST_API_TOKEN to fetch exclusive-access files.\n#\n\n")
	for _, u := range uris {
		out := "mastDownload/" + path.Base(u)
		if p := s.cat.product(u); p != nil {
			info := p.info(s.cat)
			out = "mastDownload/" + info.ObsCollection + "/" + info.ObsID + "/" + p.filename
		}
		esc := strings.NewReplacer("%3A", ":", "%2F", "/").Replace(url.QueryEscape(u))
		fmt.Fprintf(&b, "curl -H \"Authorization: token $MAST_API_TOKEN\" --globoff --location-trusted -f --progress-bar --create-dirs --output %s %s\n",
			shellQuote(out), shellQuote(base+"/api/v0.1/Download/file?bundle_name=mastDownload&uri="+esc))
	}
	w.Header().Set("Content-Type", "text/x-shellscript")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=mastDownload_%s.sh", time.Now().UTC().Format("20060102150405")))
	w.Write(b.Bytes())
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// servePathLookup answers GET /api/v0.1/path_lookup/?uri=..&uri=..: every
// requested URI is a key, with the cloud path or a 404 entry.
func (s *Server) servePathLookup(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	b := []byte{'{'}
	seen := map[string]bool{}
	for _, u := range r.Form["uri"] {
		if seen[u] {
			continue
		}
		if len(seen) > 0 {
			b = append(b, ',')
		}
		seen[u] = true
		b = appendString(b, u)
		if p := s.cat.product(u); p != nil && p.cloudKey != "" {
			b = append(b, `:{"status_code":200,"path":`...)
			b = appendString(b, "/"+p.cloudKey)
			b = append(b, '}')
		} else {
			b = append(b, `:{"status_code":404,"path":null}`...)
		}
	}
	writeJSON(w, append(b, '}'))
}
