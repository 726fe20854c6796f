package mastemu

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

const defaultPageSize = 50000

// serveInvoke answers /api/v0/invoke (POST form or GET query "request"),
// noting the service and whether it is a count query in the log entry.
func (s *Server) serveInvoke(w http.ResponseWriter, r *http.Request, entry *LogEntry) {
	reqStr := r.FormValue("request")
	dec := json.NewDecoder(strings.NewReader(reqStr))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		writeError(w, "Invalid request: "+err.Error())
		return
	}
	env := lowerKeys(normalizeJSON(raw))
	service := str(env["service"])
	params := lowerKeys(env["params"])
	isCount := strings.EqualFold(strings.ReplaceAll(str(params["columns"]), " ", ""), "COUNT_BIG(*)")
	entry.Service, entry.Count = service, isCount

	// Long polling: the client repeats the identical body until COMPLETE.
	// Name lookups are answered at once: old clients do not poll them.
	if n := s.opts.ExecutingPolls; n > 0 && !strings.EqualFold(service, "Mast.Name.Lookup") {
		s.mu.Lock()
		seen := s.polls[reqStr]
		if seen < n {
			s.polls[reqStr] = seen + 1
			s.stats.Executing++
		}
		s.mu.Unlock()
		if seen < n {
			writeJSON(w, []byte(`{"status":"EXECUTING","msg":""}`))
			return
		}
	}

	page := pageParam(env["page"], 1)
	pageSize := pageParam(env["pagesize"], defaultPageSize)
	if c := s.opts.PageSizeCap; c > 0 && pageSize > c {
		pageSize = c
	}
	var err error
	switch strings.ToLower(service) {
	case "mast.caom.cone":
		err = s.invokeCone(w, params, page, pageSize)
	case "mast.caom.filtered", "mast.caom.filtered.position":
		err = s.invokeFiltered(w, params, strings.HasSuffix(strings.ToLower(service), ".position"), isCount, page, pageSize)
	case "mast.caom.products":
		err = s.invokeProducts(w, params, page, pageSize)
	case "mast.caom.all":
		s.invokeAll(w)
	case "mast.name.lookup":
		entries := s.cat.lookupName(str(params["input"]))
		if len(entries) > 1 {
			entries = entries[:1]
		}
		writeResolved(w, entries)
	default:
		err = errQuery(fmt.Sprintf("Unknown service '%s'.", service))
	}
	if err != nil {
		writeError(w, err.Error())
	}
}

// normalizeJSON turns json.Number into int64 or float64 throughout.
func normalizeJSON(v any) map[string]any {
	var walk func(any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				x[k] = walk(e)
			}
			return x
		case []any:
			for i, e := range x {
				x[i] = walk(e)
			}
			return x
		}
		return normalizeNumber(v)
	}
	m, _ := walk(v).(map[string]any)
	return m
}

func pageParam(v any, def int) int {
	f, ok := toFloat(v)
	if !ok || f < 1 {
		return def
	}
	return int(f)
}

func (s *Server) invokeCone(w http.ResponseWriter, p map[string]any, page, pageSize int) error {
	ra, ok1 := toFloat(p["ra"])
	dec, ok2 := toFloat(p["dec"])
	rad, ok3 := toFloat(p["radius"])
	if !ok1 || !ok2 || !ok3 {
		return errQuery("Mast.Caom.Cone needs numeric ra, dec and radius.")
	}
	hits := s.cat.search(nil, &cone{ra, dec, rad})
	fields := append(s.cat.Fields(), Field{"distance", "float"})
	s.writeObservations(w, fields, hits, false, page, pageSize)
	return nil
}

