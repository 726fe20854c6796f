package mastemu

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"hash/fnv"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"strings"
	"sync"
)

// Product bytes are a pure function of (data URI, offset), so any range of a
// product of any size can be served without materialising the file.

type contentKind uint8

const (
	kindText contentKind = iota
	kindFITS
	kindGzipFITS
	kindJPEG
)

func kindOf(filename string) contentKind {
	f := strings.ToLower(filename)
	switch {
	case strings.HasSuffix(f, ".fits.gz"):
		return kindGzipFITS
	case strings.HasSuffix(f, ".fits"):
		return kindFITS
	case strings.HasSuffix(f, ".jpg"), strings.HasSuffix(f, ".jpeg"):
		return kindJPEG
	}
	return kindText
}

func contentType(k contentKind) string {
	switch k {
	case kindFITS:
		return "application/fits"
	case kindGzipFITS:
		return "application/gzip"
	case kindJPEG:
		return "image/jpeg"
	}
	return "text/plain; charset=utf-8"
}

// contentReader is an io.ReaderAt over one product's bytes.
type contentReader struct {
	c *Catalog
	p *product
}

func (r *contentReader) ReadAt(b []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("mastemu: negative offset")
	}
	if off >= r.p.length {
		return 0, io.EOF
	}
	n := len(b)
	var err error
	if rem := r.p.length - off; int64(n) > rem {
		n, err = int(rem), io.EOF
	}
	if r.p.file != nil {
		k, ferr := r.p.file.ReadAt(b[:n], off)
		if k < n {
			if ferr == nil || ferr == io.EOF {
				ferr = io.ErrUnexpectedEOF // the file shrank under the catalog
			}
			return k, fmt.Errorf("mastemu: file of %s: %w", r.p.uri, ferr)
		}
		return n, err
	}
	seed := uriSeed(r.p.uri)
	switch r.p.kind {
	case kindFITS:
		fillFITS(b[:n], off, r.p.length, seed, r.p)
	case kindGzipFITS:
		r.fillGzip(b[:n], off, seed)
	case kindJPEG:
		fillJPEG(b[:n], off, seed)
	default:
		fillText(b[:n], off, r.p.filename)
	}
	return n, err
}

func uriSeed(uri string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(uri))
	return h.Sum64()
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// fillNoise writes the pseudo-random stream of seed at offset off.
func fillNoise(b []byte, off int64, seed uint64) {
	var w [8]byte
	for len(b) > 0 {
		blk := uint64(off) / 8
		binary.BigEndian.PutUint64(w[:], splitmix(seed^blk*0x9e3779b97f4a7c15))
		k := copy(b, w[off%8:])
		b, off = b[k:], off+int64(k)
	}
}

// fillFITS writes bytes of a FITS file of the given length: a 2880-byte
// primary header and a data unit of pseudo-random 16-bit pixels.
func fillFITS(b []byte, off, length int64, seed uint64, p *product) {
	if off < 2880 {
		h := fitsHeader(length, p)
		k := copy(b, h[off:])
		b, off = b[k:], off+int64(k)
	}
	if len(b) > 0 {
		fillNoise(b, off-2880, seed)
	}
}

func fitsHeader(length int64, p *product) []byte {
	var cards []string
	data := length - 2880
	card := func(key string, val any, comment string) {
		var v string
		switch x := val.(type) {
		case bool:
			v = fmt.Sprintf("%20s", map[bool]string{true: "T", false: "F"}[x])
		case int64:
			v = fmt.Sprintf("%20d", x)
		case string:
			s := "'" + strings.ReplaceAll(x, "'", "''")
			for len(s) < 9 {
				s += " "
			}
			v = s + "'"
		}
		c := fmt.Sprintf("%-8s= %s", key, v)
		if comment != "" && len(c)+3+len(comment) <= 80 {
			c += " / " + comment
		}
		cards = append(cards, fmt.Sprintf("%-80s", c))
	}
	card("SIMPLE", true, "conforms to FITS standard")
	switch {
	case data <= 0:
		card("BITPIX", int64(8), "")
		card("NAXIS", int64(0), "")
	case data%2880 == 0:
		card("BITPIX", int64(16), "array data type")
		card("NAXIS", int64(2), "number of array dimensions")
		card("NAXIS1", int64(1440), "")
		card("NAXIS2", data/2880, "")
	default:
		// Sizes that are not a multiple of 2880 cannot be valid FITS; keep
		// the header honest about the data that follows.
		card("BITPIX", int64(8), "array data type")
		card("NAXIS", int64(1), "number of array dimensions")
		card("NAXIS1", data, "")
	}
	card("EXTEND", true, "")
	card("ORIGIN", "mastemu", "MAST emulator for mastfs tests")
	if len(p.filename) <= 66 {
		card("FILENAME", strings.TrimSuffix(p.filename, ".gz"), "")
	}
	if len(p.uri) <= 66 {
		card("DATAURI", p.uri, "")
	}
	cards = append(cards, fmt.Sprintf("%-80s", "END"))
	h := []byte(strings.Join(cards, ""))
	for len(h) < 2880 {
		h = append(h, ' ')
	}
	return h
}

