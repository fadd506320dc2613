// Package wav turns a WAV file or stream (RIFF WAVE, and RF64 for files
// over 4 GiB) into one audio track and its frames: linear PCM of 8, 16, 24
// or 32 bits and IEEE float of 32 or 64 bits, converted to signed 16-bit
// little-endian (media.CodecPCM), and G.711 A-law and µ-law passed as
// they are (media.CodecPCMA, media.CodecPCMU). WAVE_FORMAT_EXTENSIBLE is
// read through its sub-format. Frames hold 20 ms of samples, timed by
// counting them from 0.
//
// A data chunk whose size is 0 or 0xFFFFFFFF (a WAV written to a pipe,
// or RF64) lasts until the end of the input. Chunks other than "fmt " and
// "data" before the data are skipped, up to MaxHeaderBytes in all.
//
// The package starts no goroutines and reads its input once, front to back.
//
// Specification: Microsoft "Multimedia Programming Interface and Data
// Specifications 1.0" (RIFF, WAVE fmt and data chunks); "WAVEFORMATEXTENSIBLE"
// (Windows SDK mmreg.h); EBU Tech 3306 (RF64).
package wav

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/tributary-ingress/tributary/codec/pcm"
	"github.com/tributary-ingress/tributary/demux"
	"github.com/tributary-ingress/tributary/media"
)

const (
	// TrackID is the ID of the only track.
	TrackID = 1

	// MaxHeaderBytes bounds what is read before the samples: the chunks
	// before the data chunk (metadata, "LIST", "bext", a large "JUNK").
	MaxHeaderBytes = 1 << 20

	// maxFmtSize bounds the fmt chunk, which is read whole: 16 bytes,
	// 18 with cbSize, 40 for WAVE_FORMAT_EXTENSIBLE.
	maxFmtSize = 1024

	// MaxSampleRate and MaxChannels bound the track.
	MaxSampleRate = 384000
	MaxChannels   = pcm.MaxChannels

	// frameDuration: a frame holds rate/framesPerSecond samples.
	framesPerSecond = 50
)

// Format tags of the fmt chunk (mmreg.h).
const (
	formatPCM        = 0x0001
	formatFloat      = 0x0003
	formatALaw       = 0x0006
	formatMULaw      = 0x0007
	formatExtensible = 0xfffe
)

// errs builds the errors of this package (demux.ErrMalformed,
// demux.ErrTruncated, demux.ErrUnsupportedCodec, …), which name the
// container "WAV".
const errs = demux.Container("WAV")

// Demuxer reads a WAV file or stream, calls OnTrack once, then OnFrame for
// each 20 ms of samples. Frames own their bytes. A Demuxer runs once and
// is not safe for concurrent use.
type Demuxer struct {
	// OnTrack is called once, before the first frame. Required.
	OnTrack func(*media.Track) error
	// OnFrame is called for every frame. Required.
	OnFrame func(*media.Frame) error
}

// Initialize checks the configuration. Call it before Run.
func (d *Demuxer) Initialize() error {
	if d.OnTrack == nil || d.OnFrame == nil {
		return errors.New("wav: Demuxer needs OnTrack and OnFrame")
	}
	return nil
}

// format is what the fmt chunk says.
type format struct {
	codec      media.CodecID
	pcm        pcm.Layout // for CodecPCM
	rate       int
	channels   int
	blockAlign int
}

// Run reads the whole input. It returns nil at its clean end; an error
// wrapping demux.ErrTruncated, demux.ErrUnsupportedCodec or demux.ErrMalformed; ctx.Err()
// when ctx ends; or an error of a callback as is.
func (d *Demuxer) Run(ctx context.Context, r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var hdr [12]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return errs.Truncated("RIFF header: %v", err)
	}
	if (string(hdr[:4]) != "RIFF" && string(hdr[:4]) != "RF64") || string(hdr[8:12]) != "WAVE" {
		return errs.Malformed("not a RIFF WAVE file")
	}
	var f *format
	header := 12
	for {
		var ch [8]byte
		if _, err := io.ReadFull(br, ch[:]); err != nil {
			return errs.Truncated("chunk header: %v", err)
		}
		id, size := string(ch[:4]), int64(binary.LittleEndian.Uint32(ch[4:]))
		header += 8
		switch id {
		case "fmt ":
			if size < 16 || size > maxFmtSize {
				return errs.Malformed("fmt chunk of %d bytes", size)
			}
			body := make([]byte, size+size%2)
			if _, err := io.ReadFull(br, body); err != nil {
				return errs.Truncated("fmt chunk: %v", err)
			}
			var err error
			if f, err = parseFmt(body[:size]); err != nil {
				return err
			}
			header += len(body)
		case "data":
			if f == nil {
				return errs.Malformed("data chunk before the fmt chunk")
			}
			if size == 0 || size == 0xffffffff {
				size = -1 // until the end
			}
			return d.samples(ctx, br, f, size)
		default:
			skip := size + size%2
			header += int(min(skip, MaxHeaderBytes+1))
			if header > MaxHeaderBytes {
				return errs.OverLimit("more than %d bytes before the samples", MaxHeaderBytes)
			}
			if n, err := br.Discard(int(skip)); int64(n) < skip {
				return errs.Truncated("%q chunk: %v", id, err)
			}
		}
		if header > MaxHeaderBytes {
			return errs.OverLimit("more than %d bytes before the samples", MaxHeaderBytes)
		}
	}
}

