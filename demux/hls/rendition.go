package hls

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/grafov/m3u8"

	"github.com/tributary-ingress/tributary/demux/mp4"
	"github.com/tributary-ingress/tributary/demux/ts"
	"github.com/tributary-ingress/tributary/media"
)

// RenditionTrackIDOffset is added to the track IDs of an alternative
// audio rendition (TS PIDs, MP4 track IDs) so that they cannot collide
// with the variant's: both commonly number their only track 256 or 1.
const RenditionTrackIDOffset = 1 << 32

// chooseAudioRendition returns the audio rendition of v's AUDIO group to
// play with it: the DEFAULT=YES one, else the first AUTOSELECT=YES one,
// else the first (RFC 8216, section 4.3.4.1: a client without a language
// preference plays the default). It returns nil when the chosen one has
// no URI: its audio is then in the variant's own segments.
func chooseAudioRendition(m *m3u8.MasterPlaylist, v *m3u8.Variant) *m3u8.Alternative {
	if v.Audio == "" {
		return nil
	}
	var group []*m3u8.Alternative
	seen := map[*m3u8.Alternative]bool{}
	add := func(alts []*m3u8.Alternative) {
		for _, a := range alts {
			if a != nil && !seen[a] && strings.EqualFold(a.Type, "AUDIO") && a.GroupId == v.Audio {
				seen[a] = true
				group = append(group, a)
			}
		}
	}
	add(v.Alternatives)
	for _, other := range m.Variants {
		if other != nil {
			add(other.Alternatives)
		}
	}
	if len(group) == 0 {
		return nil
	}
	chosen := group[0]
	if i := indexFunc(group, func(a *m3u8.Alternative) bool { return a.Default }); i >= 0 {
		chosen = group[i]
	} else if i := indexFunc(group, func(a *m3u8.Alternative) bool { return strings.EqualFold(a.Autoselect, "YES") }); i >= 0 {
		chosen = group[i]
	}
	if strings.TrimSpace(chosen.URI) == "" {
		return nil
	}
	return chosen
}

func indexFunc[T any](s []T, f func(T) bool) int {
	for i, v := range s {
		if f(v) {
			return i
		}
	}
	return -1
}

// maxEmptySegments bounds the segments in a row of one stream that have
// no frame to play (a variant with no video, its own audio giving way to
// the rendition's; a rendition with no audio): the other stream waits
// for them, so they end the presentation with an error rather than
// stall it.
const maxEmptySegments = 10

// item is a demuxed frame or splice command waiting in a source's buffer.
type item struct {
	f      *media.Frame
	splice *ts.SpliceInsert
	// local is the track ID the segment's demuxer gave the frame.
	local int
	// rawNs is the time of the frame on the presentation's timeline (TS
	// PTS/DTS, fMP4 tfdt) in nanoseconds, which the variant and its
	// renditions share; for a splice command, that of the next frame.
	rawNs int64
	// outNs is the decode time emitted, in nanoseconds.
	outNs int64
	// spliceNs is the raw time of a splice command's PTS, when it has one.
	spliceNs int64
}

// source is one of the two segment streams played together: the
// variant's media playlist or the audio rendition's. Each has its own
// segment iterator and refreshes, demuxes its segments with a demuxer of
// its own per segment, and keeps the frames of one segment buffered.
type source struct {
	d         *Demuxer
	it        *segmentIter
	rendition bool
	done      bool

	buf  []item
	head int

	// tracks maps the demuxer's track IDs to the tracks taken, announced
	// (OnTrack) with their first frame.
	tracks    map[int]*media.Track
	announced map[*media.Track]bool

	// fMP4: the initialization section of the current segments and how
	// its tracks' times are placed.
	mapURI     string
	init       []byte
	initTracks map[uint32]trackTime

	// Timeline: a frame is emitted at rawNs - baseNs. anchored is set once
	// baseNs is known; firstRaw is the earliest rawNs of the buffered
	// segment before that.
	anchored bool
	baseNs   int64
	firstRaw int64
	// ref90 is the raw 90 kHz time of the last TS segment, the reference
	// to unwrap the 33-bit timestamps of the next one.
	ref90     int64
	haveRef90 bool
	// endNs is the end (DTS plus duration) of the frames decoded;
	// lastDTSNs and deltaNs are per track.
	endNs     int64
	lastDTSNs map[int]int64
	deltaNs   map[int]int64
}

