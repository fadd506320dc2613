package ogg

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"

	"github.com/tributary-ingress/tributary/codec/opus"
	"github.com/tributary-ingress/tributary/media"
)

// Demuxer reads an Ogg file or stream, calls OnTrack once when the headers
// of its Opus or Vorbis stream are read, then OnFrame for each audio
// packet. Frames own their bytes. A Demuxer runs once and is not safe for
// concurrent use.
type Demuxer struct {
	// OnTrack is called once, before the first frame. Required.
	OnTrack func(*media.Track) error
	// OnFrame is called for every audio packet. Required.
	OnFrame func(*media.Frame) error

	// skipCRC lets the fuzz test reach past the page checksum.
	skipCRC bool

	streams map[uint32]*stream
	// audio is the stream that makes the track, nil until identified.
	audio *stream
	pages int
	// origin is the PTS of the first packet, subtracted from all.
	origin  int64
	started bool
	lastPTS int64
	packets []packet
}

// packet is a packet completed on the current page.
type packet struct {
	data []byte
	dur  int64
}

// stream is a logical stream.
type stream struct {
	codec   media.CodecID
	ignored bool
	ended   bool
	headers [][]byte
	// partial is a packet continued on the next page.
	partial []byte
	track   *media.Track
	preSkip int64
	// hop is the usual Vorbis packet duration (long block / 2), used only
	// to place the first page of a stream that does not start at 0.
	hop int64
	// next is the end of the last packet, in the stream's clock, before
	// pre-skip and rebasing; set once the first audio page is read.
	next    int64
	hasNext bool
}

// Initialize checks the configuration. Call it before Run.
func (d *Demuxer) Initialize() error {
	if d.OnTrack == nil || d.OnFrame == nil {
		return errors.New("ogg: Demuxer needs OnTrack and OnFrame")
	}
	return nil
}

// Run reads the whole input. It returns nil at its clean end; an error
// wrapping demux.ErrTruncated, demux.ErrUnsupportedCodec or demux.ErrMalformed; ctx.Err()
// when ctx ends; or an error of a callback as is.
func (d *Demuxer) Run(ctx context.Context, r io.Reader) error {
	pr := &pageReader{br: bufio.NewReaderSize(r, 64*1024), skipCRC: d.skipCRC}
	d.streams = map[uint32]*stream{}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		p, err := pr.next()
		if errors.Is(err, io.EOF) {
			return d.end()
		}
		if err != nil {
			return err
		}
		if err := d.page(p); err != nil {
			return err
		}
	}
}

// end checks the state at the end of the input.
func (d *Demuxer) end() error {
	switch {
	case d.audio == nil:
		return errs.Malformed("no Opus or Vorbis stream")
	case d.audio.track == nil:
		return errs.Truncated("the %s headers are incomplete", d.audio.codec)
	case d.audio.partial != nil && !d.audio.ended:
		return errs.Truncated("the last packet is incomplete")
	}
	return nil
}

// page handles one page.
func (d *Demuxer) page(p *page) error {
	s := d.streams[p.serial]
	if s == nil {
		if p.flags&flagBOS == 0 {
			return nil // a page of a stream whose start we did not see
		}
		if len(d.streams) == MaxStreams {
			return errs.OverLimit("more than %d logical streams", MaxStreams)
		}
		s = &stream{}
		// Streams that begin after ours (a chained file) are ignored.
		s.ignored = d.audio != nil && d.audio.track != nil
		d.streams[p.serial] = s
	}
	if s.ignored {
		return nil
	}
	if d.pages++; d.audio == nil || d.audio.track == nil {
		if d.pages > maxHeaderPages {
			return errs.Malformed("no complete Opus or Vorbis headers in %d pages", maxHeaderPages)
		}
	}
	d.packets = d.packets[:0]
	if err := s.split(p, func(pkt []byte) error { return d.packet(s, pkt) }); err != nil {
		return err
	}
	if p.flags&flagEOS != 0 {
		s.ended = true
	}
	if len(d.packets) == 0 || s != d.audio || s.track == nil {
		return nil
	}
	return d.timestamps(s, p.granule)
}

