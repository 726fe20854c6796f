package mast

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file reproduces the two Python functions astroquery uses to put a
// Mashup request on the wire: json.dumps (default separators ", " and ": ",
// ensure_ascii, float repr) and urllib.parse.quote. Matching them byte for
// byte keeps mastfs indistinguishable from astroquery for MAST's caching and
// for tests that replay astroquery traffic.

// Param is one key of an ordered JSON object.
type Param struct {
	Key   string
	Value any
}

// Params is a JSON object whose keys keep their order, as a Python dict
// does. Use it for service params: MAST does not care about order, but
// byte-identical requests do.
type Params []Param

// Set replaces the value of key in place, or appends it. This is how
// astroquery's extra keyword arguments overwrite envelope keys.
func (p *Params) Set(key string, v any) {
	for i := range *p {
		if (*p)[i].Key == key {
			(*p)[i].Value = v
			return
		}
	}
	*p = append(*p, Param{key, v})
}

// pyJSONAppender is implemented by types with a fixed Python-JSON spelling.
type pyJSONAppender interface {
	appendPyJSON(b []byte) ([]byte, error)
}

// pyJSON encodes v as Python's json.dumps(v) would.
func pyJSON(v any) ([]byte, error) {
	return appendPyJSON(nil, v)
}

func appendPyJSON(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case pyJSONAppender:
		return x.appendPyJSON(b)
	case Params:
		b = append(b, '{')
		for i, p := range x {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = appendPyString(b, p.Key)
			b = append(b, ": "...)
			var err error
			if b, err = appendPyJSON(b, p.Value); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case string:
		return appendPyString(b, x), nil
	case bool:
		if x {
			return append(b, "true"...), nil
		}
		return append(b, "false"...), nil
	case json.Number:
		if !isJSONNumber(string(x)) {
			return nil, fmt.Errorf("mast: %q is not a JSON number", string(x))
		}
		return append(b, x...), nil
	case float64:
		return append(b, pyFloatRepr(x)...), nil
	case float32:
		return append(b, pyFloatRepr(float64(x))...), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	}
	// Remaining kinds (other ints, slices, string-keyed maps) by reflection.
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int8, reflect.Int16, reflect.Int32:
		return strconv.AppendInt(b, rv.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.AppendUint(b, rv.Uint(), 10), nil
	case reflect.Slice, reflect.Array:
		// A nil slice is still a list: json.dumps([]) is "[]", never null.
		b = append(b, '[')
		for i := 0; i < rv.Len(); i++ {
			if i > 0 {
				b = append(b, ", "...)
			}
			var err error
			if b, err = appendPyJSON(b, rv.Index(i).Interface()); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			break
		}
		// Go maps have no order; sorted keys at least make the bytes stable.
		keys := make([]string, 0, rv.Len())
		for _, k := range rv.MapKeys() {
			keys = append(keys, k.String())
		}
		sort.Strings(keys)
		p := make(Params, 0, len(keys))
		for _, k := range keys {
			p = append(p, Param{k, rv.MapIndex(reflect.ValueOf(k).Convert(rv.Type().Key())).Interface()})
		}
		return appendPyJSON(b, p)
	case reflect.Pointer:
		if rv.IsNil() {
			return append(b, "null"...), nil
		}
		return appendPyJSON(b, rv.Elem().Interface())
	}
	return nil, fmt.Errorf("mast: cannot encode %T as a Mashup parameter", v)
}

// appendPyString is json.dumps for a str with ensure_ascii=True: only the
// printable ASCII range ' '..'~' is kept literally, everything else is an
// escape, with lower-case hex and surrogate pairs above the BMP.
func appendPyString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	u4 := func(b []byte, r rune) []byte {
		return append(b, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
	}
	b = append(b, '"')
	for _, r := range s { // invalid UTF-8 decodes to U+FFFD, as Python's surrogateescape cannot occur here
		switch {
		case r == '"':
			b = append(b, '\\', '"')
		case r == '\\':
			b = append(b, '\\', '\\')
		case r == '\n':
			b = append(b, '\\', 'n')
		case r == '\r':
			b = append(b, '\\', 'r')
		case r == '\t':
			b = append(b, '\\', 't')
		case r == '\b':
			b = append(b, '\\', 'b')
		case r == '\f':
			b = append(b, '\\', 'f')
		case r >= ' ' && r <= '~':
			b = append(b, byte(r))
		case r < 0x10000:
			b = u4(b, r)
		default:
			r -= 0x10000
			b = u4(b, 0xd800|(r>>10)&0x3ff)
			b = u4(b, 0xdc00|r&0x3ff)
		}
	}
	return append(b, '"')
}

// pyFloatRepr is Python's repr(float): the shortest round-tripping digits,
// positional notation when the decimal exponent is in [-4, 16), else
// scientific with a signed exponent of at least two digits; always a '.'
// or an exponent so the value reads back as a float.
func pyFloatRepr(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // e.g. "1.5e+20", "1e-05"
	exp, _ := strconv.Atoi(e[strings.IndexByte(e, 'e')+1:])
	if decpt := exp + 1; decpt > -4 && decpt <= 16 {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.ContainsAny(s, ".") {
			s += ".0"
		}
		return s
	}
	return e // Go already writes at least two exponent digits, with a sign
}

// isJSONNumber reports whether s is a number in JSON's grammar (RFC 8259).
func isJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

// pyQuote is urllib.parse.quote(s, safe=safe): UTF-8 bytes, with letters,
// digits, "_.-~" and the safe characters kept, everything else %XX in
// upper-case hex.
func pyQuote(s, safe string) string {
	const hex = "0123456789ABCDEF"
	var sb strings.Builder
	sb.Grow(len(s) + len(s)/2)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("_.-~", c) >= 0 || c < utf8.RuneSelf && strings.IndexByte(safe, c) >= 0 {
			sb.WriteByte(c)
			continue
		}
		sb.WriteByte('%')
		sb.WriteByte(hex[c>>4])
		sb.WriteByte(hex[c&0xf])
	}
	return sb.String()
}
