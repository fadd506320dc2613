package mp4

import (
	"encoding/binary"
	"errors"
	"io"
)

// Box header layout.
//
// Specification: ISO/IEC 14496-12, section 4.2.
const (
	boxHeaderSize      = 8
	largeBoxHeaderSize = 16
	// boxSizeToEnd is the size field of a box that extends to the end of
	// the file (only sensible for a last mdat).
	boxSizeToEnd = 0
	// boxSizeLarge announces a 64-bit largesize after the type.
	boxSizeLarge = 1
)

// topLevelTypes are the box types a file may start with; anything else is
// not ISO BMFF (a text file, an HTML error page, another container).
var topLevelTypes = map[string]bool{
	"ftyp": true, "styp": true, "moov": true, "mdat": true, "free": true, "skip": true,
	"wide": true, "pnot": true, "uuid": true, "sidx": true, "moof": true, "pdin": true,
	"emsg": true, "prft": true, "junk": true, "meta": true,
}

// boxHeader is a parsed box header.
type boxHeader struct {
	typ string
	// pos is the offset of the box in the input.
	pos int64
	// size is the whole box, header included; -1 when it extends to the
	// end of the input.
	size   int64
	hdrLen int
}

// end returns the offset after the box, or limit for a box that extends
// to the end.
func (h boxHeader) end(limit int64) int64 {
	if h.size < 0 {
		return limit
	}
	return h.pos + h.size
}

// validType reports whether a box type is four printable characters (or
// the © that QuickTime metadata uses).
func validType(b []byte) bool {
	for _, c := range b[:4] {
		if (c < 0x20 || c > 0x7e) && c != 0xa9 {
			return false
		}
	}
	return true
}

// parseBoxHeader parses the header at the start of buf, which holds at
// least boxHeaderSize bytes (largeBoxHeaderSize for a 64-bit size).
// ok is false when buf is too short for a large header.
func parseBoxHeader(buf []byte, pos int64) (boxHeader, bool, error) {
	if !validType(buf[4:8]) {
		return boxHeader{}, true, errs.Malformed("invalid box type %q at offset %d", buf[4:8], pos)
	}
	h := boxHeader{typ: string(buf[4:8]), pos: pos, hdrLen: boxHeaderSize}
	switch size := binary.BigEndian.Uint32(buf); size {
	case boxSizeToEnd:
		h.size = -1
	case boxSizeLarge:
		if len(buf) < largeBoxHeaderSize {
			return h, false, nil
		}
		large := binary.BigEndian.Uint64(buf[8:])
		if large > 1<<62 {
			return boxHeader{}, true, errs.Malformed("%s box of %d bytes", h.typ, large)
		}
		h.size, h.hdrLen = int64(large), largeBoxHeaderSize
	default:
		h.size = int64(size)
	}
	if h.size >= 0 && h.size < int64(h.hdrLen) {
		return boxHeader{}, true, errs.Malformed("%s box of %d bytes at offset %d", h.typ, h.size, pos)
	}
	return h, true, nil
}

// readBoxHeaderAt reads the header of the box at pos of a file of size
// bytes. It returns io.EOF at the end of the file.
func readBoxHeaderAt(r io.ReaderAt, pos, size int64) (boxHeader, error) {
	if pos == size {
		return boxHeader{}, io.EOF
	}
	var buf [largeBoxHeaderSize]byte
	n := int(min(int64(len(buf)), size-pos))
	if n < boxHeaderSize {
		return boxHeader{}, errs.Truncated("%d bytes after the last box", n)
	}
	if _, err := r.ReadAt(buf[:n], pos); err != nil && !(errors.Is(err, io.EOF) && n == int(size-pos)) {
		return boxHeader{}, readErr(err)
	}
	h, ok, err := parseBoxHeader(buf[:n], pos)
	if err != nil {
		return h, err
	}
	if !ok {
		return h, errs.Truncated("%s box header at offset %d", h.typ, pos)
	}
	if h.size > size-pos {
		return h, errs.Truncated("%s box of %d bytes at offset %d in a file of %d bytes", h.typ, h.size, pos, size)
	}
	return h, nil
}

// streamReader reads boxes from an io.Reader and counts its position.
type streamReader struct {
	r   io.Reader
	pos int64
}

func (s *streamReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.pos += int64(n)
	return n, err
}

// readHeader reads the next box header. It returns io.EOF at a clean end.
func (s *streamReader) readHeader() (boxHeader, error) {
	var buf [largeBoxHeaderSize]byte
	pos := s.pos
	if _, err := io.ReadFull(s, buf[:boxHeaderSize]); err != nil {
		if errors.Is(err, io.EOF) {
			return boxHeader{}, io.EOF
		}
		return boxHeader{}, readErr(err)
	}
	h, ok, err := parseBoxHeader(buf[:boxHeaderSize], pos)
	if err != nil || ok {
		return h, err
	}
	if _, err := io.ReadFull(s, buf[boxHeaderSize:]); err != nil {
		return boxHeader{}, readErr(err)
	}
	h, _, err = parseBoxHeader(buf[:], pos)
	return h, err
}

// skip discards n bytes (all the rest when n < 0).
func (s *streamReader) skip(n int64) error {
	if n < 0 {
		_, err := io.Copy(io.Discard, s)
		return err
	}
	if m, err := io.CopyN(io.Discard, s, n); err != nil || m < n {
		return readErr(err)
	}
	return nil
}

// readErr maps the end of the input inside a structure to demux.ErrTruncated.
func readErr(err error) error {
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errs.Truncated("unexpected end of file")
	}
	return err
}
