package flv

import (
	"encoding/binary"
	"math"
)

// AMF0 type markers.
//
// Specification: Action Message Format AMF 0, section 2.1.
const (
	amf0Number      = 0x00
	amf0Boolean     = 0x01
	amf0String      = 0x02
	amf0Object      = 0x03
	amf0Null        = 0x05
	amf0Undefined   = 0x06
	amf0Reference   = 0x07
	amf0ECMAArray   = 0x08
	amf0ObjectEnd   = 0x09
	amf0StrictArray = 0x0a
	amf0Date        = 0x0b
	amf0LongString  = 0x0c
	amf0XMLDocument = 0x0f
	amf0TypedObject = 0x10
)

const (
	// amf0MaxDepth bounds nesting of objects and arrays: onMetaData is
	// flat, with at most a "keyframes" object holding two arrays.
	amf0MaxDepth = 8
	// amf0MaxValues bounds the values decoded from one script tag, so a
	// hostile strict array count cannot make us loop for long.
	amf0MaxValues = 100_000
)

// amf0Decoder decodes AMF0 values. Objects and ECMA arrays become
// map[string]any, strict arrays []any, numbers float64, strings string,
// booleans bool, null and undefined nil. Errors are sticky.
type amf0Decoder struct {
	buf    []byte
	values int
	err    error
}

func (d *amf0Decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = errs.Malformed("AMF0: "+format, args...)
	}
}

func (d *amf0Decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || len(d.buf) < n {
		d.fail("truncated")
		return nil
	}
	b := d.buf[:n]
	d.buf = d.buf[n:]
	return b
}

func (d *amf0Decoder) str(lenSize int) string {
	b := d.take(lenSize)
	if b == nil {
		return ""
	}
	n := 0
	for _, c := range b {
		n = n<<8 | int(c)
	}
	return string(d.take(n))
}

func (d *amf0Decoder) value(depth int) any {
	d.values++
	if d.values > amf0MaxValues {
		d.fail("more than %d values", amf0MaxValues)
	}
	if depth > amf0MaxDepth {
		d.fail("nested deeper than %d", amf0MaxDepth)
	}
	m := d.take(1)
	if m == nil {
		return nil
	}
	switch m[0] {
	case amf0Number:
		if b := d.take(8); b != nil {
			return math.Float64frombits(binary.BigEndian.Uint64(b))
		}
	case amf0Boolean:
		if b := d.take(1); b != nil {
			return b[0] != 0
		}
	case amf0String:
		return d.str(2)
	case amf0LongString, amf0XMLDocument:
		return d.str(4)
	case amf0Object:
		return d.properties(depth)
	case amf0TypedObject:
		d.str(2)
		return d.properties(depth)
	case amf0ECMAArray:
		d.take(4) // approximate count: the end marker is what counts
		return d.properties(depth)
	case amf0StrictArray:
		b := d.take(4)
		if b == nil {
			return nil
		}
		n := binary.BigEndian.Uint32(b)
		if uint64(n) > uint64(len(d.buf)) { // every value takes a byte at least
			d.fail("strict array of %d values in %d bytes", n, len(d.buf))
			return nil
		}
		arr := make([]any, 0, n)
		for i := uint32(0); i < n && d.err == nil; i++ {
			arr = append(arr, d.value(depth+1))
		}
		return arr
	case amf0Date:
		d.take(10)
	case amf0Reference:
		d.take(2)
	case amf0Null, amf0Undefined:
	default:
		d.fail("unsupported type marker 0x%02x", m[0])
	}
	return nil
}

// properties reads name/value pairs up to the object end marker.
func (d *amf0Decoder) properties(depth int) map[string]any {
	props := map[string]any{}
	for d.err == nil {
		if len(d.buf) >= 3 && d.buf[0] == 0 && d.buf[1] == 0 && d.buf[2] == amf0ObjectEnd {
			d.buf = d.buf[3:]
			return props
		}
		if len(d.buf) == 0 {
			// Some muxers end an ECMA array without the marker at the
			// end of the tag.
			return props
		}
		name := d.str(2)
		v := d.value(depth + 1)
		if d.err == nil {
			props[name] = v
		}
	}
	return props
}