func newSource(d *Demuxer, it *segmentIter, rendition bool) *source {
	return &source{d: d, it: it, rendition: rendition, tracks: map[int]*media.Track{}, announced: map[*media.Track]bool{},
		lastDTSNs: map[int]int64{}, deltaNs: map[int]int64{}}
}

// idOffset is what the stream adds to its demuxers' track IDs.
func (s *source) idOffset() int {
	if s.rendition {
		return RenditionTrackIDOffset
	}
	return 0
}

// runWithRendition plays the variant's segments (its video) with those of
// an audio rendition (its audio), merging the two by time: it emits the
// buffered frame with the earliest decode time of the two buffers, and
// refills a buffer with the next segment of its stream when it runs dry.
// Frames so reach the caller in time order across both streams, at most
// one segment of one stream ahead in fetching, however long the segments.
//
// The two streams share one timeline (RFC 8216, section 3: renditions
// of a presentation are synchronised by their timestamps): the segment
// demuxers rebase their timestamps, so the raw time of each segment's
// first frame is read from the segment itself (PES headers, tfdt) and
// both streams start from the earliest of their first frames. At a
// discontinuity (or when a stream's timestamps would go back), each
// stream continues after its own last frame, as a variant alone does.
func (d *Demuxer) runWithRendition(ctx context.Context, video, audio *segmentIter) error {
	srcs := [2]*source{newSource(d, video, false), newSource(d, audio, true)}
	for _, s := range srcs {
		if err := s.fill(ctx); err != nil {
			return err
		}
	}
	first, have := int64(0), false
	for _, s := range srcs {
		if !s.done && (!have || s.firstRaw < first) {
			first, have = s.firstRaw, true
		}
	}
	for _, s := range srcs {
		if !s.done {
			s.anchor(first)
		}
	}
	for {
		var next *source
		for _, s := range srcs {
			if s.head < len(s.buf) && (next == nil || s.buf[s.head].outNs < next.buf[next.head].outNs) {
				next = s
			}
		}
		if next == nil {
			return nil
		}
		if err := next.emit(); err != nil {
			return err
		}
		if next.head == len(next.buf) && !next.done {
			if err := next.fill(ctx); err != nil {
				return err
			}
		}
	}
}

// emit passes on the first buffered item.
func (s *source) emit() error {
	it := s.buf[s.head]
	s.buf[s.head] = item{}
	s.head++
	if it.splice != nil {
		if s.d.OnSCTE35 == nil {
			return nil
		}
		return s.d.OnSCTE35(*it.splice)
	}
	if t := it.f.Track; !s.announced[t] {
		s.announced[t] = true
		if err := s.d.OnTrack(t); err != nil {
			return err
		}
	}
	s.d.emitted = true
	return s.d.OnFrame(it.f)
}

// fill demuxes the next segments of the stream into its buffer until one
// yields frames, or the stream ends (done).
func (s *source) fill(ctx context.Context) error {
	s.buf, s.head = s.buf[:0], 0
	// With the buffer empty, only the current tracks can have frames
	// again: forget the others, so that a stream changing its
	// configuration at every segment does not grow the set.
	for t := range s.announced {
		if s.tracks[t.ID-s.idOffset()] != t {
			delete(s.announced, t)
		}
	}
	for empty := 0; len(s.buf) == 0; empty++ {
		if empty == maxEmptySegments {
			what := "video"
			if s.rendition {
				what = "audio"
			}
			return unsupported("%d segments in a row of %s without %s", empty, s.it.url, what)
		}
		seg, err := s.it.nextSegment(ctx)
		if errors.Is(err, io.EOF) {
			s.done = true
			return nil
		}
		if err != nil {
			return err
		}
		if err := s.demux(ctx, seg); err != nil {
			return err
		}
	}
	return nil
}

