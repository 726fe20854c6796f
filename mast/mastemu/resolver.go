package mastemu

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
)

// resolved is one resolvedCoordinate entry of the name resolver.
type resolved struct {
	search     string // lower-case searchString
	resolver   string
	canonical  string
	ra, dec    float64
	objectType string
	raw        json.RawMessage // the recorded entry, served verbatim
}

func (r resolved) json() json.RawMessage {
	if r.raw != nil {
		return r.raw
	}
	b, _ := json.Marshal(map[string]any{
		"searchString": r.search, "resolver": r.resolver, "cached": true, "resolverTime": 1,
		"searchRadius": -1.0, "canonicalName": r.canonical, "ra": r.ra, "decl": r.dec,
		"objectType": r.objectType,
	})
	return b
}

func recordedNames() []resolved {
	var doc struct {
		ResolvedCoordinate []json.RawMessage `json:"resolvedCoordinate"`
	}
	if err := json.Unmarshal(recordedFile("resolver.json"), &doc); err != nil {
		panic(err)
	}
	var out []resolved
	for _, raw := range doc.ResolvedCoordinate {
		var e struct {
			SearchString, Resolver, CanonicalName, ObjectType string
			RA                                                float64 `json:"ra"`
			Decl                                              float64 `json:"decl"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			panic(err)
		}
		var compact bytes.Buffer
		_ = json.Compact(&compact, raw)
		out = append(out, resolved{search: strings.ToLower(e.SearchString), resolver: e.Resolver,
			canonical: e.CanonicalName, ra: e.RA, dec: e.Decl, objectType: e.ObjectType, raw: compact.Bytes()})
	}
	return out
}

// Resolve returns where the emulator's resolver puts a name (the first entry,
// as the SANTA default and Mast.Name.Lookup answer).
func (c *Catalog) Resolve(name string) (ra, dec float64, ok bool) {
	for _, r := range c.lookupName(name) {
		return r.ra, r.dec, true
	}
	return 0, 0, false
}

// TargetNames returns every name the resolver knows (lower case, as
// searchString), without duplicates, in catalog order.
func (c *Catalog) TargetNames() []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range c.names {
		if !seen[r.search] {
			seen[r.search] = true
			out = append(out, r.search)
		}
	}
	return out
}

// lookupName finds a name case- and space-insensitively ("M 101" is "m101");
// the entries echo the name as asked, as searchString, like SANTA.
func (c *Catalog) lookupName(name string) []resolved {
	asked := strings.ToLower(strings.TrimSpace(name))
	key := strings.ReplaceAll(asked, " ", "")
	var out []resolved
	for _, r := range c.names {
		if strings.ReplaceAll(r.search, " ", "") == key {
			out = append(out, r.as(asked))
		}
	}
	return out
}

func (r resolved) as(search string) resolved {
	if r.search == search {
		return r
	}
	r.search = search
	if r.raw != nil {
		var m map[string]any
		if json.Unmarshal(r.raw, &m) == nil {
			m["searchString"] = search
			r.raw, _ = json.Marshal(m)
		}
	}
	return r
}

func writeResolved(w http.ResponseWriter, entries []resolved) {
	var b bytes.Buffer
	b.WriteString(`{"resolvedCoordinate":[`)
	for i, e := range entries {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(e.json())
	}
	b.WriteString(`],"status":""}`)
	w.Header().Set("Content-Type", "application/json")
	w.Write(b.Bytes())
}

// serveSanta answers GET /Santa-war/query?name=..&name=..&resolveAll=..&resolver=..
func (s *Server) serveSanta(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	all := strings.EqualFold(q.Get("resolveAll"), "true")
	var want []string
	for _, v := range q["resolver"] {
		want = append(want, strings.ToUpper(v))
	}
	var out []resolved
	for _, name := range q["name"] {
		entries := s.cat.lookupName(name)
		switch {
		case all:
			out = append(out, entries...)
		case len(want) > 0:
			for _, e := range entries {
				for _, rv := range want {
					if e.resolver == rv {
						out = append(out, e)
					}
				}
			}
		case len(entries) > 0:
			out = append(out, entries[0])
		}
	}
	writeResolved(w, out)
}

// whoami answers GET /whoami: anonymous, or the logged-in shape of
// astroquery's session_info when the request carries the configured token.
func (s *Server) serveWhoami(w http.ResponseWriter, r *http.Request) {
	var info map[string]any
	if s.authorized(r) {
		info = map[string]any{
			"eppn": "alice@example.org", "ezid": "alice",
			"attrib": map[string]any{"uuid": "8f1c5b2e-1b1a-4c5e-9d7f-0a2b3c4d5e6f", "first_name": "A.",
				"last_name": "User", "display_name": "A. User", "internal": false, "email": "alice@example.org"},
			"anon": false, "scopes": []string{"mast:user:info", "mast:exclusive_access"},
			"session": nil, "token": s.opts.Token,
		}
	} else {
		info = map[string]any{"eppn": "", "ezid": "anonymous", "attrib": map[string]any{},
			"anon": true, "scopes": []string{}, "session": nil, "token": nil}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(info)
}