// split rebuilds the packets of a page from its lacing values and calls fn
// for each one completed on it.
//
// Specification: RFC 3533, section 5.
func (s *stream) split(p *page, fn func([]byte) error) error {
	cur := s.partial
	s.partial = nil
	skip := p.flags&flagContinued != 0 && cur == nil // the start was lost
	if p.flags&flagContinued == 0 {
		cur = nil // a packet left unfinished by a lost page
	}
	off := 0
	for _, l := range p.lacing {
		seg := p.body[off : off+int(l)]
		off += int(l)
		if !skip {
			if len(cur)+len(seg) > MaxPacketSize {
				return errs.OverLimit("packet larger than %d bytes", MaxPacketSize)
			}
			cur = append(cur, seg...)
		}
		if l == lacingSegment {
			continue
		}
		if !skip && len(cur) > 0 {
			if err := fn(cur); err != nil {
				return err
			}
		}
		cur, skip = nil, false
	}
	if !skip && cur != nil {
		s.partial = cur
	}
	return nil
}

// packet handles a complete packet of stream s.
func (d *Demuxer) packet(s *stream, pkt []byte) error {
	if s.track != nil {
		if s == d.audio {
			d.packets = append(d.packets, packet{data: pkt})
		}
		return nil
	}
	if len(s.headers) == 0 {
		if err := s.identify(pkt); err != nil {
			return err
		}
		if s.ignored {
			return nil
		}
		if d.audio != nil {
			s.ignored = true // a second audio stream
			return nil
		}
		d.audio = s
	}
	s.headers = append(s.headers, pkt)
	t, err := s.setup()
	if err != nil || t == nil {
		return err
	}
	s.track = t
	return d.OnTrack(t)
}

// Identification header magics.
var (
	magicOpusHead     = []byte("OpusHead")
	magicOpusTags     = []byte("OpusTags")
	magicVorbisID     = []byte("\x01vorbis")
	magicVorbisCmt    = []byte("\x03vorbis")
	magicVorbisSetup  = []byte("\x05vorbis")
	magicFLAC         = []byte("\x7fFLAC")
	magicFLACNative   = []byte("fLaC")
	magicSpeex        = []byte("Speex   ")
	magicTheora       = []byte("\x80theora")
	magicDaala        = []byte("\x80daala")
	magicOggPCM       = []byte("PCM     ")
	vorbisIDSize      = 30
	vorbisMaxChannels = 255
)

// identify sets the codec of a stream from its first packet.
func (s *stream) identify(pkt []byte) error {
	switch {
	case bytes.HasPrefix(pkt, magicOpusHead):
		s.codec = media.CodecOpus
	case bytes.HasPrefix(pkt, magicVorbisID):
		s.codec = media.CodecVorbis
	case bytes.HasPrefix(pkt, magicFLAC), bytes.HasPrefix(pkt, magicFLACNative):
		return errs.UnsupportedCodec(media.KindAudio, "FLAC", "")
	case bytes.HasPrefix(pkt, magicSpeex):
		return errs.UnsupportedCodec(media.KindAudio, "Speex", "")
	case bytes.HasPrefix(pkt, magicOggPCM):
		return errs.UnsupportedCodec(media.KindAudio, "PCM", "")
	case bytes.HasPrefix(pkt, magicTheora):
		return errs.UnsupportedCodec(media.KindVideo, "Theora", "")
	case bytes.HasPrefix(pkt, magicDaala):
		return errs.UnsupportedCodec(media.KindVideo, "Daala", "")
	default:
		s.ignored = true // Skeleton, Kate subtitles, unknown
	}
	return nil
}

