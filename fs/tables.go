package fs

// The table files: Q/.observations.csv, Q/.products.csv and
// metadata/{observations,products}.csv. docs/tables.md is the user's view.
//
// The CSV dialect (writeTableCSV) is RFC 4180 to the letter:
//
//   - a header record of column names in server order, then one record per
//     row; every record, the last included, ends with CRLF;
//   - fields are separated by "," and quoted with '"' (a quote inside is
//     doubled) when they contain ',', '"', CR, LF or another control
//     character, start or end with white space, or are empty strings;
//   - null is an empty, unquoted field. A non-null empty string is `""`,
//     so the two stay distinguishable for readers that care (Python's csv,
//     Go's encoding/csv and astropy read both as empty). In a one-column
//     table null is `""` too: an empty line would be skipped as blank by
//     Go, astropy and pandas, and the row lost;
//   - numbers are written in their JSON spelling as the archive sent them
//     (json.Number: 2003738726, 23.118, 1e-05), never through float64, so
//     no digit is lost; booleans as True/False (the spelling of astroquery's
//     tables and of the user.mast.* xattrs); anything else as JSON;
//   - the bytes of string values are written as they are (UTF-8, no BOM),
//     embedded newlines included.
//
// What readers make of it (checked by TestTableCSVLoadsInPythonAndAstropy):
//
//   - Python's csv.reader(open(f, newline="")) returns exactly the strings
//     written.
//   - Go's encoding/csv returns exactly the strings written, except that it
//     turns a CRLF inside a quoted value into LF (documented Go behaviour;
//     no CSV spelling avoids it). FuzzTableCSV checks this property.
//   - astropy.io.ascii.read(f, format="csv") strips spaces and tabs around
//     every value (quoted or not), turns CRLF inside a value into LF, and
//     masks empty values (null and "" alike). It guesses each column's type
//     from its values: numeric columns come back int64/float64 with the
//     archive's values; a string column whose every value looks like a
//     number (proposal_id 08880, obs_id 12345, "nan") is mis-guessed as a
//     number and loses leading zeros. Pass converters for the string
//     columns to keep them: the Data Type column of
//     metadata/observations.csv names them (docs/tables.md has the recipe).

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mastfs/mastfs/mast"
)

// writeTableCSV writes t as RFC 4180 CSV (see the file comment). A table
// without columns is written as nothing at all.
func writeTableCSV(w io.Writer, t *mast.Table) error {
	_, err := w.Write(appendTableCSV(nil, t))
	return err
}

// appendTableCSV appends the CSV form of t to b.
func appendTableCSV(b []byte, t *mast.Table) []byte {
	if t == nil || len(t.Fields) == 0 {
		return b
	}
	single := len(t.Fields) == 1
	for i, f := range t.Fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendCSVField(b, f.Name, single)
	}
	b = append(b, '\r', '\n')
	for _, row := range t.Rows {
		for i, f := range t.Fields {
			if i > 0 {
				b = append(b, ',')
			}
			v := row[f.Name]
			if v == nil {
				if single {
					b = append(b, '"', '"')
				}
				continue
			}
			b = appendCSVField(b, mast.ValueString(v), true)
		}
		b = append(b, '\r', '\n')
	}
	return b
}

// appendCSVField appends one field, quoted when needed. quoteEmpty says
// whether an empty field must be quoted (a non-null empty string, or the
// only field of a record).
func appendCSVField(b []byte, s string, quoteEmpty bool) []byte {
	if !csvNeedsQuotes(s, quoteEmpty) {
		return append(b, s...)
	}
	b = append(b, '"')
	for {
		i := strings.IndexByte(s, '"')
		if i < 0 {
			break
		}
		b = append(b, s[:i+1]...)
		b = append(b, '"')
		s = s[i+1:]
	}
	b = append(b, s...)
	return append(b, '"')
}