// parseFmt reads a fmt chunk.
func parseFmt(b []byte) (*format, error) {
	tag := binary.LittleEndian.Uint16(b[0:])
	f := &format{
		channels:   int(binary.LittleEndian.Uint16(b[2:])),
		rate:       int(binary.LittleEndian.Uint32(b[4:])),
		blockAlign: int(binary.LittleEndian.Uint16(b[12:])),
	}
	bits := int(binary.LittleEndian.Uint16(b[14:]))
	if tag == formatExtensible {
		if len(b) < 40 {
			return nil, errs.Malformed("WAVE_FORMAT_EXTENSIBLE fmt chunk of %d bytes", len(b))
		}
		tag = binary.LittleEndian.Uint16(b[24:]) // the sub-format GUID's first field
	}
	if f.channels <= 0 || f.channels > MaxChannels || f.rate <= 0 || f.rate > MaxSampleRate {
		return nil, errs.Malformed("%d Hz, %d channels (at most %d Hz, %d channels)", f.rate, f.channels, MaxSampleRate, MaxChannels)
	}
	switch tag {
	case formatPCM:
		f.codec, f.pcm = media.CodecPCM, pcm.Layout{Bits: bits, Unsigned: bits == 8}
	case formatFloat:
		f.codec, f.pcm = media.CodecPCM, pcm.Layout{Bits: bits, Float: true}
	case formatALaw, formatMULaw:
		if bits != 8 {
			return nil, errs.Malformed("G.711 of %d bits per sample", bits)
		}
		f.codec = media.CodecPCMA
		if tag == formatMULaw {
			f.codec = media.CodecPCMU
		}
	default:
		return nil, errs.UnsupportedCodec(media.KindAudio, fmt.Sprintf("WAV format 0x%04x", tag), "")
	}
	if f.codec == media.CodecPCM {
		if err := f.pcm.Valid(); err != nil {
			return nil, errs.UnsupportedCodec(media.KindAudio, fmt.Sprintf("WAV %v", err), "")
		}
	}
	if f.blockAlign != f.channels*bits/8 {
		return nil, errs.Malformed("block align %d for %d channels of %d bits", f.blockAlign, f.channels, bits)
	}
	return f, nil
}

// samples reads the data chunk (size -1: until the end) in frames of
// 20 ms.
func (d *Demuxer) samples(ctx context.Context, r io.Reader, f *format, size int64) error {
	t := &media.Track{ID: TrackID, Kind: media.KindAudio, Codec: f.codec, ClockRate: f.rate,
		SampleRate: f.rate, Channels: f.channels}
	if err := d.OnTrack(t); err != nil {
		return err
	}
	perFrame := max(1, f.rate/framesPerSecond)
	buf := make([]byte, perFrame*f.blockAlign)
	var pts int64
	for size != 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		want := int64(len(buf))
		if size > 0 {
			want = min(want, size)
		}
		n, err := io.ReadFull(r, buf[:want])
		n -= n % f.blockAlign // a partial sample at the end is dropped
		if n > 0 {
			var data []byte
			if f.codec == media.CodecPCM {
				data = pcm.Convert(make([]byte, 0, 2*(n/f.pcm.BytesPerSample())), buf[:n], f.pcm)
			} else {
				data = append([]byte(nil), buf[:n]...)
			}
			fr := &media.Frame{Track: t, PTS: pts, DTS: pts, Key: true, Data: [][]byte{data}}
			if err := d.OnFrame(fr); err != nil {
				return err
			}
			pts += int64(n / f.blockAlign)
		}
		if size > 0 {
			size -= want
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil // a file cut short plays what it has, as players do
		}
		if err != nil {
			return err
		}
	}
	return nil
}
