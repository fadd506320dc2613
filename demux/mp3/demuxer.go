package mp3

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"

	"github.com/tributary-ingress/tributary/media"
)

// ID3 and APE tag layouts.
//
// Specification: ID3v2.4.0 structure, section 3.1 (header, syncsafe size,
// footer flag); ID3v1 is 128 bytes starting with "TAG"; APEv2 tags start
// (and end) with a 32-byte "APETAGEX" header.
const (
	id3HeaderSize    = 10
	id3FooterFlag    = 0x10
	id3v1Size        = 128
	apeHeaderSize    = 32
	readBufferSize   = 64 * 1024
	maxTrailingBytes = id3v1Size + MaxResyncBytes
)

// Demuxer reads an MP3 file or stream, calls OnTrack once, then OnFrame
// for each MP3 frame. Frames own their bytes. A Demuxer runs once and is
// not safe for concurrent use.
type Demuxer struct {
	// OnTrack is called once, before the first frame. Required.
	OnTrack func(*media.Track) error
	// OnFrame is called for every audio frame. Required.
	OnFrame func(*media.Frame) error

	br    *bufio.Reader
	track *media.Track
	first frameHeader
	pts   int64
	// skipped counts the junk bytes skipped since the last frame.
	skipped int
}

// Initialize checks the configuration. Call it before Run.
func (d *Demuxer) Initialize() error {
	if d.OnTrack == nil || d.OnFrame == nil {
		return errors.New("mp3: Demuxer needs OnTrack and OnFrame")
	}
	return nil
}

