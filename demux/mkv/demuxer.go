package mkv

import (
	"bufio"
	"context"
	"errors"
	"io"
	"math"

	"github.com/tributary-ingress/tributary/codec/av1"
	"github.com/tributary-ingress/tributary/codec/h264"
	"github.com/tributary-ingress/tributary/codec/h265"
	"github.com/tributary-ingress/tributary/codec/pcm"
	"github.com/tributary-ingress/tributary/codec/vp8"
	"github.com/tributary-ingress/tributary/codec/vp9"
	"github.com/tributary-ingress/tributary/demux"
	"github.com/tributary-ingress/tributary/media"
)

// Demuxer turns a Matroska or WebM stream into tracks and frames.
//
// Frames own their bytes: each block is read into its own buffer, and the
// frames of the block (laced frames, NAL units) are read-only sub-slices
// of it.
//
// A Demuxer runs once and is not safe for concurrent use.
type Demuxer struct {
	// OnTrack is called for every audio and video track, when the Tracks
	// element is read, before any frame. Required.
	OnTrack func(*media.Track) error
	// OnFrame is called for every frame, in file order. Required.
	OnFrame func(*media.Frame) error
	// SkipUnsupported makes the demuxer ignore tracks of unsupported
	// codecs (counted in Stats.SkippedTracks) instead of failing with
	// demux.ErrUnsupportedCodec. Run still fails when no track is left.
	SkipUnsupported bool

	r       reader
	scale   int64
	tracks  map[uint64]*trackState
	cluster int64 // Timestamp of the current cluster
	// offsetNs is subtracted from all timestamps: the first frame's DTS.
	offsetNs  int64
	anchored  bool
	haveTrack bool
	stats     Stats
}

// Initialize checks the configuration. Call it before Run.
func (d *Demuxer) Initialize() error {
	if d.OnTrack == nil || d.OnFrame == nil {
		return errors.New("mkv: Demuxer needs OnTrack and OnFrame")
	}
	d.scale = DefaultTimestampScale
	d.tracks = map[uint64]*trackState{}
	return nil
}

// Stats returns the counters of what was demuxed and dropped.
func (d *Demuxer) Stats() Stats { return d.stats }

// Run demuxes r until its end or an error, and returns nil at a clean end
// (the end of the input between elements, or of the Segment). The errors
// match demux.ErrTruncated, demux.ErrMalformed or demux.ErrUnsupportedCodec, or are ctx's or
// r's; an error returned by a callback is returned as is.
func (d *Demuxer) Run(ctx context.Context, r io.Reader) error {
	if d.tracks == nil {
		return errors.New("mkv: Run before Initialize")
	}
	d.r = reader{r: bufio.NewReaderSize(r, 64<<10)}
	h, err := d.r.next()
	if err != nil || h.id != idEBML {
		if err != nil && !errors.Is(err, demux.ErrMalformed) && !errors.Is(err, io.EOF) && !errors.Is(err, demux.ErrTruncated) {
			return err
		}
		return errs.Malformed("not Matroska: no EBML header")
	}
	if err := d.readEBMLHeader(h); err != nil {
		return err
	}
	h, err = d.r.next()
	if err != nil {
		return readErr(err, "the Segment header")
	}
	if h.id != idSegment {
		return errs.Malformed("element 0x%x where the Segment should start", h.id)
	}
	end := int64(math.MaxInt64)
	if h.size != unknownSize {
		end = d.r.pos + h.size
	}
	return d.segment(ctx, end)
}

// readEBMLHeader checks the DocType.
//
// Specification: RFC 8794, section 11.2.
func (d *Demuxer) readEBMLHeader(h header) error {
	b, err := d.r.body(h, MaxMasterSize)
	if err != nil {
		return err
	}
	els, err := children(b)
	if err != nil {
		return err
	}
	for _, e := range els {
		if e.id == idDocType {
			switch dt := stringValue(e.data); dt {
			case "matroska", "webm":
			default:
				return errs.Malformed("DocType %q is not matroska or webm", printable(dt))
			}
		}
	}
	return nil
}