// csvNeedsQuotes: RFC 4180 requires quotes around ',', '"', CR and LF; we
// also quote other control characters (TAB, which is not RFC 4180
// TEXTDATA either, and which delimiter sniffers mistake for a separator),
// white space at either end (which many readers trim from unquoted fields)
// and empty strings.
func csvNeedsQuotes(s string, quoteEmpty bool) bool {
	if s == "" {
		return quoteEmpty
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == ',' || c == '"' || c < 0x20 || c == 0x7f {
			return true
		}
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	return unicode.IsSpace(first) || unicode.IsSpace(last)
}

// tableCSV renders a table, or nothing for a nil one.
func tableCSV(t *mast.Table) []byte {
	var buf bytes.Buffer
	_ = writeTableCSV(&buf, t) // a bytes.Buffer does not fail
	return buf.Bytes()
}

// tooManyError is errTooMany with the numbers, for the log.
func tooManyError(count int64, limit int) error {
	return fmt.Errorf("%w: %d observations, limit %d (a table file lists nothing here)", errTooMany, count, limit)
}

// observationsCSV is Q/.observations.csv: the observation table of the
// query, every column in server order, rows in server order. obsid/
// directories have no observation query of their own; their table is the
// Mast.Caom.Filtered query on obsid (one request, when the file is read).
func (d *queryDir) observationsCSV(ctx context.Context) ([]byte, error) {
	if err := d.spec.Runnable(); err != nil {
		return nil, err
	}
	if ids, ok := d.spec.ObsIDs(); ok {
		vals := make([]mast.Value, len(ids))
		for i, id := range ids {
			vals[i] = mast.Value{Text: id}
		}
		q := mast.Query{Criteria: []mast.Criterion{{Name: "obsid", Values: vals}}}
		limit := d.m.runner.maxObs
		t, total, err := d.m.archive.ObservationsLimit(ctx, q, limit)
		if err != nil {
			return nil, err
		}
		if limit > 0 && total > int64(limit) {
			return nil, tooManyError(total, limit)
		}
		return tableCSV(t), nil
	}
	l, err := d.m.runner.listing(ctx, d.spec)
	if err != nil {
		return nil, err
	}
	if l.TooMany {
		return nil, tooManyError(l.Count, l.Limit)
	}
	return tableCSV(l.Observations), nil
}

// productsCSV is Q/.products.csv: the product table of exactly the files
// listed (after the @ filters and de-duplication by dataURI), every column
// in server order, one row per file in archive order.
func (d *queryDir) productsCSV(ctx context.Context) ([]byte, error) {
	if err := d.spec.Runnable(); err != nil {
		return nil, err
	}
	l, err := d.m.runner.listing(ctx, d.spec)
	if err != nil {
		return nil, err
	}
	if l.TooMany {
		return nil, tooManyError(l.Count, l.Limit)
	}
	t := &mast.Table{Fields: l.Products.Fields, RowsFiltered: -1, Rows: make([]mast.Row, len(l.Files))}
	for i, f := range l.Files {
		t.Rows[i] = f.Row
	}
	return tableCSV(t), nil
}

// metadataFields are the columns of astroquery's get_metadata table.
var metadataFields = []mast.Field{
	{Name: "Column Name", Type: "string"},
	{Name: "Column Label", Type: "string"},
	{Name: "Data Type", Type: "string"},
	{Name: "Units", Type: "string"},
	{Name: "Description", Type: "string"},
	{Name: "Examples/Valid Values", Type: "string"},
}

// metadataTable is astroquery's get_metadata (_get_columnsconfig_metadata)
// of a columns config: one row per column in server order, skipping
// _selected_ and removed columns; label = text (the column name when there
// is no text), data type = parse_type(type), else parse_type(vot.datatype);
// units = unit, else vot.unit; description = vot.description; examples =
// example. Output columns that are empty in every row are dropped (all of
// them when there are no rows, as astropy's .all() of nothing is true).
func metadataTable(cc *mast.ColumnConfig) *mast.Table {
	var rows [][]string
	for _, c := range cc.Columns {
		if c.Name == "_selected_" || c.Remove {
			continue
		}
		label := c.Name
		if v, ok := c.Props["text"]; ok {
			label = mast.ValueString(v)
		}
		dtype := parseType(propString(c.Props, "type"))
		if dtype == "" {
			dtype = parseType(propString(c.Props, "vot.datatype"))
		}
		units := propString(c.Props, "unit")
		if units == "" {
			units = propString(c.Props, "vot.unit")
		}
		rows = append(rows, []string{c.Name, label, dtype, units,
			propString(c.Props, "vot.description"), propString(c.Props, "example")})
	}
	t := &mast.Table{RowsFiltered: -1}
	var keep []int
	for j, f := range metadataFields {
		for _, r := range rows {
			if r[j] != "" {
				keep = append(keep, j)
				t.Fields = append(t.Fields, f)
				break
			}
		}
	}
	for _, r := range rows {
		row := make(mast.Row, len(keep))
		for _, j := range keep {
			if r[j] != "" { // "" is "not given": an empty field, not `""`
				row[metadataFields[j].Name] = r[j]
			}
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// propString is a config property as text ("" when absent or null).
func propString(props map[string]any, key string) string {
	return mast.ValueString(props[key])
}

// parseType is the human-readable type of astroquery's utils.parse_type:
// the name is lower-cased; unknown names pass through (lower-cased).
func parseType(dbtype string) string {
	t := strings.ToLower(dbtype)
	switch t {
	case "char", "string", "datetime", "date":
		return "string"
	case "double", "float", "decimal":
		return "float"
	case "int", "short", "long", "number":
		return "integer"
	case "boolean", "binary":
		return "boolean"
	case "unsignedbyte":
		return "byte"
	}
	return t
}

// metadataCSV is metadata/<kind>.csv for the service's columns config.
func (m *mountState) metadataCSV(ctx context.Context, service string) ([]byte, error) {
	cc, err := m.archive.ColumnsConfig(ctx, service)
	if err != nil {
		return nil, err
	}
	return tableCSV(metadataTable(cc)), nil
}