// demux fetches and demuxes one segment into the buffer, with raw times.
func (s *source) demux(ctx context.Context, seg segment) error {
	u, err := s.it.resolve(seg.uri)
	if err != nil {
		return err
	}
	var init []byte
	if seg.mapURI != "" {
		if init, err = s.initSection(ctx, seg.mapURI); err != nil {
			return err
		}
	}
	body, err := s.d.fetchAll(ctx, "segment", u, MaxSegmentSize)
	if err != nil {
		return err
	}
	s.d.stats.Segments++
	onTrack := func(t *media.Track) error { return s.track(t) }
	onFrame := func(f *media.Frame) error {
		if (f.Track.Kind == media.KindAudio) != s.rendition {
			// The variant's own audio gives way to the rendition's; a
			// rendition's video is not what it was chosen for.
			return nil
		}
		local := f.Track.ID
		f.Track = s.tracks[local]
		s.buf = append(s.buf, item{f: f, local: local})
		return nil
	}
	var raw90 []int64 // TS
	if seg.mapURI == "" {
		if len(body) > 0 && body[0] != 0x47 {
			return unsupported("segment %s is neither MPEG-TS nor announced fMP4 (EXT-X-MAP)", u)
		}
		// A demuxer per segment: its timeline is rebased to the segment
		// and moved back onto the raw one below.
		// The variant's own audio is dropped, so a codec of it the demuxer
		// does not know is skipped rather than refused.
		td := &ts.Demuxer{OnTrack: onTrack, OnFrame: onFrame, SkipUnsupported: !s.rendition}
		if !s.rendition {
			td.OnSCTE35 = func(sp ts.SpliceInsert) error {
				s.buf = append(s.buf, item{splice: &sp, local: -1})
				return nil
			}
		}
		if err := td.Initialize(); err != nil {
			return err
		}
		if err := td.Run(ctx, bytes.NewReader(body)); err != nil {
			return fmt.Errorf("segment %s: %w", u, err)
		}
		raw90 = pesTimes(body, s.localIDs())
	} else {
		md := &mp4.Demuxer{OnTrack: onTrack, OnFrame: onFrame}
		if err := md.Initialize(); err != nil {
			return err
		}
		if err := md.RunFragmented(ctx, io.MultiReader(bytes.NewReader(init), bytes.NewReader(body))); err != nil {
			return fmt.Errorf("fMP4 segment %s: %w", u, err)
		}
	}
	if len(s.localIDs()) == 0 {
		// No frame to place the segment on the timeline: the splice
		// commands of a segment without frames are dropped with it.
		s.buf = s.buf[:0]
		return nil
	}
	// The segment's demuxer put its earliest frame at outMin; that frame
	// is at rawMin on the presentation's timeline.
	outMin := s.minOut()
	var rawMin int64
	if seg.mapURI == "" {
		if len(raw90) == 0 {
			return errs.Malformed("segment %s: frames without a PES time stamp", u)
		}
		v := raw90[0]
		for _, t := range raw90[1:] {
			v = min(v, unwrap90(raw90[0], t))
		}
		if s.haveRef90 {
			v = unwrap90(s.ref90, v)
		}
		s.ref90, s.haveRef90 = v, true
		rawMin = media.MulDiv(v, int64(time.Second), ts.VideoClockRate)
	} else {
		var ok bool
		if rawMin, ok = fragmentStart(body, s.initTracks, s.localIDs()); !ok {
			return errs.Malformed("fMP4 segment %s has no tfdt for its tracks", u)
		}
	}
	delta := rawMin - outMin
	next := int64(0)
	for i := len(s.buf) - 1; i >= 0; i-- {
		it := &s.buf[i]
		if it.f == nil {
			it.rawNs = next
			if it.splice != nil && it.splice.PTS >= 0 {
				it.spliceNs = media.MulDiv(it.splice.PTS, int64(time.Second), ts.VideoClockRate) + delta
			}
			continue
		}
		it.rawNs = int64(media.Duration(it.f.DTS, it.f.Track.ClockRate)) + delta
		next = it.rawNs
	}
	if s.anchored && (seg.disc || s.goesBack()) {
		s.d.stats.Discontinuities++
		s.anchored = false
	}
	if !s.anchored {
		s.firstRaw = rawMin
		if len(s.lastDTSNs) > 0 {
			// After a discontinuity: continue after this stream's end.
			s.anchor(rawMin - s.endNs)
		}
		return nil
	}
	s.convert()
	return nil
}

