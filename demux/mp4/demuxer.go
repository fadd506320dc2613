package mp4

import (
	"context"
	"errors"
	"io"

	"github.com/tributary-ingress/tributary/codec/pcm"
	"github.com/tributary-ingress/tributary/demux"
	"github.com/tributary-ingress/tributary/media"
)

// Demuxer reads an MP4, MOV, M4A or fragmented MP4 file and calls OnTrack
// for each audio and video track, then OnFrame for each sample, in decode
// order across tracks.
//
// Frames own their bytes. A Demuxer runs once and is not safe for
// concurrent use.
type Demuxer struct {
	// OnTrack is called once per track, for all tracks, before the first
	// frame. Required.
	OnTrack func(*media.Track) error

	// OnFrame is called for every sample, interleaved across tracks by
	// decode time. Required.
	OnFrame func(*media.Frame) error

	// ReadAhead is the size of the window Run reads per track from its
	// io.ReaderAt; 0 means DefaultReadAhead. A sample larger than the
	// window is read whole.
	ReadAhead int

	tracks []*track
	// wins are Run's read-ahead windows, shared by the tracks: one serves
	// a well-interleaved file, two a file with one track after the other.
	wins    [2]window
	winTick [2]uint64
	tick    uint64
	// start is the earliest decode time of all tracks, startNum/startDen
	// seconds, subtracted from every timestamp.
	started            bool
	startNum, startDen int64
}

// Initialize checks the configuration. Call it before Run.
func (d *Demuxer) Initialize() error {
	if d.OnTrack == nil || d.OnFrame == nil {
		return errors.New("mp4: Demuxer needs OnTrack and OnFrame")
	}
	if d.ReadAhead < 0 {
		return errors.New("mp4: negative ReadAhead")
	}
	if d.ReadAhead == 0 {
		d.ReadAhead = DefaultReadAhead
	}
	return nil
}

// Run demuxes a whole file of size bytes. It reads the top-level box
// headers up to the moov box, wherever it is, then the samples at their
// offsets, so only the moov box and the samples are read. A fragmented
// file is read front to back as by RunFragmented.
//
// It returns nil at the end of the file; an error wrapping demux.ErrTruncated,
// demux.ErrUnsupportedCodec or demux.ErrMalformed; ctx.Err() when ctx ends; or an error
// of a callback as is.
func (d *Demuxer) Run(ctx context.Context, r io.ReaderAt, size int64) error {
	if size < 0 {
		return errors.New("mp4: negative size")
	}
	pos := int64(0)
	sawMdat := false
	for n := 0; ; n++ {
		if n == MaxTopLevelBoxes {
			return errs.Malformed("no moov box in the first %d boxes", MaxTopLevelBoxes)
		}
		h, err := readBoxHeaderAt(r, pos, size)
		if errors.Is(err, io.EOF) {
			if sawMdat {
				return errs.Truncated("no moov box: the file is cut or was never finalized")
			}
			return errs.Malformed("no moov box")
		}
		if n == 0 && h.typ != "" && !topLevelTypes[h.typ] {
			return errs.Malformed("not an MP4 file: it starts with %q", h.typ)
		}
		if err != nil {
			if n == 0 && errors.Is(err, demux.ErrTruncated) {
				return errs.Malformed("not an MP4 file: %v", err)
			}
			return err
		}
		if h.typ == "moov" {
			if h.size < 0 || h.size > MaxMoovSize {
				return errs.OverLimit("moov box of %d bytes exceeds %d", h.size, MaxMoovSize)
			}
			buf, body := boxBytes(h, h.size)
			if m, err := r.ReadAt(body, pos+int64(h.hdrLen)); m < len(body) {
				return readErr(err)
			}
			fragmented, err := d.parseMoov(buf, h.hdrLen, pos)
			if err != nil {
				return err
			}
			if fragmented {
				d.tracks = nil
				return d.runStream(ctx, &streamReader{r: io.NewSectionReader(r, 0, size)})
			}
			if err := d.announce(); err != nil {
				return err
			}
			return d.runProgressive(ctx, r, size)
		}
		sawMdat = sawMdat || h.typ == "mdat"
		pos = h.end(size)
	}
}