func (s *Server) invokeFiltered(w http.ResponseWriter, p map[string]any, positional, count bool, page, pageSize int) error {
	filters, err := s.cat.compileFilters(p["filters"])
	if err != nil {
		return err
	}
	var pos *cone
	if positional {
		c, err := parsePosition(str(p["position"]))
		if err != nil {
			return err
		}
		pos = &c
	}
	hits := s.cat.search(filters, pos)
	if count {
		writeJSON(w, fmt.Appendf(nil, `{"status":"COMPLETE","msg":"","data":[{"Column1":%d}],"fields":[{"name":"Column1","type":"string"}],"paging":{"page":1,"pageSize":%d,"pagesFiltered":1,"rows":1,"rowsFiltered":1,"rowsTotal":1}}`, len(hits), pageSize))
		return nil
	}
	fields := s.cat.Fields()
	if positional {
		fields = append(fields, Field{"objID1", "string"}, Field{"distance", "float"})
	}
	if cols := strings.TrimSpace(str(p["columns"])); cols != "" && cols != "*" {
		var sel []Field
		for _, name := range strings.Split(cols, ",") {
			name = strings.TrimSpace(name)
			found := false
			for _, f := range fields {
				if strings.EqualFold(f.Name, name) {
					sel, found = append(sel, f), true
					break
				}
			}
			if !found {
				return errQuery(fmt.Sprintf("Invalid column name '%s'.", name))
			}
		}
		fields = sel
	}
	s.writeObservations(w, fields, hits, positional, page, pageSize)
	return nil
}

// writeObservations renders one page of observation hits.
func (s *Server) writeObservations(w http.ResponseWriter, fields []Field, hits []hit, positional bool, page, pageSize int) {
	start, end := pageBounds(len(hits), page, pageSize)
	vals := make([]any, len(fields))
	b := startTable(len(hits), end-start)
	objID := s.cat.col("objID")
	for k, h := range hits[start:end] {
		row := s.cat.rows[h.i]
		for j, f := range fields {
			switch {
			case f.Name == "distance":
				vals[j] = h.dist
			case f.Name == "objID1" && positional:
				if objID >= 0 {
					vals[j] = row[objID]
				}
			default:
				vals[j] = row[s.cat.col(f.Name)]
			}
		}
		b = appendRow(b, k, fields, vals)
	}
	writeJSON(w, finishTable(b, fields, page, pageSize, end-start, len(hits)))
}

func (s *Server) invokeProducts(w http.ResponseWriter, p map[string]any, page, pageSize int) error {
	var ids []int
	seen := map[int]bool{}
	list := str(p["obsid"])
	if l, ok := p["obsid"].([]any); ok { // a JSON list instead of "id1,id2"
		parts := make([]string, len(l))
		for i, v := range l {
			parts[i] = str(v)
		}
		list = strings.Join(parts, ",")
	}
	for _, part := range strings.Split(list, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		n, err := strconv.ParseInt(part, 10, 64)
		if err != nil {
			return errQuery("Error converting data type varchar to bigint.")
		}
		if i, ok := s.cat.obsidIdx[n]; ok && !seen[i] {
			seen[i] = true
			ids = append(ids, i)
		}
	}
	var all []listed
	for _, i := range ids {
		all = append(all, s.cat.listing(i)...)
	}
	start, end := pageBounds(len(all), page, pageSize)
	b := startTable(len(all), end-start)
	for k, x := range all[start:end] {
		b = appendRow(b, k, ProductFields, s.cat.productRow(x))
	}
	writeJSON(w, finishTable(b, ProductFields, page, pageSize, end-start, len(all)))
	return nil
}

func pageBounds(n, page, pageSize int) (int, int) {
	if page-1 > n/pageSize {
		return n, n // past the end (and no overflow below)
	}
	start := min(n, (page-1)*pageSize)
	return start, min(n, start+pageSize)
}

func startTable(total, rows int) []byte {
	b := make([]byte, 0, 256+rows*400)
	return append(b, `{"status":"COMPLETE","msg":"","data":[`...)
}

func appendRow(b []byte, k int, fields []Field, vals []any) []byte {
	if k > 0 {
		b = append(b, ',')
	}
	b = append(b, '{')
	for j, f := range fields {
		b = appendString(b, f.Name)
		b = append(b, ':')
		b = appendValue(b, vals[j])
		b = append(b, ',')
	}
	return append(b, `"_selected_":null}`...)
}