// minOut returns the earliest decode time of the buffered frames as the
// segment's demuxer emitted them, in nanoseconds.
func (s *source) minOut() int64 {
	first := true
	var m int64
	for _, it := range s.buf {
		if it.f == nil {
			continue
		}
		ns := int64(media.Duration(it.f.DTS, it.f.Track.ClockRate))
		if first || ns < m {
			m, first = ns, false
		}
	}
	return m
}

// goesBack reports whether a buffered frame would not come after the last
// one of its track on the current base.
func (s *source) goesBack() bool {
	for _, it := range s.buf {
		if it.f == nil {
			continue
		}
		if last, ok := s.lastDTSNs[it.f.Track.ID]; ok && it.rawNs-s.baseNs <= last {
			return true
		}
	}
	return false
}

// anchor sets the base of the timeline and converts the buffered frames.
func (s *source) anchor(base int64) {
	s.baseNs, s.anchored = base, true
	s.convert()
}

// convert moves the buffered frames onto the emitted timeline: each
// frame's timestamps are shifted by whole ticks, so that the spacing the
// demuxer gave them is kept exactly.
func (s *source) convert() {
	for i := range s.buf {
		it := &s.buf[i]
		it.outNs = it.rawNs - s.baseNs
		if it.splice != nil {
			if it.splice.PTS >= 0 {
				// Moved like the frames: from the segment demuxer's
				// timeline to the raw one (demux), then to the emitted one.
				it.splice.PTS = media.MulDiv(it.spliceNs-s.baseNs, ts.VideoClockRate, int64(time.Second))
			}
			continue
		}
		f := it.f
		rate := f.Track.ClockRate
		shift := media.MulDiv(it.outNs, int64(rate), int64(time.Second)) - f.DTS
		f.DTS += shift
		f.PTS += shift
		ns := int64(media.Duration(f.DTS, rate))
		id := f.Track.ID
		if last, ok := s.lastDTSNs[id]; ok && ns > last {
			s.deltaNs[id] = ns - last
		}
		s.lastDTSNs[id] = ns
		s.endNs = max(s.endNs, ns+s.deltaNs[id])
	}
}

// localIDs returns the demuxer track IDs of the buffered frames.
func (s *source) localIDs() map[int]bool {
	ids := map[int]bool{}
	for _, it := range s.buf {
		if it.f != nil {
			ids[it.local] = true
		}
	}
	return ids
}

// track takes a track of a segment's demuxer, unless it is the one taken
// before for the same ID: a demuxer per segment announces its tracks for
// every segment.
//
// OnTrack is called when the track's first frame is emitted, not when its
// segment is demuxed (which, with the other stream's segment buffered,
// is up to a segment earlier): as with one demuxer, the caller learns of
// a track just before its frames. A session that starts its clock at the
// first frame after the tracks are known then starts it on the earliest
// frame of the presentation, not on a rendition whose audio starts later.
func (s *source) track(t *media.Track) error {
	if (t.Kind == media.KindAudio) != s.rendition {
		return nil
	}
	if old := s.tracks[t.ID]; old != nil && sameTrack(old, t) {
		return nil
	}
	out := *t
	out.ID += s.idOffset()
	s.tracks[t.ID] = &out
	return nil
}

func sameTrack(a, b *media.Track) bool {
	return a.Kind == b.Kind && a.Codec == b.Codec && a.ClockRate == b.ClockRate && bytes.Equal(a.Config, b.Config) &&
		a.Width == b.Width && a.Height == b.Height && a.SampleRate == b.SampleRate && a.Channels == b.Channels
}

// initSection returns the initialization section of uri, fetched when it
// changes, with the timescales of its tracks.
func (s *source) initSection(ctx context.Context, uri string) ([]byte, error) {
	if uri == s.mapURI && s.init != nil {
		return s.init, nil
	}
	u, err := s.it.resolve(uri)
	if err != nil {
		return nil, err
	}
	init, err := s.d.fetchAll(ctx, "initialization section", u, MaxInitSize)
	if err != nil {
		return nil, err
	}
	s.initTracks = initTracks(init)
	s.mapURI, s.init = uri, init
	return init, nil
}