// RunFragmented demuxes fragmented MP4 read front to back: an init
// segment (ftyp, moov) followed by fragments (moof, mdat; styp, sidx,
// emsg and other boxes are skipped), as in HLS fMP4, CMAF or
// `ffmpeg -movflags frag_keyframe+empty_moov`. A progressive file whose
// moov comes first is accepted too if its samples fit in
// MaxFragmentSamples.
//
// It returns like Run.
func (d *Demuxer) RunFragmented(ctx context.Context, r io.Reader) error {
	return d.runStream(ctx, &streamReader{r: r})
}

// announce calls OnTrack for every track.
func (d *Demuxer) announce() error {
	for _, t := range d.tracks {
		if err := d.OnTrack(t.t); err != nil {
			return err
		}
	}
	return nil
}

// runProgressive reads the samples of the sample tables, always the one
// with the earliest decode time next.
func (d *Demuxer) runProgressive(ctx context.Context, r io.ReaderAt, size int64) error {
	for _, t := range d.tracks {
		if err := t.advance(); err != nil {
			return err
		}
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var best *track
		for _, t := range d.tracks {
			if t.hasPeek && (best == nil || d.before(t, t.peek, best, best.peek)) {
				best = t
			}
		}
		if best == nil {
			return d.flushAllPCM()
		}
		d.setStart()
		s := best.peek
		if s.size > 0 {
			best.bytes += int64(s.size)
			if best.bytes > size {
				return errs.Malformed("the samples of track %d add up to more than the file", best.id)
			}
			data, err := d.read(r, s.offset, s.size, size)
			if err != nil {
				return err
			}
			if err := d.emit(best, s, data, true); err != nil {
				return err
			}
		}
		if err := best.advance(); err != nil {
			return err
		}
	}
}

// advance loads the next sample of a progressive track into peek.
func (t *track) advance() error {
	t.hasPeek = !t.table.done()
	if !t.hasPeek {
		return nil
	}
	var err error
	t.peek, err = t.table.next()
	return err
}

// head returns the next sample of a track: its peek (progressive) or the
// head of its queue (fragmented).
func (t *track) head() (sample, bool) {
	if t.hasPeek {
		return t.peek, true
	}
	if t.qhead < len(t.queue) {
		return t.queue[t.qhead], true
	}
	return sample{}, false
}

// nanos returns a media time of the track in nanoseconds, to compare
// times across tracks.
func (t *track) nanos(v int64) int64 {
	return media.MulDiv(v-t.shift, 1e9, t.timescale)
}

// before reports whether sample a of track ta decodes before sample b of
// tb. Ties go to the track that comes first in the file.
func (d *Demuxer) before(ta *track, a sample, tb *track, b sample) bool {
	return ta.nanos(a.dts) < tb.nanos(b.dts)
}

// setStart fixes the timeline origin at the first frame: the earliest
// decode time among the next samples of all tracks.
func (d *Demuxer) setStart() {
	if d.started {
		return
	}
	var first *track
	var fs sample
	for _, t := range d.tracks {
		if s, ok := t.head(); ok && (first == nil || d.before(t, s, first, fs)) {
			first, fs = t, s
		}
	}
	if first == nil {
		return
	}
	d.started = true
	d.startNum, d.startDen = fs.dts-first.shift, first.timescale
}

// ticks converts a media time of the track to the track's clock on the
// rebased timeline.
func (d *Demuxer) ticks(t *track, v int64) int64 {
	rate := int64(t.t.ClockRate)
	return media.MulDiv(v-t.shift, rate, t.timescale) - media.MulDiv(d.startNum, rate, d.startDen)
}

// maxTime bounds decode times so that conversions cannot overflow: 2^50
// ticks is 400 years at 90 kHz.
const maxTime = 1 << 50

