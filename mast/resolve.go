package mast

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// PathLookupBatchSize is how many URIs go into one path_lookup request
// (astroquery's chunking, to avoid "414 Request-URI Too Large").
const PathLookupBatchSize = 40

// catalogResolvers maps name prefixes to the MAST catalog SANTA also
// consults when a resolver is named (astroquery's catalog_prefixes).
var catalogResolvers = []struct{ prefix, resolver string }{
	{"TIC ", "TIC"},
	{"KIC ", "KEPLER"},
	{"EPIC ", "K2"},
}

// Resolve places an object name on the sky (ICRS degrees) with SANTA, as
// astroquery's resolve_object does. resolver is "", "NED" or "SIMBAD"
// (any case); "" takes the first resolver that knows the name. An unknown
// name gives a *ResolveError that is errors.Is(err, ErrNotFound).
func (c *Client) Resolve(ctx context.Context, name, resolver string) (ra, dec float64, err error) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	name = strings.TrimSpace(name)
	resolver = strings.ToUpper(resolver)
	if name == "" {
		return 0, 0, &ResolveError{Reason: "An object name must be given."}
	}
	if resolver != "" && resolver != "NED" && resolver != "SIMBAD" {
		return 0, 0, &ResolveError{Name: name, Resolver: resolver, Reason: `Invalid resolver. Must be "NED" or "SIMBAD".`}
	}
	// Parameter order as requests encodes astroquery's params dict.
	q := "outputFormat=json&resolveAll=False"
	if resolver != "" {
		q += "&resolver=" + resolver
		for _, cat := range catalogResolvers {
			if strings.HasPrefix(name, cat.prefix) {
				q += "&resolver=" + cat.resolver
				break
			}
		}
	}
	q += "&name=" + url.QueryEscape(name)
	raw, err := c.getJSON(ctx, withQuery(c.cfg.ResolverURL, q))
	if err != nil {
		return 0, 0, err
	}
	var res struct {
		ResolvedCoordinate []struct {
			SearchString *string     `json:"searchString"`
			Resolver     string      `json:"resolver"`
			RA           json.Number `json:"ra"`
			Decl         json.Number `json:"decl"`
		} `json:"resolvedCoordinate"`
	}
	jd := json.NewDecoder(bytes.NewReader(raw))
	jd.UseNumber()
	if err := jd.Decode(&res); err != nil {
		return 0, 0, fmt.Errorf("%w: resolver: malformed response: %v", ErrServer, err)
	}
	want := strings.ToLower(name)
	for _, r := range res.ResolvedCoordinate {
		// searchString ties an answer to the name asked; an answer without
		// one can only be for the single name we sent.
		if r.SearchString != nil && *r.SearchString != want {
			continue
		}
		if resolver != "" && r.Resolver != resolver {
			continue
		}
		ra, err1 := r.RA.Float64()
		de, err2 := r.Decl.Float64()
		if err1 != nil || err2 != nil {
			return 0, 0, fmt.Errorf("%w: resolver: %s answer for %q has no position", ErrServer, r.Resolver, name)
		}
		return ra, de, nil
	}
	return 0, 0, &ResolveError{Name: name, Resolver: resolver}
}

// PathLookup maps dataURIs to their keys in the cloud bucket (stpubdata),
// leading "/" removed. URIs the service does not place (absent, or path
// null) are simply not in the map.
func (c *Client) PathLookup(ctx context.Context, uris []string) (map[string]string, error) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	var uniq []string
	seen := map[string]bool{}
	for _, u := range uris {
		if u != "" && !seen[u] {
			seen[u] = true
			uniq = append(uniq, u)
		}
	}
	out := make(map[string]string, len(uniq))
	for len(uniq) > 0 {
		batch := uniq[:min(len(uniq), PathLookupBatchSize)]
		uniq = uniq[len(batch):]
		var q strings.Builder
		for _, u := range batch {
			q.WriteString("uri=" + url.QueryEscape(u) + "&")
		}
		q.WriteString("use_cloud_path=True")
		raw, err := c.getJSON(ctx, withQuery(c.cfg.PathLookupURL, q.String()))
		if err != nil {
			return nil, err
		}
		var res map[string]*struct {
			Path *string `json:"path"`
		}
		if err := json.Unmarshal(raw, &res); err != nil {
			return nil, fmt.Errorf("%w: path_lookup: malformed response: %v", ErrServer, err)
		}
		for _, u := range batch {
			if r := res[u]; r != nil && r.Path != nil {
				if p := strings.TrimLeft(*r.Path, "/"); p != "" && usableKey(p) {
					out[u] = p
				}
			}
		}
	}
	return out, nil
}

// usableKey refuses bucket keys no real answer holds: control characters
// (a newline would add a line to .cloud-uris.txt) and ".." components.
// Such a product is treated as not in the cloud.
func usableKey(k string) bool {
	if len(k) > 1024 {
		return false
	}
	for _, r := range k {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	for _, part := range strings.Split(k, "/") {
		if part == ".." || part == "." {
			return false
		}
	}
	return true
}

// getJSON is astroquery's _simple_request: a GET with the portal headers
// and no token (those services are outside the archive session).
func (c *Client) getJSON(ctx context.Context, u string) ([]byte, error) {
	req, err := c.newRequest(ctx, http.MethodGet, u, nil, false)
	if err != nil {
		return nil, err
	}
	portalHeaders(req)
	return c.fetch(req)
}

func withQuery(base, q string) string {
	if strings.Contains(base, "?") {
		return base + "&" + q
	}
	return base + "?" + q
}