// unwrap90 returns the 33-bit timestamp v unwrapped next to ref.
func unwrap90(ref, v int64) int64 {
	const wrap = 1 << 33
	d := (v - ref) & (wrap - 1)
	if d >= wrap/2 {
		d -= wrap
	}
	return ref + d
}

// pesTimes returns the decode times (the PTS when there is no DTS) of the
// PES packets of the given PIDs in a TS segment, 33-bit, in order.
//
// Specification: ISO/IEC 13818-1, sections 2.4.3.2 (transport packet)
// and 2.4.3.6 (PES packet header).
func pesTimes(body []byte, pids map[int]bool) []int64 {
	var out []int64
	for p := body; len(p) >= ts.PacketSize; p = p[ts.PacketSize:] {
		pkt := p[:ts.PacketSize]
		if pkt[0] != 0x47 || pkt[1]&0x40 == 0 {
			continue
		}
		pid := int(binary.BigEndian.Uint16(pkt[1:3]) & 0x1fff)
		if !pids[pid] {
			continue
		}
		payload := pkt[4:]
		switch pkt[3] >> 4 & 3 {
		case 1:
		case 3:
			if int(payload[0])+1 >= len(payload) {
				continue
			}
			payload = payload[1+int(payload[0]):]
		default:
			continue
		}
		if len(payload) < 19 || payload[0] != 0 || payload[1] != 0 || payload[2] != 1 {
			continue
		}
		flags := payload[7] >> 6
		switch flags {
		case 2:
			out = append(out, pesTime(payload[9:14]))
		case 3:
			out = append(out, pesTime(payload[14:19]))
		}
	}
	return out
}

func pesTime(b []byte) int64 {
	return int64(b[0]>>1&7)<<30 | int64(b[1])<<22 | int64(b[2]>>1)<<15 | int64(b[3])<<7 | int64(b[4]>>1)
}

// boxes calls fn with the type and body of each box in b, until fn
// returns false or a box does not fit.
func boxes(b []byte, fn func(typ string, body []byte) bool) {
	for len(b) >= 8 {
		size := uint64(binary.BigEndian.Uint32(b))
		typ := string(b[4:8])
		hdr := uint64(8)
		switch size {
		case 0:
			size = uint64(len(b))
		case 1:
			if len(b) < 16 {
				return
			}
			size, hdr = binary.BigEndian.Uint64(b[8:]), 16
		}
		if size < hdr || size > uint64(len(b)) {
			return
		}
		if !fn(typ, b[hdr:size]) {
			return
		}
		b = b[size:]
	}
}

// trackTime is how a track of an initialization section places its
// media times on the presentation's timeline: (time - shift) / scale
// seconds.
type trackTime struct {
	scale, shift int64
}

// initTracks returns the media timescale (mdhd) and the edit list shift
// of every track (tkhd track_ID) of an initialization section. ffmpeg
// starts every rendition's tfdt at 0 and places it with an empty edit
// (an audio track starting 0.5 s after the video has a 0.5 s one), so the
// edit list is honoured as demux/mp4 does: empty edits delay the track,
// the media time of the first real edit skips what comes before it.
//
// Specification: ISO/IEC 14496-12, sections 8.2.2 (mvhd), 8.3.2 (tkhd),
// 8.4.2 (mdhd) and 8.6.6 (elst).
func initTracks(init []byte) map[uint32]trackTime {
	out := map[uint32]trackTime{}
	boxes(init, func(typ string, moov []byte) bool {
		if typ != "moov" {
			return true
		}
		var movieScale int64
		boxes(moov, func(typ string, b []byte) bool {
			if typ == "mvhd" {
				movieScale = int64(fullBoxField(b, 8, 16))
			}
			return true
		})
		boxes(moov, func(typ string, trak []byte) bool {
			if typ != "trak" {
				return true
			}
			var id uint32
			var scale int64
			var elst []byte
			boxes(trak, func(typ string, b []byte) bool {
				switch typ {
				case "tkhd":
					id = fullBoxField(b, 8, 16)
				case "edts":
					boxes(b, func(typ string, b []byte) bool {
						if typ == "elst" && elst == nil {
							elst = b
						}
						return true
					})
				case "mdia":
					boxes(b, func(typ string, b []byte) bool {
						if typ == "mdhd" {
							scale = int64(fullBoxField(b, 8, 16))
						}
						return true
					})
				}
				return true
			})
			if id != 0 && scale > 0 {
				out[id] = trackTime{scale: scale, shift: elstShift(elst, movieScale, scale)}
			}
			return true
		})
		return false
	})
	return out
}

