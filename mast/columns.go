package mast

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// Column is one entry of a columns config: how the Portal describes a
// column. The fields are the properties astroquery reads; Props holds every
// property as decoded (json.Number for numbers).
type Column struct {
	Name           string
	Text           string // label ("Mission" for obs_collection)
	Type           string
	VOTDatatype    string
	Unit           string
	VOTUnit        string
	VOTDescription string
	Example        string
	Remove         bool   // hidden by the Portal; astroquery's get_metadata skips it
	Separator      string // multi-valued columns hold values joined by this
	TreatNumeric   bool
	IgnoreValue    any // a placeholder meaning "no value" (nil when absent)
	IsMjd          bool
	Props          map[string]any
}

// Label is the human name: text, or the column name when there is none.
func (c Column) Label() string {
	if c.Text != "" {
		return c.Text
	}
	return c.Name
}

// Datatype is vot.datatype when the property exists, else type: the
// expression build_filter_set uses.
func (c Column) Datatype() string {
	if _, ok := c.Props["vot.datatype"]; ok {
		return c.VOTDatatype
	}
	return c.Type
}

// Continuous reports whether filters on the column are {min,max} ranges:
// a double/float/numeric datatype or treatNumeric. Integer columns
// (calib_level, obsid) are discrete, as in astroquery.
func (c Column) Continuous() bool {
	switch c.Datatype() {
	case "double", "float", "numeric":
		return true
	}
	return c.TreatNumeric
}

// MJD reports whether the column holds Modified Julian Dates.
func (c Column) MJD() bool {
	return c.IsMjd || strings.EqualFold(c.Unit, "MJD")
}

// Units is unit, else vot.unit (astroquery's get_metadata).
func (c Column) Units() string {
	if c.Unit != "" {
		return c.Unit
	}
	return c.VOTUnit
}

// ColumnConfig is a service's columns config, in server order.
type ColumnConfig struct {
	Service string
	Columns []Column
	exact   map[string]int
	folded  map[string]int
}

// Lookup finds a column case-insensitively (an exact match wins when two
// names differ only in case).
func (cc *ColumnConfig) Lookup(name string) (Column, bool) {
	if i, ok := cc.exact[name]; ok {
		return cc.Columns[i], true
	}
	if i, ok := cc.folded[strings.ToLower(name)]; ok {
		return cc.Columns[i], true
	}
	return Column{}, false
}

// Mask replaces values equal to a column's ignoreValue by nil, in place,
// as astroquery masks them.
func (cc *ColumnConfig) Mask(t *Table) {
	for _, col := range cc.Columns {
		if col.IgnoreValue == nil {
			continue
		}
		for _, row := range t.Rows {
			if v, ok := row[col.Name]; ok && sameValue(v, col.IgnoreValue) {
				row[col.Name] = nil
			}
		}
	}
}

// sameValue compares JSON values, numbers numerically (0 equals 0.0).
func sameValue(a, b any) bool {
	an, aok := a.(json.Number)
	bn, bok := b.(json.Number)
	if aok && bok {
		af, err1 := an.Float64()
		bf, err2 := bn.Float64()
		return err1 == nil && err2 == nil && af == bf
	}
	return a == b
}

// configCall is one columns config fetch, shared by concurrent callers.
type configCall struct {
	done chan struct{}
	cfg  *ColumnConfig
	err  error
}

// ColumnsConfig returns the columns config of a service (colConfigId), in
// server order. Successful answers are cached for the Client's lifetime;
// concurrent callers share one request, and a failure is not cached.
func (c *Client) ColumnsConfig(ctx context.Context, service string) (*ColumnConfig, error) {
	c.mu.Lock()
	call, ok := c.configs[service]
	if !ok {
		call = &configCall{done: make(chan struct{})}
		c.configs[service] = call
		// The fetch is shared, so one caller giving up must not fail the
		// others: it runs detached from ctx, bounded by Config.Timeout.
		go func() {
			fctx, cancel := c.withTimeout(context.WithoutCancel(ctx))
			defer cancel()
			call.cfg, call.err = c.fetchColumnsConfig(fctx, service)
			if call.err != nil {
				c.mu.Lock()
				delete(c.configs, service)
				c.mu.Unlock()
			}
			close(call.done)
		}()
	}
	c.mu.Unlock()
	select {
	case <-call.done:
		return call.cfg, call.err
	case <-ctx.Done():
		return nil, fmt.Errorf("mast: columns config %s: %w", service, ctx.Err())
	}
}

func (c *Client) fetchColumnsConfig(ctx context.Context, service string) (*ColumnConfig, error) {
	// The body is not URL-encoded, exactly as astroquery sends it.
	raw, err := c.postPortal(ctx, "/portal/Mashup/Mashup.asmx/columnsconfig", strings.NewReader("colConfigId="+service))
	if err != nil {
		return nil, err
	}
	return parseColumnsConfig(service, raw)
}

// parseColumnsConfig decodes the config object keeping key order, which
// encoding/json maps lose; {} is a valid, empty config.
func parseColumnsConfig(service string, raw []byte) (*ColumnConfig, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		// The service "returns nothing if there is an error".
		return nil, &ServiceError{Service: service, Msg: "columns config is empty or not an object"}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	cc := &ColumnConfig{Service: service, exact: map[string]int{}, folded: map[string]int{}}
	bad := func(err error) error {
		return fmt.Errorf("%w: columns config %s: %v", ErrServer, service, err)
	}
	if _, err := dec.Token(); err != nil { // '{'
		return nil, bad(err)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, bad(err)
		}
		name := tok.(string) // object keys are always strings
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, bad(fmt.Errorf("column %q: %v", name, err))
		}
		props, _ := v.(map[string]any) // a non-object entry has no properties
		col := Column{Name: name, Props: props}
		str := func(k string) string { s, _ := props[k].(string); return s }
		col.Text = str("text")
		col.Type = str("type")
		col.VOTDatatype = str("vot.datatype")
		col.Unit = str("unit")
		col.VOTUnit = str("vot.unit")
		col.VOTDescription = str("vot.description")
		col.Example = str("example")
		col.Separator = str("separator")
		col.Remove = truthy(props["remove"])
		col.TreatNumeric = truthy(props["treatNumeric"])
		col.IsMjd = truthy(props["isMjd"])
		col.IgnoreValue = props["ignoreValue"]
		if i, dup := cc.exact[name]; dup { // a repeated key: the last wins, as in Python
			cc.Columns[i] = col
			continue
		}
		cc.exact[name] = len(cc.Columns)
		if _, taken := cc.folded[strings.ToLower(name)]; !taken {
			cc.folded[strings.ToLower(name)] = len(cc.Columns)
		}
		cc.Columns = append(cc.Columns, col)
	}
	if _, err := dec.Token(); err != nil { // '}'
		return nil, bad(err)
	}
	return cc, nil
}

// truthy is Python's bool() for a decoded JSON value.
func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case json.Number:
		f, err := x.Float64()
		return err != nil || f != 0
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	return true
}
