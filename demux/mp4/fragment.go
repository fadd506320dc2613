package mp4

import (
	"context"
	"errors"
	"io"
	"sort"

	mp4ff "github.com/Eyevinn/mp4ff/mp4"

	"github.com/tributary-ingress/tributary/demux"
)

// located is a sample waiting for its data in the next mdat.
type located struct {
	t *track
	sample
}

// runStream reads ISO BMFF front to back: the moov box, then fragments.
func (d *Demuxer) runStream(ctx context.Context, sr *streamReader) error {
	var pend []located
	haveMoov := false
	for n := 0; ; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := sr.readHeader()
		if errors.Is(err, io.EOF) {
			switch {
			case !haveMoov:
				return errs.Malformed("no moov box")
			case len(pend) > 0:
				return d.flushTruncated(errs.Truncated("no mdat after the last moof"))
			}
			return d.drain(ctx, true)
		}
		if err != nil {
			if n == 0 {
				return errs.Malformed("not an MP4 file: %v", err)
			}
			if haveMoov && errors.Is(err, demux.ErrTruncated) {
				return d.flushTruncated(err)
			}
			return err
		}
		if n == 0 && !topLevelTypes[h.typ] {
			return errs.Malformed("not an MP4 file: it starts with %q", h.typ)
		}
		if !haveMoov && n >= MaxTopLevelBoxes {
			return errs.Malformed("no moov box in the first %d boxes", MaxTopLevelBoxes)
		}
		payload := int64(-1)
		if h.size >= 0 {
			payload = h.size - int64(h.hdrLen)
		}
		switch {
		case h.typ == "moov" && !haveMoov:
			if h.size < 0 || h.size > MaxMoovSize {
				return errs.OverLimit("moov box of %d bytes exceeds %d", h.size, MaxMoovSize)
			}
			buf, body := boxBytes(h, h.size)
			if _, err := io.ReadFull(sr, body); err != nil {
				return readErr(err)
			}
			if _, err := d.parseMoov(buf, h.hdrLen, h.pos); err != nil {
				return err
			}
			if err := d.announce(); err != nil {
				return err
			}
			haveMoov = true
			if pend, err = d.tableSamples(); err != nil {
				return err
			}
		case h.typ == "moof":
			if !haveMoov {
				return errs.Malformed("moof before moov")
			}
			if len(pend) > 0 {
				return errs.Malformed("moof at offset %d follows a moof without mdat", h.pos)
			}
			if h.size < 0 || h.size > MaxMoofSize {
				return errs.OverLimit("moof box of %d bytes exceeds %d", h.size, MaxMoofSize)
			}
			buf, body := boxBytes(h, h.size)
			if _, err := io.ReadFull(sr, body); err != nil {
				return d.flushTruncated(readErr(err))
			}
			if pend, err = d.parseMoof(buf, h.pos); err != nil {
				return err
			}
		case h.typ == "mdat" && !haveMoov:
			return errs.Malformed("mdat before moov: a file with the moov box at the end needs Run")
		case h.typ == "mdat" && len(pend) > 0:
			err := d.readMdat(sr, h, pend)
			pend = nil
			if err != nil {
				if errors.Is(err, demux.ErrTruncated) {
					return d.flushTruncated(err)
				}
				return err
			}
			if err := d.drain(ctx, false); err != nil {
				return err
			}
		default:
			if err := sr.skip(payload); err != nil {
				if haveMoov {
					return d.flushTruncated(err)
				}
				return err
			}
		}
	}
}

// flushTruncated emits the frames already read, then returns err.
func (d *Demuxer) flushTruncated(err error) error {
	if ferr := d.drain(context.Background(), true); ferr != nil {
		return ferr
	}
	return err
}

// tableSamples lists the samples of the sample tables of the moov box,
// which a fragmented file normally leaves empty (ffmpeg frag_keyframe
// without empty_moov does not).
func (d *Demuxer) tableSamples() ([]located, error) {
	var out []located
	for _, t := range d.tracks {
		for !t.table.done() {
			if len(out) == MaxFragmentSamples {
				return nil, errs.OverLimit("more than %d samples in moov: use Run", MaxFragmentSamples)
			}
			s, err := t.table.next()
			if err != nil {
				return nil, err
			}
			out = append(out, located{t: t, sample: s})
		}
		t.nextDTS = t.table.dts
	}
	return out, nil
}

func (d *Demuxer) trackByID(id uint32) *track {
	for _, t := range d.tracks {
		if t.id == id {
			return t
		}
	}
	return nil
}

// maxOffset bounds data offsets computed from a moof.
const maxOffset = 1 << 62