// Gzip products are valid gzip files made of stored (uncompressed) deflate
// blocks around a FITS payload, so any byte can be computed from its offset.
const (
	gzBlock    = 65535
	gzBlockHdr = 5
)

func gzStored(payload int64) int64 {
	n := (payload + gzBlock - 1) / gzBlock
	if n == 0 {
		n = 1
	}
	return payload + gzBlockHdr*n
}

// gzLength is the file length of a gzip product around a payload.
func gzLength(payload int64) int64 { return 10 + gzStored(payload) + 8 }

// gzLayout finds the payload size (a multiple of 2880) and the gzip comment
// length that make a gzip file of exactly length bytes.
func gzLayout(length int64) (payload, comment int64) {
	payload = (length - 18) / 2880 * 2880
	for payload > 0 && gzLength(payload) > length {
		payload -= 2880
	}
	if payload < 0 {
		payload = 0
	}
	return payload, length - gzLength(payload)
}

func (r *contentReader) fillGzip(b []byte, off int64, seed uint64) {
	payload, comment := gzLayout(r.p.length)
	inner := &product{uri: r.p.uri, filename: r.p.filename}
	payloadAt := func(dst []byte, o int64) { fillFITS(dst, o, payload, seed, inner) }
	hdrLen := 10 + comment
	stored := gzStored(payload)
	for len(b) > 0 {
		var k int
		switch {
		case off < 10:
			flg := byte(0)
			if comment > 0 {
				flg = 0x10 // FCOMMENT
			}
			h := []byte{0x1f, 0x8b, 8, flg, 0, 0, 0, 0, 0, 0xff}
			k = copy(b, h[off:])
		case off < hdrLen:
			// comment: spaces, NUL-terminated
			k = int(min(int64(len(b)), hdrLen-off))
			for j := 0; j < k; j++ {
				b[j] = ' '
				if off+int64(j) == hdrLen-1 {
					b[j] = 0
				}
			}
		case off < hdrLen+stored:
			o := off - hdrLen
			blk, within := o/(gzBlock+gzBlockHdr), o%(gzBlock+gzBlockHdr)
			if within < gzBlockHdr {
				n := min(payload-blk*gzBlock, gzBlock)
				var h [5]byte
				if (blk+1)*gzBlock >= payload {
					h[0] = 1 // BFINAL, BTYPE 00 (stored)
				}
				binary.LittleEndian.PutUint16(h[1:], uint16(n))
				binary.LittleEndian.PutUint16(h[3:], ^uint16(n))
				k = copy(b, h[within:])
			} else {
				po := blk*gzBlock + within - gzBlockHdr
				k = int(min(int64(len(b)), gzBlock+gzBlockHdr-within, payload-po))
				payloadAt(b[:k], po)
			}
		default:
			var t [8]byte
			binary.LittleEndian.PutUint32(t[:], r.c.gzipCRC(r.p.uri, payload, payloadAt))
			binary.LittleEndian.PutUint32(t[4:], uint32(payload))
			k = copy(b, t[off-hdrLen-stored:])
		}
		b, off = b[k:], off+int64(k)
	}
}

func (c *Catalog) gzipCRC(uri string, payload int64, at func([]byte, int64)) uint32 {
	c.crcMu.Lock()
	defer c.crcMu.Unlock()
	if v, ok := c.crcs[uri]; ok {
		return v
	}
	crc := uint32(0)
	buf := make([]byte, 1<<16)
	for o := int64(0); o < payload; {
		n := int(min(int64(len(buf)), payload-o))
		at(buf[:n], o)
		crc = crc32.Update(crc, crc32.IEEETable, buf[:n])
		o += int64(n)
	}
	if c.crcs == nil {
		c.crcs = map[string]uint32{}
	}
	c.crcs[uri] = crc
	return crc
}

// baseJPEG is a small valid JPEG; JPEG products are it followed by filler,
// which decoders ignore after the EOI marker.
var baseJPEG = sync.OnceValue(func() []byte {
	img := image.NewGray(image.Rect(0, 0, 32, 32))
	for y := 0; y < 32; y++ {
		for x := 0; x < 32; x++ {
			img.SetGray(x, y, color.Gray{Y: uint8(x*8 ^ y*4)})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 75}); err != nil {
		panic(err)
	}
	return buf.Bytes()
})

func fillJPEG(b []byte, off int64, seed uint64) {
	base := baseJPEG()
	if off < int64(len(base)) {
		k := copy(b, base[off:])
		b, off = b[k:], off+int64(k)
	}
	if len(b) > 0 {
		fillNoise(b, off, seed)
	}
}

// Text products are fixed 80-byte lines, so line n starts at 80*n.
const textLine = 80

func fillText(b []byte, off int64, filename string) {
	for len(b) > 0 {
		n := off / textLine
		line := fmt.Sprintf("mastemu %s line %08d", filename, n)
		if len(line) > textLine-1 {
			line = line[:textLine-1]
		}
		line = fmt.Sprintf("%-*s\n", textLine-1, line)
		k := copy(b, line[off%textLine:])
		b, off = b[k:], off+int64(k)
	}
}