// emit turns a sample into a frame and hands it over. With copyData, data
// is copied (it aliases a read buffer); otherwise the frame takes it.
func (d *Demuxer) emit(t *track, s sample, data []byte, copyData bool) error {
	if s.dts > maxTime || s.dts < -maxTime {
		return errs.Malformed("track %d: decode time %d", t.id, s.dts)
	}
	if t.emitted && s.dts < t.lastDTS {
		return errs.Malformed("track %d: decode time goes back from %d to %d", t.id, t.lastDTS, s.dts)
	}
	t.emitted, t.lastDTS = true, s.dts
	if t.blockAlign > 0 {
		return d.emitPCM(t, s, data)
	}
	f, err := newFrame(t, data, copyData)
	if err != nil {
		return err
	}
	f.DTS = d.ticks(t, s.dts)
	f.PTS = d.ticks(t, s.dts+int64(s.cto))
	f.Key = s.key || t.t.Kind == media.KindAudio
	return d.OnFrame(f)
}

// pcmFramesPerSecond sets the duration of the frames uncompressed samples
// are joined into: 20 ms.
const pcmFramesPerSecond = 50

// emitPCM adds the samples of an uncompressed audio sample (converted to
// 16-bit little-endian) to the track's pending frame, which goes out when
// it holds 20 ms, or when a sample does not follow it in time.
func (d *Demuxer) emitPCM(t *track, s sample, data []byte) error {
	n := len(data) / t.blockAlign
	data = data[:n*t.blockAlign]
	dts := d.ticks(t, s.dts)
	if t.pend != nil && dts != t.pend.DTS+int64(t.pendCount) {
		if err := d.flushPCM(t); err != nil {
			return err
		}
	}
	if t.pend == nil {
		t.pend = &media.Frame{Track: t.t, PTS: dts, DTS: dts, Key: true, Data: [][]byte{nil}}
		t.pendCount = 0
	}
	if t.pcm != nil {
		t.pend.Data[0] = pcm.Convert(t.pend.Data[0], data, *t.pcm)
	} else {
		t.pend.Data[0] = append(t.pend.Data[0], data...)
	}
	t.pendCount += n
	if t.pendCount >= max(1, t.t.SampleRate/pcmFramesPerSecond) {
		return d.flushPCM(t)
	}
	return nil
}

// flushPCM hands over the pending frame of uncompressed samples.
func (d *Demuxer) flushPCM(t *track) error {
	f := t.pend
	t.pend, t.pendCount = nil, 0
	if f == nil || len(f.Data[0]) == 0 {
		return nil
	}
	return d.OnFrame(f)
}

// flushAllPCM hands over what every track holds at the end of the input.
func (d *Demuxer) flushAllPCM() error {
	for _, t := range d.tracks {
		if err := d.flushPCM(t); err != nil {
			return err
		}
	}
	return nil
}

// read returns size bytes at off from a read-ahead window, reading the
// least recently used window anew when neither holds them. The bytes are
// valid until the next call.
func (d *Demuxer) read(r io.ReaderAt, off int64, size int, fileSize int64) ([]byte, error) {
	d.tick++
	for i := range d.wins {
		if b, ok := d.wins[i].get(off, size); ok {
			d.winTick[i] = d.tick
			return b, nil
		}
	}
	i := 0
	if d.winTick[1] < d.winTick[0] {
		i = 1
	}
	d.winTick[i] = d.tick
	return d.wins[i].read(r, off, size, fileSize, d.ReadAhead)
}

// window is a read-ahead buffer over an io.ReaderAt.
type window struct {
	off int64
	buf []byte
}

// get returns size bytes at off if the window holds them.
func (w *window) get(off int64, size int) ([]byte, bool) {
	if off >= w.off && off+int64(size) <= w.off+int64(len(w.buf)) {
		return w.buf[off-w.off : off-w.off+int64(size)], true
	}
	return nil, false
}

// read fills the window from off and returns size bytes at off.
func (w *window) read(r io.ReaderAt, off int64, size int, fileSize int64, readAhead int) ([]byte, error) {
	if off < 0 || off+int64(size) > fileSize {
		return nil, errs.Truncated("sample of %d bytes at offset %d in a file of %d bytes", size, off, fileSize)
	}
	n := min(int64(max(size, readAhead)), fileSize-off)
	if int64(cap(w.buf)) < n {
		w.buf = make([]byte, n)
	}
	w.buf, w.off = w.buf[:n], off
	if m, err := r.ReadAt(w.buf, off); m < len(w.buf) {
		w.buf = w.buf[:0]
		return nil, readErr(err)
	}
	return w.buf[:size], nil
}
