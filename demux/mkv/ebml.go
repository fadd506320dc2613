package mkv

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"math"
)

// Element IDs, with their length marker bits as they appear in the file.
//
// Specification: RFC 8794, section 11.2; RFC 9559, section 5.1.
const (
	idEBML         = 0x1a45dfa3
	idDocType      = 0x4282
	idSegment      = 0x18538067
	idSeekHead     = 0x114d9b74
	idInfo         = 0x1549a966
	idTimestampSc  = 0x2ad7b1
	idTracks       = 0x1654ae6b
	idTrackEntry   = 0xae
	idTrackNumber  = 0xd7
	idTrackType    = 0x83
	idCodecID      = 0x86
	idCodecPrivate = 0x63a2
	idDefaultDur   = 0x23e383
	idCodecDelay   = 0x56aa
	idContentEncs  = 0x6d80
	idVideo        = 0xe0
	idPixelWidth   = 0xb0
	idPixelHeight  = 0xba
	idAudio        = 0xe1
	idSamplingFreq = 0xb5
	idOutSampFreq  = 0x78b5
	idChannels     = 0x9f
	idBitDepth     = 0x6264
	idCluster      = 0x1f43b675
	idTimestamp    = 0xe7
	idSimpleBlock  = 0xa3
	idBlockGroup   = 0xa0
	idBlock        = 0xa1
	idRefBlock     = 0xfb
	idCues         = 0x1c53bb6b
	idChapters     = 0x1043a770
	idTags         = 0x1254c367
	idAttachments  = 0x1941a469
	idVoid         = 0xec
	idCRC32        = 0xbf
)

// unknownSize is the size of a master element of unknown size (all VINT
// data bits set), as live WebM writes Segment and Cluster.
const unknownSize = -1

// segmentLevel reports whether id is a child of Segment (or an EBML header
// starting a new stream): the end of an unknown-size Cluster.
func segmentLevel(id uint32) bool {
	switch id {
	case idSeekHead, idInfo, idTracks, idCluster, idCues, idChapters, idTags, idAttachments, idEBML, idSegment:
		return true
	}
	return false
}

// reader reads EBML elements from a stream.
type reader struct {
	r   *bufio.Reader
	pos int64
}

// header is an element header.
type header struct {
	id   uint32
	size int64 // unknownSize for unknown
	pos  int64 // of the header
}

// readErr turns the end of input inside an element into demux.ErrTruncated.
func readErr(err error, what string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errs.Truncated("input ends inside %s", what)
	}
	return err
}

// vint reads a variable-size integer; id keeps the length marker.
//
// Specification: RFC 8794, section 4.
func (r *reader) vint(id bool) (v uint64, n int, err error) {
	b, err := r.r.ReadByte()
	if err != nil {
		return 0, 0, err
	}
	r.pos++
	if b == 0 {
		return 0, 0, errs.Malformed("invalid EBML variable-size integer at %d", r.pos-1)
	}
	n = 1
	for mask := byte(0x80); b&mask == 0; mask >>= 1 {
		n++
	}
	if id && n > 4 {
		return 0, 0, errs.Malformed("element ID of %d bytes at %d", n, r.pos-1)
	}
	v = uint64(b)
	if !id {
		v &= uint64(0xff >> n)
	}
	allOnes := v == uint64(0xff>>n)
	for range n - 1 {
		c, err := r.r.ReadByte()
		if err != nil {
			return 0, 0, readErr(err, "an element header")
		}
		r.pos++
		v = v<<8 | uint64(c)
		allOnes = allOnes && c == 0xff
	}
	if !id && allOnes {
		return math.MaxUint64, n, nil
	}
	return v, n, nil
}

