package ogg

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
)

// Page header layout.
//
// Specification: RFC 3533, section 6.
const (
	pageHeaderSize  = 27
	flagContinued   = 0x01
	flagBOS         = 0x02
	flagEOS         = 0x04
	noGranule       = -1
	lacingSegment   = 255
	maxPageBodySize = 255 * 255
)

var capturePattern = []byte("OggS")

// page is one Ogg page; body aliases the reader's buffer.
type page struct {
	flags   byte
	granule int64
	serial  uint32
	seq     uint32
	lacing  []byte
	body    []byte
}

// pageReader reads pages from a stream.
type pageReader struct {
	br      *bufio.Reader
	buf     []byte
	skipCRC bool
	started bool
}

// next reads the next page, skipping junk before it within
// MaxResyncBytes. It returns io.EOF at the end of the input.
func (r *pageReader) next() (*page, error) {
	skipped := 0
	for {
		hdr, err := r.br.Peek(pageHeaderSize)
		if len(hdr) == 0 {
			return nil, io.EOF
		}
		if !bytes.HasPrefix(hdr, capturePattern) {
			if !r.started {
				return nil, errs.Malformed("not an Ogg stream")
			}
			skipped++
			if skipped > MaxResyncBytes {
				return nil, errs.Malformed("%d bytes without an Ogg page", skipped)
			}
			if _, err := r.br.Discard(1); err != nil {
				return nil, io.EOF
			}
			continue
		}
		if len(hdr) < pageHeaderSize {
			return nil, errs.Truncated("page header of %d bytes: %v", len(hdr), err)
		}
		if hdr[4] != 0 {
			return nil, errs.Malformed("Ogg version %d", hdr[4])
		}
		nseg := int(hdr[26])
		full, err := r.br.Peek(pageHeaderSize + nseg)
		if len(full) < pageHeaderSize+nseg {
			return nil, errs.Truncated("lacing table: %v", err)
		}
		lacing := full[pageHeaderSize:]
		bodySize := 0
		for _, l := range lacing {
			bodySize += int(l)
		}
		size := pageHeaderSize + nseg + bodySize
		if cap(r.buf) < size {
			r.buf = make([]byte, size)
		}
		r.buf = r.buf[:size]
		if _, err := io.ReadFull(r.br, r.buf); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, errs.Truncated("page of %d bytes", size)
			}
			return nil, err
		}
		buf := r.buf
		if !r.skipCRC && crc(buf) != binary.LittleEndian.Uint32(buf[22:]) {
			// A damaged page: skip it; split drops the packet it breaks.
			r.started = true
			continue
		}
		r.started = true
		return &page{
			flags:   buf[5],
			granule: int64(binary.LittleEndian.Uint64(buf[6:])),
			serial:  binary.LittleEndian.Uint32(buf[14:]),
			seq:     binary.LittleEndian.Uint32(buf[18:]),
			lacing:  buf[pageHeaderSize : pageHeaderSize+nseg],
			body:    buf[pageHeaderSize+nseg:],
		}, nil
	}
}

// crcTable is the Ogg CRC-32: polynomial 0x04c11db7, not reflected,
// initial value 0, no final XOR (RFC 3533, section 6).
var crcTable = func() (t [256]uint32) {
	for i := range t {
		r := uint32(i) << 24
		for range 8 {
			if r&0x80000000 != 0 {
				r = r<<1 ^ 0x04c11db7
			} else {
				r <<= 1
			}
		}
		t[i] = r
	}
	return t
}()

// crc computes the checksum of a page with its CRC field taken as 0.
func crc(p []byte) uint32 {
	var c uint32
	for i, b := range p {
		if i >= 22 && i < 26 {
			b = 0
		}
		c = c<<8 ^ crcTable[byte(c>>24)^b]
	}
	return c
}