// Run reads the whole input. It returns nil at its clean end; an error
// wrapping demux.ErrTruncated or demux.ErrMalformed; ctx.Err()
// when ctx ends; or an error of a callback as is.
func (d *Demuxer) Run(ctx context.Context, r io.Reader) error {
	d.br = bufio.NewReaderSize(r, readBufferSize)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := d.next()
		if errors.Is(err, io.EOF) {
			if d.track == nil {
				return errs.Malformed("no MPEG audio frame")
			}
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// next handles what is at the read position: a tag, a frame, or junk.
// It returns io.EOF at the end of the input.
func (d *Demuxer) next() error {
	buf, err := d.br.Peek(parseHeaderSize)
	if len(buf) == 0 {
		return io.EOF
	}
	if len(buf) < parseHeaderSize {
		return d.junk(len(buf), err)
	}
	switch {
	case bytes.HasPrefix(buf, []byte("ID3")):
		return d.skipID3()
	case buf[0] == 0xff && buf[1]&0xe0 == 0xe0:
		if h, ok := parseHeader(buf); ok {
			if d.track == nil || h.fixedID == d.first.fixedID {
				return d.frame(h)
			}
		}
	case d.track != nil && bytes.HasPrefix(buf, []byte("TAG")):
		// ID3v1 at the end of the file: skip 128 bytes.
		if n, _ := d.br.Discard(id3v1Size); n < id3v1Size {
			return io.EOF
		}
		return nil
	case d.track != nil && bytes.HasPrefix(buf, []byte("APETA")):
		return d.skipAPE()
	}
	return d.junk(1, nil)
}

// junk skips n bytes that are not MP3, within MaxResyncBytes.
func (d *Demuxer) junk(n int, err error) error {
	d.skipped += n
	if d.skipped > MaxResyncBytes {
		if d.track == nil {
			return errs.Malformed("no MPEG audio frame in the first %d bytes", MaxResyncBytes)
		}
		return errs.Malformed("%d bytes without an MPEG audio frame", d.skipped)
	}
	if _, derr := d.br.Discard(n); derr != nil {
		return io.EOF
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// skipID3 skips an ID3v2 tag.
func (d *Demuxer) skipID3() error {
	h, err := d.br.Peek(id3HeaderSize)
	if err != nil {
		return errs.Truncated("ID3v2 tag header")
	}
	var size int
	for _, b := range h[6:10] {
		if b&0x80 != 0 {
			return d.junk(1, nil) // not a tag: sizes are syncsafe
		}
		size = size<<7 | int(b)
	}
	size += id3HeaderSize
	if h[5]&id3FooterFlag != 0 {
		size += id3HeaderSize
	}
	if size > MaxID3Size {
		return errs.Malformed("ID3v2 tag of %d bytes", size)
	}
	if n, _ := d.br.Discard(size); n < size {
		return errs.Truncated("ID3v2 tag of %d bytes, %d in the file", size, n)
	}
	return nil
}

// skipAPE skips an APEv2 tag (header, items and footer); its size field
// counts the items and the footer.
func (d *Demuxer) skipAPE() error {
	h, err := d.br.Peek(apeHeaderSize)
	if err != nil || !bytes.HasPrefix(h, []byte("APETAGEX")) {
		return d.junk(1, nil)
	}
	size := int(uint32(h[12]) | uint32(h[13])<<8 | uint32(h[14])<<16 | uint32(h[15])<<24)
	if size > MaxID3Size {
		return errs.Malformed("APE tag of %d bytes", size)
	}
	total := apeHeaderSize + size
	if h[23]&0x80 == 0 { // a footer without header: skip just the footer
		total = apeHeaderSize
	}
	if n, _ := d.br.Discard(total); n < total {
		return io.EOF
	}
	return nil
}

// frame reads the frame of header h and emits it.
func (d *Demuxer) frame(h frameHeader) error {
	if d.track == nil && !d.confirmed(h) {
		return d.junk(1, nil)
	}
	if d.track != nil && h.Layer != d.first.Layer {
		return d.junk(1, nil) // a frame of another stream
	}
	buf, err := d.br.Peek(h.length)
	if len(buf) < h.length {
		if d.track != nil && d.skipped == 0 {
			return errs.Truncated("frame of %d bytes, %d in the file", h.length, len(buf))
		}
		return d.junk(len(buf), err)
	}
	data := make([]byte, h.length)
	copy(data, buf)
	if _, err := d.br.Discard(h.length); err != nil {
		return err
	}
	d.skipped = 0
	if d.track == nil {
		d.first = h
		codec := media.CodecMP3
		if h.Layer == 2 {
			codec = media.CodecMP2
		}
		d.track = &media.Track{
			ID: TrackID, Kind: media.KindAudio, Codec: codec,
			ClockRate: h.SampleRate, SampleRate: h.SampleRate, Channels: h.Channels,
		}
		if err := d.OnTrack(d.track); err != nil {
			return err
		}
		if h.Layer == 3 && isInfoFrame(h, data) {
			return nil
		}
	}
	f := &audioFrame{}
	f.parts[0] = data
	f.frame = media.Frame{Track: d.track, PTS: d.pts, DTS: d.pts, Key: true, Data: f.parts[:1:1]}
	d.pts += int64(h.SamplesPerFrame)
	return d.OnFrame(&f.frame)
}

// audioFrame puts a frame and its Data backing array in one allocation.
type audioFrame struct {
	frame media.Frame
	parts [1][]byte
}

// confirmed reports whether the first frame header candidate is followed
// by another frame of the same stream (or by the end of the input, or by
// a tag), so that a stray 0xFFE in junk or a tag is not taken for MP3.
func (d *Demuxer) confirmed(h frameHeader) bool {
	buf, _ := d.br.Peek(h.length + parseHeaderSize)
	if len(buf) < h.length+parseHeaderSize {
		return len(buf) >= h.length
	}
	next := buf[h.length:]
	if bytes.HasPrefix(next, []byte("TAG")) || bytes.HasPrefix(next, []byte("ID3")) || bytes.HasPrefix(next, []byte("APETA")) {
		return true
	}
	n, ok := parseHeader(next)
	return ok && n.fixedID == h.fixedID
}