func finishTable(b []byte, fields []Field, page, pageSize, rows, total int) []byte {
	b = append(b, `],"fields":[`...)
	for _, f := range fields {
		b = append(b, `{"name":`...)
		b = appendString(b, f.Name)
		b = append(b, `,"type":`...)
		b = appendString(b, f.Type)
		b = append(b, `},`...)
	}
	b = append(b, `{"name":"_selected_","type":"boolean"}]`...)
	pages := 0
	if total > 0 {
		pages = (total + pageSize - 1) / pageSize
	}
	return fmt.Appendf(b, `,"paging":{"page":%d,"pageSize":%d,"pagesFiltered":%d,"rows":%d,"rowsFiltered":%d,"rowsTotal":%d}}`,
		page, pageSize, pages, rows, total, total)
}

// appendValue writes a catalog value as JSON, numbers as encoding/json does.
func appendValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return appendString(b, x)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case bool:
		return strconv.AppendBool(b, x)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return append(b, "null"...)
		}
		fmtc := byte('f')
		if a := math.Abs(x); a != 0 && (a < 1e-6 || a >= 1e21) {
			fmtc = 'e'
		}
		return strconv.AppendFloat(b, x, fmtc, -1, 64)
	}
	j, _ := json.Marshal(v)
	return append(b, j...)
}

func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = fmt.Appendf(b, `\u%04x`, c)
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return append(b, '"')
}

func writeJSON(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}

func writeError(w http.ResponseWriter, msg string) {
	var b bytes.Buffer
	b.WriteString(`{"status":"ERROR","msg":`)
	b.Write(appendString(nil, msg))
	b.WriteString(`,"data":[],"fields":[]}`)
	writeJSON(w, b.Bytes())
}

// invokeAll answers Mast.Caom.All (format extjs): the recorded archive's
// list, or a histogram of the catalog's own collections.
func (s *Server) invokeAll(w http.ResponseWriter) {
	if s.cat.missionsExtjs != nil {
		writeJSON(w, s.cat.missionsExtjs)
		return
	}
	var b bytes.Buffer
	b.WriteString(`{"status":"COMPLETE","msg":"","data":{"name":"NewDataSet","ExtendedProperties":{},"Tables":[{"name":"Table","ExtendedProperties":{"Paging":{"page":0,"pageSize":0,"pagesFiltered":0,"rows":0,"rowsFiltered":0,"rowsTotal":0}},"Columns":[`)
	hcols := []struct{ name, text string }{{"obs_collection", "Mission"}, {"dataproduct_type", "Product Type"}, {"wavelength_region", "Waveband"}}
	for k, hc := range hcols {
		if k > 0 {
			b.WriteByte(',')
		}
		counts, order := s.cat.histogram(hc.name)
		fmt.Fprintf(&b, `{"text":%q,"dataIndex":%q,"ExtendedProperties":{"histObj":{"hist":[`, hc.name, hc.name)
		for j, key := range order {
			if j > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"count":%d,"key":%s}`, counts[key], appendString(nil, key))
		}
		b.WriteString(`]`)
		for _, key := range order {
			fmt.Fprintf(&b, `,%s:{"count":%d,"key":%s}`, appendString(nil, key), counts[key], appendString(nil, key))
		}
		fmt.Fprintf(&b, `},"cc.text":%q,"vot.datatype":"char"}}`, hc.text)
	}
	b.WriteString(`],"Fields":[`)
	for k, f := range s.cat.fields {
		if k > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"name":%q,"type":%q}`, f.Name, f.Type)
	}
	b.WriteString(`],"Rows":[]}]}}`)
	writeJSON(w, b.Bytes())
}

// histogram counts the ";"-tokens of a column, keys in order of appearance.
func (c *Catalog) histogram(col string) (map[string]int, []string) {
	j := c.col(col)
	counts := map[string]int{}
	var order []string
	for _, r := range c.rows {
		for _, t := range strings.Split(str(r[j]), ";") {
			if _, ok := counts[t]; !ok {
				order = append(order, t)
			}
			counts[t]++
		}
	}
	return counts, order
}