// next reads an element header. io.EOF means the input ended cleanly
// before it.
func (r *reader) next() (header, error) {
	h := header{pos: r.pos}
	id, _, err := r.vint(true)
	if err != nil {
		return h, err
	}
	size, _, err := r.vint(false)
	if err != nil {
		return h, readErr(err, "an element header")
	}
	h.id = uint32(id)
	switch {
	case size == math.MaxUint64:
		h.size = unknownSize
	case size > math.MaxInt64/2:
		return h, errs.Malformed("element 0x%x of %d bytes", id, size)
	default:
		h.size = int64(size)
	}
	return h, nil
}

// body reads the body of an element of known size at most limit bytes.
func (r *reader) body(h header, limit int64) ([]byte, error) {
	if h.size == unknownSize {
		return nil, errs.Malformed("element 0x%x of unknown size", h.id)
	}
	if h.size > limit {
		return nil, errs.OverLimit("element 0x%x of %d bytes exceeds %d", h.id, h.size, limit)
	}
	b := make([]byte, h.size)
	if _, err := io.ReadFull(r.r, b); err != nil {
		return nil, readErr(err, "an element")
	}
	r.pos += h.size
	return b, nil
}

// skip discards the body of an element of known size.
func (r *reader) skip(h header) error {
	if h.size == unknownSize {
		return errs.Malformed("element 0x%x of unknown size", h.id)
	}
	n, err := r.r.Discard(int(min(h.size, math.MaxInt32)))
	r.pos += int64(n)
	for err == nil && int64(n) < h.size {
		var m int
		m, err = r.r.Discard(int(min(h.size-int64(n), math.MaxInt32)))
		n += m
		r.pos += int64(m)
	}
	if err != nil {
		return readErr(err, "an element")
	}
	return nil
}

// element is one child of a master element read whole.
type element struct {
	id   uint32
	data []byte
}

// children splits the body of a master element into its children.
func children(b []byte) ([]element, error) {
	var out []element
	for len(b) > 0 {
		id, n, err := bufVint(b, true)
		if err != nil {
			return nil, err
		}
		b = b[n:]
		size, m, err := bufVint(b, false)
		if err != nil {
			return nil, err
		}
		b = b[m:]
		if size == math.MaxUint64 || size > uint64(len(b)) {
			return nil, errs.Malformed("child 0x%x of %d bytes, %d left in its parent", id, int64(size), len(b))
		}
		out = append(out, element{id: uint32(id), data: b[:size:size]})
		b = b[size:]
	}
	return out, nil
}

// bufVint decodes a variable-size integer at the start of b.
func bufVint(b []byte, id bool) (v uint64, n int, err error) {
	if len(b) == 0 || b[0] == 0 {
		return 0, 0, errs.Malformed("invalid EBML variable-size integer")
	}
	n = 1
	for mask := byte(0x80); b[0]&mask == 0; mask >>= 1 {
		n++
	}
	if len(b) < n || (id && n > 4) {
		return 0, 0, errs.Malformed("invalid EBML variable-size integer")
	}
	v = uint64(b[0])
	if !id {
		v &= uint64(0xff >> n)
	}
	allOnes := v == uint64(0xff>>n)
	for _, c := range b[1:n] {
		v = v<<8 | uint64(c)
		allOnes = allOnes && c == 0xff
	}
	if !id && allOnes {
		return math.MaxUint64, n, nil
	}
	return v, n, nil
}

// uintValue decodes an unsigned integer element (0 to 8 bytes).
func uintValue(b []byte) (uint64, error) {
	if len(b) > 8 {
		return 0, errs.Malformed("unsigned integer of %d bytes", len(b))
	}
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v, nil
}

// floatValue decodes a float element (0, 4 or 8 bytes).
func floatValue(b []byte) (float64, error) {
	switch len(b) {
	case 0:
		return 0, nil
	case 4:
		return float64(math.Float32frombits(binary.BigEndian.Uint32(b))), nil
	case 8:
		return math.Float64frombits(binary.BigEndian.Uint64(b)), nil
	}
	return 0, errs.Malformed("float of %d bytes", len(b))
}

// stringValue decodes a string element, which may be padded with NULs.
func stringValue(b []byte) string {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return string(b)
}
