package rtmp

import (
	"encoding/binary"
	"fmt"
)

// maxAMFDepth bounds the nesting of AMF0 objects and arrays in a message.
const maxAMFDepth = 32

// checkAMF0 walks the AMF0 values of a command or data message body the
// way go-amf0 (under go-rtmp) will decode them, and refuses a body that
// would make it allocate more than the body holds: go-amf0 allocates a
// strict array's declared element count (up to 2^31) before reading any
// element. It also refuses nesting deeper than maxAMFDepth. Where the body
// is truncated or has a marker go-amf0 does not decode, the walk stops:
// go-amf0 fails there with an error of its own, without allocating.
func checkAMF0(b []byte) error {
	r := amfWalk{b: b}
	for len(r.b) > 0 && !r.stop {
		if err := r.value(0); err != nil {
			return err
		}
	}
	return nil
}

type amfWalk struct {
	b    []byte
	stop bool
}

func (r *amfWalk) skip(n int) {
	if len(r.b) < n {
		r.b, r.stop = nil, true
		return
	}
	r.b = r.b[n:]
}

func (r *amfWalk) u16() int {
	if len(r.b) < 2 {
		r.b, r.stop = nil, true
		return 0
	}
	v := int(binary.BigEndian.Uint16(r.b))
	r.b = r.b[2:]
	return v
}

func (r *amfWalk) value(depth int) error {
	if r.stop || len(r.b) == 0 {
		r.stop = true
		return nil
	}
	if depth > maxAMFDepth {
		return fmt.Errorf("AMF0 values nested deeper than %d", maxAMFDepth)
	}
	marker := r.b[0]
	r.b = r.b[1:]
	switch marker {
	case 0x00: // number
		r.skip(8)
	case 0x01: // boolean
		r.skip(1)
	case 0x02: // string
		r.skip(r.u16())
	case 0x03: // object
		return r.pairs(depth)
	case 0x05, 0x06: // null, undefined
	case 0x07: // reference
		r.skip(2)
	case 0x08: // ECMA array: a count (not trusted by the decoder) and pairs
		r.skip(4)
		return r.pairs(depth)
	case 0x0a: // strict array
		if len(r.b) < 4 {
			r.b, r.stop = nil, true
			return nil
		}
		n := binary.BigEndian.Uint32(r.b)
		r.b = r.b[4:]
		if uint64(n) > uint64(len(r.b)) {
			return fmt.Errorf("an AMF0 array declares %d elements and has %d bytes left", n, len(r.b))
		}
		for i := uint32(0); i < n && !r.stop; i++ {
			if err := r.value(depth + 1); err != nil {
				return err
			}
		}
	case 0x0b: // date
		r.skip(10)
	case 0x10: // typed object: class name, then pairs
		r.skip(r.u16())
		return r.pairs(depth)
	default: // object end out of place, long string, XML, AVM+…: go-amf0 refuses them
		r.stop = true
	}
	return nil
}

// pairs walks an object's key-value pairs up to its end marker.
func (r *amfWalk) pairs(depth int) error {
	for !r.stop {
		k := r.u16()
		if r.stop {
			return nil
		}
		if k == 0 {
			r.skip(1) // the object end marker
			return nil
		}
		r.skip(k)
		if err := r.value(depth + 1); err != nil {
			return err
		}
	}
	return nil
}
