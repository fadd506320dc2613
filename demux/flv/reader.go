package flv

import (
	"bufio"
	"errors"
	"io"
)

// FLV file header and tag header.
//
// Specification: FLV v10.1, E.2 The FLV header, E.4.1 FLV Tag.
const (
	fileHeaderSize = 9
	tagHeaderSize  = 11
	// maxHeaderPadding bounds the bytes between the 9-byte header and the
	// first tag that DataOffset may declare (always 0 in practice).
	maxHeaderPadding = 1024

	tagTypeAudio  = 8
	tagTypeVideo  = 9
	tagTypeScript = 18
	tagFilterBit  = 0x20
)

// ErrNotFLV is matched (with demux.ErrMalformed) by the error of
// Reader.Initialize when the input does not start with an FLV header.
var ErrNotFLV = errors.New("not an FLV stream")

// Header is the FLV file header.
type Header struct {
	Version uint8
	// HasAudio and HasVideo are the header's flags; publishers set them
	// carelessly, so they are informational.
	HasAudio, HasVideo bool
}

// Reader reads an FLV file or stream (header, then tags) and feeds each
// tag to a Demuxer.
type Reader struct {
	// R is the FLV byte stream. Required. It is read through a buffer.
	R io.Reader
	// Demuxer receives the tags. Required; Initialize initializes it.
	Demuxer *Demuxer

	// Header is set by Initialize.
	Header Header

	br  *bufio.Reader
	buf []byte
}

// Initialize initializes the Demuxer and reads the file header.
func (r *Reader) Initialize() error {
	if r.R == nil || r.Demuxer == nil {
		return errors.New("flv: Reader needs R and Demuxer")
	}
	if err := r.Demuxer.Initialize(); err != nil {
		return err
	}
	r.br = bufio.NewReaderSize(r.R, 64*1024)
	var h [fileHeaderSize + 4]byte
	if _, err := io.ReadFull(r.br, h[:fileHeaderSize]); err != nil {
		return errs.Malformed("%w: %w", ErrNotFLV, err)
	}
	if h[0] != 'F' || h[1] != 'L' || h[2] != 'V' {
		return errs.Malformed("%w", ErrNotFLV)
	}
	r.Header = Header{Version: h[3], HasAudio: h[4]&0x04 != 0, HasVideo: h[4]&0x01 != 0}
	offset := be32(h[5:])
	if offset < fileHeaderSize || offset > fileHeaderSize+maxHeaderPadding {
		return errs.Malformed("%w: data offset %d", ErrNotFLV, offset)
	}
	if _, err := r.br.Discard(int(offset) - fileHeaderSize + 4); err != nil { // + PreviousTagSize0
		return errs.Malformed("%w: %w", ErrNotFLV, err)
	}
	return nil
}

// ReadTag reads one tag and hands it to the Demuxer. It returns io.EOF
// after the last complete tag, and an error matching demux.ErrTruncated
// and io.ErrUnexpectedEOF on a truncated one.
func (r *Reader) ReadTag() error {
	var h [tagHeaderSize]byte
	if _, err := io.ReadFull(r.br, h[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return errs.Truncated("tag header: %w", err)
		}
		return err
	}
	typ := h[0] & 0x1f
	size := int(h[1])<<16 | int(h[2])<<8 | int(h[3])
	ts := uint32(h[7])<<24 | uint32(h[4])<<16 | uint32(h[5])<<8 | uint32(h[6])
	if size > MaxTagSize {
		return errs.OverLimit("tag of %d bytes exceeds %d", size, MaxTagSize)
	}
	if cap(r.buf) < size {
		r.buf = make([]byte, size)
	}
	body := r.buf[:size]
	if _, err := io.ReadFull(r.br, body); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return errs.Truncated("tag of %d bytes: %w", size, io.ErrUnexpectedEOF)
		}
		return err
	}
	if _, err := r.br.Discard(4); err != nil { // PreviousTagSize
		// A file may end without the last PreviousTagSize: demux the tag.
		if !errors.Is(err, io.EOF) {
			return err
		}
	}
	if h[0]&tagFilterBit != 0 {
		return errs.Malformed("encrypted (filtered) tags are not supported")
	}
	switch typ {
	case tagTypeVideo:
		return r.Demuxer.WriteVideo(ts, body)
	case tagTypeAudio:
		return r.Demuxer.WriteAudio(ts, body)
	case tagTypeScript:
		return r.Demuxer.WriteScriptData(body)
	}
	return nil // unknown tag types are skipped, as the spec asks
}

// ReadAll reads tags until the end of the stream. It returns nil at a
// clean end.
func (r *Reader) ReadAll() error {
	for {
		if err := r.ReadTag(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}