// setup returns the track once the stream's headers are all there.
func (s *stream) setup() (*media.Track, error) {
	switch s.codec {
	case media.CodecOpus:
		if len(s.headers) < 2 {
			return nil, nil
		}
		h, err := opus.ParseHead(s.headers[0])
		if err != nil {
			return nil, errs.Malformed("%v", err)
		}
		if !bytes.HasPrefix(s.headers[1], magicOpusTags) {
			return nil, errs.Malformed("Opus stream without OpusTags")
		}
		s.preSkip = int64(h.PreSkip)
		return &media.Track{
			ID: TrackID, Kind: media.KindAudio, Codec: media.CodecOpus, ClockRate: opus.ClockRate,
			Config: s.headers[0], SampleRate: opus.ClockRate, Channels: h.Channels,
		}, nil
	case media.CodecVorbis:
		if len(s.headers) < 3 {
			return nil, nil
		}
		id := s.headers[0]
		if len(id) < vorbisIDSize || binary.LittleEndian.Uint32(id[7:]) != 0 {
			return nil, errs.Malformed("Vorbis identification header")
		}
		channels, rate := int(id[11]), int(binary.LittleEndian.Uint32(id[12:]))
		if channels == 0 || rate == 0 || rate > 768000 {
			return nil, errs.Malformed("Vorbis stream of %d Hz, %d channels", rate, channels)
		}
		if !bytes.HasPrefix(s.headers[1], magicVorbisCmt) || !bytes.HasPrefix(s.headers[2], magicVorbisSetup) {
			return nil, errs.Malformed("Vorbis comment or setup header missing")
		}
		s.hop = int64(1) << (id[28] >> 4) / 2
		return &media.Track{
			ID: TrackID, Kind: media.KindAudio, Codec: media.CodecVorbis, ClockRate: rate,
			Config: xiphLace(s.headers), SampleRate: rate, Channels: channels,
		}, nil
	}
	return nil, errs.Malformed("stream of codec %s", s.codec)
}

// xiphLace packs the three Vorbis headers as libavcodec's extradata: the
// number of headers minus one, the sizes of all but the last as runs of
// 255 plus a remainder, then the headers.
func xiphLace(h [][]byte) []byte {
	n := 1 + len(h[0]) + len(h[1]) + len(h[2])
	out := make([]byte, 0, n+len(h[0])/255+len(h[1])/255+2)
	out = append(out, byte(len(h)-1))
	for _, x := range h[:len(h)-1] {
		l := len(x)
		for ; l >= 255; l -= 255 {
			out = append(out, 255)
		}
		out = append(out, byte(l))
	}
	for _, x := range h {
		out = append(out, x...)
	}
	return out
}

// timestamps places the audio packets completed on a page and emits them.
func (d *Demuxer) timestamps(s *stream, granule int64) error {
	n := int64(len(d.packets))
	if granule != noGranule && (granule < 0 || granule > 1<<50) {
		return errs.Malformed("granule position %d", granule)
	}
	switch s.codec {
	case media.CodecOpus:
		var sum int64
		for i := range d.packets {
			dur, err := opus.PacketDuration(d.packets[i].data)
			if err != nil {
				return errs.Malformed("%v", err)
			}
			d.packets[i].dur = int64(dur)
			sum += int64(dur)
		}
		start := s.next
		if granule != noGranule {
			// Granule positions count samples at the end of the last
			// packet completed on the page, pre-skip included.
			if back := granule - s.preSkip - sum; !s.hasNext || back > s.next {
				start = back
			}
		}
		s.next, s.hasNext = start, true
		for i := range d.packets {
			if err := d.emit(s, s.next, d.packets[i].data); err != nil {
				return err
			}
			s.next += d.packets[i].dur
		}
	case media.CodecVorbis:
		end := granule
		if !s.hasNext {
			s.next, s.hasNext = max(0, granule-n*s.hop), true
		}
		if end == noGranule || end < s.next {
			end = s.next + n*s.hop
		}
		for i, pk := range d.packets {
			if err := d.emit(s, s.next+(end-s.next)*int64(i)/n, pk.data); err != nil {
				return err
			}
		}
		s.next = end
	}
	return nil
}

// emit hands a packet over with its PTS rebased on the first packet.
func (d *Demuxer) emit(s *stream, pts int64, data []byte) error {
	if !d.started {
		d.started, d.origin = true, pts
	}
	pts -= d.origin
	if pts < d.lastPTS {
		pts = d.lastPTS
	}
	d.lastPTS = pts
	f := &audioFrame{}
	f.parts[0] = data
	f.frame = media.Frame{Track: s.track, PTS: pts, DTS: pts, Key: true, Data: f.parts[:1:1]}
	return d.OnFrame(&f.frame)
}

// audioFrame puts a frame and its Data backing array in one allocation.
type audioFrame struct {
	frame media.Frame
	parts [1][]byte
}