// segment reads the children of the Segment until end or the end of the
// input.
func (d *Demuxer) segment(ctx context.Context, end int64) error {
	var pending *header
	for d.r.pos < end || pending != nil {
		if err := ctx.Err(); err != nil {
			return err
		}
		var h header
		if pending != nil {
			h, pending = *pending, nil
		} else {
			var err error
			h, err = d.r.next()
			if errors.Is(err, io.EOF) {
				if end != math.MaxInt64 {
					return errs.Truncated("input ends %d bytes before the end of the Segment", end-d.r.pos)
				}
				return nil
			}
			if err != nil {
				return err
			}
		}
		var err error
		switch h.id {
		case idInfo:
			err = d.readInfo(h)
		case idTracks:
			err = d.readTracks(h)
		case idCluster:
			pending, err = d.readCluster(ctx, h)
		case idEBML, idSegment:
			// A chained stream (a live source restarting) is not followed.
			return errs.Malformed("new EBML stream at %d inside the Segment", h.pos)
		default:
			err = d.r.skip(h)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (d *Demuxer) readInfo(h header) error {
	b, err := d.r.body(h, MaxMasterSize)
	if err != nil {
		return err
	}
	els, err := children(b)
	if err != nil {
		return err
	}
	for _, e := range els {
		if e.id == idTimestampSc {
			v, err := uintValue(e.data)
			if err != nil {
				return err
			}
			if v == 0 || v > 1e9 {
				return errs.Malformed("TimestampScale %d", v)
			}
			d.scale = int64(v)
		}
	}
	return nil
}

func (d *Demuxer) readTracks(h header) error {
	if d.haveTrack {
		// Tracks repeated (live streams may): keep the first.
		return d.r.skip(h)
	}
	b, err := d.r.body(h, MaxMasterSize)
	if err != nil {
		return err
	}
	els, err := children(b)
	if err != nil {
		return err
	}
	var firstUnsupported error
	for _, e := range els {
		if e.id != idTrackEntry {
			continue
		}
		if len(d.tracks) >= MaxTracks {
			return errs.OverLimit("more than %d tracks", MaxTracks)
		}
		t, err := parseTrackEntry(e.data)
		if err != nil {
			return err
		}
		if _, dup := d.tracks[t.number]; dup {
			return errs.Malformed("track number %d twice", t.number)
		}
		d.tracks[t.number] = t
		tr, err := t.setup()
		switch {
		case errors.Is(err, demux.ErrUnsupportedCodec) && d.SkipUnsupported:
			d.stats.SkippedTracks++
			t.skip = true
			firstUnsupported = err
			continue
		case err != nil:
			return err
		case tr == nil:
			t.skip = true
			continue
		}
		t.track = tr
		d.haveTrack = true
		if err := d.OnTrack(tr); err != nil {
			return err
		}
	}
	if !d.haveTrack && firstUnsupported != nil {
		return firstUnsupported
	}
	return nil
}

// readCluster reads a cluster. An unknown-size cluster ends at the first
// element that is not one of its children, whose header it returns.
//
// Specification: RFC 9559, section 6.2 (unknown-size elements).
func (d *Demuxer) readCluster(ctx context.Context, h header) (*header, error) {
	d.stats.Clusters++
	end := int64(math.MaxInt64)
	if h.size != unknownSize {
		end = d.r.pos + h.size
	}
	for d.r.pos < end {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c, err := d.r.next()
		if errors.Is(err, io.EOF) {
			if end != math.MaxInt64 {
				return nil, errs.Truncated("input ends inside a Cluster")
			}
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if h.size == unknownSize && segmentLevel(c.id) {
			return &c, nil
		}
		if c.size != unknownSize && end != math.MaxInt64 && d.r.pos+c.size > end {
			return nil, errs.Malformed("Cluster child 0x%x overruns the Cluster", c.id)
		}
		switch c.id {
		case idTimestamp:
			b, err := d.r.body(c, 8)
			if err != nil {
				return nil, err
			}
			v, _ := uintValue(b)
			if v > math.MaxInt64/uint64(d.scale) {
				return nil, errs.Malformed("Cluster Timestamp %d", v)
			}
			d.cluster = int64(v)
		case idSimpleBlock:
			b, err := d.r.body(c, MaxBlockSize)
			if err != nil {
				return nil, err
			}
			blk, err := parseBlock(b, true)
			if err != nil {
				return nil, err
			}
			if err := d.emit(blk); err != nil {
				return nil, err
			}
		case idBlockGroup:
			if err := d.readBlockGroup(c); err != nil {
				return nil, err
			}
		default:
			if err := d.r.skip(c); err != nil {
				return nil, err
			}
		}
	}
	return nil, nil
}

// readBlockGroup reads a BlockGroup: its Block is a keyframe when the
// group has no ReferenceBlock.
//
// Specification: RFC 9559, section 5.1.3.5.
func (d *Demuxer) readBlockGroup(h header) error {
	b, err := d.r.body(h, MaxBlockSize+1024)
	if err != nil {
		return err
	}
	els, err := children(b)
	if err != nil {
		return err
	}
	var body []byte
	ref := false
	for _, e := range els {
		switch e.id {
		case idBlock:
			body = e.data
		case idRefBlock:
			ref = true
		}
	}
	if body == nil {
		return errs.Malformed("BlockGroup without Block")
	}
	blk, err := parseBlock(body, false)
	if err != nil {
		return err
	}
	blk.keyframe = !ref
	return d.emit(blk)
}

// emit turns a block into frames.
func (d *Demuxer) emit(blk block) error {
	t := d.tracks[blk.track]
	if t == nil || t.skip || t.track == nil {
		d.stats.DroppedOtherTracks++
		return nil
	}
	// Specification: RFC 9559, section 5.1.4.1.20 (CodecDelay is
	// subtracted from the block timestamps), as ffmpeg does.
	ptsNs := (d.cluster+int64(blk.relTime))*d.scale - int64(t.delayNs)
	tr := t.track
	if tr.Kind == media.KindVideo {
		if len(blk.frames) != 1 {
			return errs.Malformed("track %d: laced video block", tr.ID)
		}
		data, err := videoData(t, blk.frames[0])
		if err != nil {
			return err
		}
		if len(data) == 0 || len(data[0]) == 0 {
			return nil
		}
		dtsNs := t.dts.next(ptsNs)
		key := blk.keyframe
		if !key {
			key = isKeyframe(tr.Codec, data)
		}
		f := &media.Frame{Track: tr, Key: key, Data: data}
		d.stamp(f, dtsNs, ptsNs, 0)
		d.stats.VideoFrames++
		return d.OnFrame(f)
	}
	var extra int64
	for _, fr := range blk.frames {
		if t.pcm != nil {
			fr = pcm.Convert(nil, fr, *t.pcm)
		}
		if len(fr) == 0 {
			continue
		}
		f := &media.Frame{Track: tr, Key: true, Data: [][]byte{fr}}
		d.stamp(f, ptsNs, ptsNs, extra)
		extra += frameDuration(t, fr)
		d.stats.AudioFrames++
		if err := d.OnFrame(f); err != nil {
			return err
		}
	}
	return nil
}

// stamp sets the timestamps of a frame from nanoseconds, rebased on the
// first frame, plus extra track ticks.
func (d *Demuxer) stamp(f *media.Frame, dtsNs, ptsNs, extra int64) {
	if !d.anchored {
		d.offsetNs, d.anchored = dtsNs, true
	}
	rate := int64(f.Track.ClockRate)
	f.DTS = media.MulDiv(dtsNs-d.offsetNs, rate, 1e9) + extra
	f.PTS = media.MulDiv(ptsNs-d.offsetNs, rate, 1e9) + extra
}

// isKeyframe checks the bitstream of a frame that its block did not flag
// (BlockGroup keyframes are signalled by the absence of ReferenceBlock,
// which muxers get wrong; SimpleBlock flags are trusted when set).
func isKeyframe(c media.CodecID, data [][]byte) bool {
	switch c {
	case media.CodecH264:
		return h264.IsKeyframe(data)
	case media.CodecH265:
		return h265.IsKeyframe(data)
	case media.CodecVP8:
		return vp8.IsKeyframe(data[0])
	case media.CodecVP9:
		fi, err := vp9.ParseFrame(data[0])
		return err == nil && fi.Key
	case media.CodecAV1:
		return av1.ContainsSequenceHeader(data[0])
	}
	return false
}