// fullBoxField reads the 32-bit field of a full box (mvhd, tkhd, mdhd)
// that follows its version 0 or version 1 times: at 4+off0 or 4+off1.
func fullBoxField(b []byte, off0, off1 int) uint32 {
	off := 4 + off0
	if len(b) > 0 && b[0] == 1 {
		off = 4 + off1
	}
	if len(b) < off+4 {
		return 0
	}
	return binary.BigEndian.Uint32(b[off:])
}

// maxEditTime bounds the times of an edit list honoured, as in demux/mp4.
const maxEditTime = 1 << 40

// elstShift returns what to subtract from a track's media times for the
// start of its edit list (the body of an elst box), in its timescale.
func elstShift(b []byte, movieScale, scale int64) int64 {
	if len(b) < 8 || movieScale <= 0 {
		return 0
	}
	v1 := b[0] == 1
	n := binary.BigEndian.Uint32(b[4:])
	b = b[8:]
	var empty int64
	for range min(n, 16) {
		var dur, mt int64
		if v1 {
			if len(b) < 20 {
				return 0
			}
			dur, mt = int64(binary.BigEndian.Uint64(b)&(1<<62-1)), int64(binary.BigEndian.Uint64(b[8:]))
			b = b[20:]
		} else {
			if len(b) < 12 {
				return 0
			}
			dur, mt = int64(binary.BigEndian.Uint32(b)), int64(int32(binary.BigEndian.Uint32(b[4:])))
			b = b[12:]
		}
		if mt == -1 {
			if dur > maxEditTime {
				return 0
			}
			empty += dur
			continue
		}
		if mt < 0 || mt > maxEditTime || empty > maxEditTime {
			return 0
		}
		return mt - media.MulDiv(empty, scale, movieScale)
	}
	return 0
}

// fragmentStart returns the earliest base media decode time (tfdt) of the
// given tracks in the first movie fragment of an fMP4 segment, in
// nanoseconds. RFC 8216, section 3.3, requires a tfdt in every fMP4
// segment: it is the segment's place on the presentation's timeline.
//
// Specification: ISO/IEC 14496-12, sections 8.8.7 (tfhd) and 8.8.12 (tfdt).
func fragmentStart(seg []byte, tracks map[uint32]trackTime, ids map[int]bool) (ns int64, ok bool) {
	boxes(seg, func(typ string, moof []byte) bool {
		if typ != "moof" {
			return true
		}
		boxes(moof, func(typ string, traf []byte) bool {
			if typ != "traf" {
				return true
			}
			var id uint32
			var dt int64 = -1
			boxes(traf, func(typ string, b []byte) bool {
				switch typ {
				case "tfhd":
					if len(b) >= 8 {
						id = binary.BigEndian.Uint32(b[4:])
					}
				case "tfdt":
					if len(b) >= 12 && b[0] == 1 {
						dt = int64(binary.BigEndian.Uint64(b[4:]) & (1<<62 - 1))
					} else if len(b) >= 8 {
						dt = int64(binary.BigEndian.Uint32(b[4:]))
					}
				}
				return true
			})
			if tt := tracks[id]; dt >= 0 && tt.scale > 0 && ids[int(id)] {
				if v := media.MulDiv(dt-tt.shift, int64(time.Second), tt.scale); !ok || v < ns {
					ns, ok = v, true
				}
			}
			return true
		})
		return false
	})
	return ns, ok
}