// parseMoof lists the samples of a movie fragment with their absolute
// offsets and decode times.
//
// Specification: ISO/IEC 14496-12, sections 8.8.7 (tfhd: base data
// offset), 8.8.8 (trun), 8.8.12 (tfdt).
func (d *Demuxer) parseMoof(buf []byte, pos int64) ([]located, error) {
	box, err := decodeBox(buf, pos)
	if err != nil {
		return nil, err
	}
	moof, ok := box.(*mp4ff.MoofBox)
	if !ok {
		return nil, errs.Malformed("invalid moof")
	}
	var out []located
	// Without a base data offset, the first traf's data starts at the
	// moof and the next ones' where the previous one's ended.
	prevEnd := pos
	for _, traf := range moof.Trafs {
		tfhd := traf.Tfhd
		if tfhd == nil {
			return nil, errs.Malformed("traf without tfhd")
		}
		t := d.trackByID(tfhd.TrackID)
		if t == nil {
			continue // a track we ignore (subtitles, metadata)
		}
		base := prevEnd
		switch {
		case tfhd.HasBaseDataOffset():
			if tfhd.BaseDataOffset > maxOffset {
				return nil, errs.Malformed("base data offset %d", tfhd.BaseDataOffset)
			}
			base = int64(tfhd.BaseDataOffset)
		case tfhd.DefaultBaseIfMoof():
			base = pos
		}
		dts := t.nextDTS
		if traf.Tfdt != nil {
			if traf.Tfdt.BaseMediaDecodeTime() > maxTime {
				return nil, errs.Malformed("track %d: decode time %d", t.id, traf.Tfdt.BaseMediaDecodeTime())
			}
			dts = int64(traf.Tfdt.BaseMediaDecodeTime())
		}
		off := base
		for _, trun := range traf.Truns {
			trun.AddSampleDefaultValues(tfhd, t.trex)
			if trun.HasDataOffset() {
				off = base + int64(trun.DataOffset)
			}
			for _, s := range trun.Samples {
				if len(out) == MaxFragmentSamples {
					return nil, errs.OverLimit("more than %d samples in a fragment", MaxFragmentSamples)
				}
				if s.Size > MaxSampleSize {
					return nil, errs.OverLimit("sample of %d bytes exceeds %d", s.Size, MaxSampleSize)
				}
				if off < 0 || off > maxOffset || dts > maxTime {
					return nil, errs.Malformed("track %d: sample at offset %d, time %d", t.id, off, dts)
				}
				out = append(out, located{t: t, sample: sample{
					offset: off, size: int(s.Size), dts: dts, cto: s.CompositionTimeOffset,
					key: !mp4ff.DecodeSampleFlags(s.Flags).SampleIsNonSync,
				}})
				off += int64(s.Size)
				dts += int64(s.Dur)
			}
		}
		prevEnd = off
		t.nextDTS = dts
	}
	return out, nil
}

// readMdat reads the samples of pend from the mdat box whose header was
// just read, and queues them on their tracks.
func (d *Demuxer) readMdat(sr *streamReader, h boxHeader, pend []located) error {
	end := h.end(maxOffset)
	order := make([]*located, len(pend))
	for i := range pend {
		order[i] = &pend[i]
	}
	sort.SliceStable(order, func(i, j int) bool { return order[i].offset < order[j].offset })
	var err error
	for _, p := range order {
		if p.size == 0 {
			continue
		}
		if p.offset < sr.pos || p.offset+int64(p.size) > end {
			err = errs.Malformed("track %d: sample at offset %d is not in the mdat at %d–%d", p.t.id, p.offset, sr.pos, end)
			break
		}
		if err = sr.skip(p.offset - sr.pos); err != nil {
			break
		}
		p.data = make([]byte, p.size)
		if _, rerr := io.ReadFull(sr, p.data); rerr != nil {
			p.data, err = nil, readErr(rerr)
			break
		}
	}
	for _, p := range pend {
		if p.data == nil {
			continue
		}
		if p.t.stalled {
			p.t.stalled = false
		}
		if p.t.qhead > 0 && p.t.qhead*2 >= len(p.t.queue) {
			p.t.queue = append(p.t.queue[:0], p.t.queue[p.t.qhead:]...)
			p.t.qhead = 0
		}
		p.t.queue = append(p.t.queue, p.sample)
	}
	if err != nil {
		return err
	}
	if h.size < 0 {
		return sr.skip(-1)
	}
	return sr.skip(end - sr.pos)
}

// drain emits queued samples in decode order across tracks. Unless final,
// it stops when a track that is not stalled has nothing queued, since
// that track's next sample may come first; when more than
// MaxPendingFrames wait, the empty tracks are marked stalled and no longer
// waited for until they deliver again.
func (d *Demuxer) drain(ctx context.Context, final bool) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var best *track
		var bs sample
		total, waiting := 0, false
		for _, t := range d.tracks {
			s, ok := t.head()
			if !ok {
				waiting = waiting || !t.stalled
				continue
			}
			total += len(t.queue) - t.qhead
			if best == nil || d.before(t, s, best, bs) {
				best, bs = t, s
			}
		}
		if best == nil {
			if final {
				return d.flushAllPCM()
			}
			return nil
		}
		if waiting && !final {
			if total < MaxPendingFrames {
				return nil
			}
			for _, t := range d.tracks {
				if _, ok := t.head(); !ok {
					t.stalled = true
				}
			}
		}
		d.setStart()
		best.queue[best.qhead] = sample{}
		best.qhead++
		if err := d.emit(best, bs, bs.data, false); err != nil {
			return err
		}
	}
}
