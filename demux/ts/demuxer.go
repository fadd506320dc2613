package ts

import (
	"bufio"
	"context"
	"errors"
	"io"

	"github.com/asticode/go-astits"

	"github.com/tributary-ingress/tributary/media"
)

// Demuxer turns MPEG-TS into tracks and frames.
//
// Frames own their bytes: the payload of each PES packet is one
// allocation, and the frames made from it (one video access unit, or
// several audio frames) are read-only sub-slices of it that nothing else
// references.
//
// Feed one stream with one Run call, or consecutive pieces of one stream
// (HLS segments) with one Run call each: the timeline continues. Call
// Discontinuity between two pieces whose timestamps do not continue.
//
// A Demuxer is not safe for concurrent use.
type Demuxer struct {
	// OnTrack is called when a track is set up, before its first frame:
	// for video at the first access unit with parameter sets, for audio at
	// the first frame. When the parameter sets or the audio configuration
	// change, OnTrack is called again with a new *Track of the same ID
	// (the PID), and the frames that follow point to it. Required.
	OnTrack func(*media.Track) error

	// OnFrame is called for every frame, in decode order per track and in
	// stream order across tracks. Required.
	OnFrame func(*media.Frame) error

	// OnSCTE35 is called for every SCTE-35 splice_insert command, in
	// stream order relative to the frames, with PTS on the timeline of the
	// frames (90 kHz). Optional.
	OnSCTE35 func(SpliceInsert) error

	// SkipUnsupported makes the demuxer ignore audio and video streams of
	// codecs it does not support (counted in Stats.SkippedStreams) instead
	// of failing with demux.ErrUnsupportedCodec. Run still fails when no
	// supported stream is left.
	SkipUnsupported bool

	streams    map[uint16]*stream
	scte35PIDs map[uint16]bool
	sections   map[uint16][]byte
	events     []pending
	tl         timeline
	pending    []pending
	stats      Stats
}

// Initialize checks the configuration. Call it before Run.
func (d *Demuxer) Initialize() error {
	if d.OnTrack == nil || d.OnFrame == nil {
		return errors.New("ts: Demuxer needs OnTrack and OnFrame")
	}
	d.streams = map[uint16]*stream{}
	d.scte35PIDs = map[uint16]bool{}
	d.sections = map[uint16][]byte{}
	return nil
}

// Stats returns the counters of what was demuxed, dropped and repaired.
func (d *Demuxer) Stats() Stats { return d.stats }

// Discontinuity tells the demuxer that the next input's timestamps do not
// continue the previous ones (HLS EXT-X-DISCONTINUITY, an encoder restart):
// the timeline is re-anchored so that the next frames follow the last ones
// emitted. Call it between two Run calls.
func (d *Demuxer) Discontinuity() {
	d.stats.Discontinuities++
	d.tl.discontinuity()
	for _, s := range d.streams {
		s.resetTiming()
	}
}

// Run demuxes r until its end or an error, and returns nil at a clean end.
// The errors match demux.ErrTruncated, demux.ErrMalformed or demux.ErrUnsupportedCodec, or
// are ctx's or r's; an error returned by a callback is returned as is.
func (d *Demuxer) Run(ctx context.Context, r io.Reader) error {
	if d.streams == nil {
		return errors.New("ts: Run before Initialize")
	}
	if _, ok := r.(*bufio.Reader); !ok {
		r = bufio.NewReaderSize(r, 64*PacketSize)
	}
	// A new Run may start in the middle of a section of the previous input.
	clear(d.sections)
	pr := &packetReader{d: d, r: r}
	dmx := astits.NewDemuxer(ctx, pr, astits.DemuxerOptPacketSize(PacketSize))
	for {
		data, err := dmx.NextData()
		if err != nil {
			if errors.Is(err, astits.ErrNoMorePackets) {
				break
			}
			if ctxErr := ctx.Err(); ctxErr != nil {
				return ctxErr
			}
			// A PES packet or section astits could not parse: skip it.
			d.stats.DecodeErrors++
			if err := d.drainEvents(); err != nil {
				return err
			}
			continue
		}
		if err := d.handleData(data); err != nil {
			return err
		}
		if err := d.drainEvents(); err != nil {
			return err
		}
	}
	if err := d.drainEvents(); err != nil {
		return err
	}
	if err := d.flush(); err != nil {
		return err
	}
	if pr.err != nil {
		return pr.err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return nil
}

func (d *Demuxer) handleData(data *astits.DemuxerData) error {
	switch {
	case data.PMT != nil:
		return d.handlePMT(data.PMT)
	case data.PES != nil:
		s := d.streams[data.PID]
		if s == nil || s.skip {
			return nil
		}
		return d.handlePES(s, data.PES)
	}
	return nil
}

// scte35Packet assembles the sections of a SCTE-35 PID. Parsed commands
// wait in d.events until Run hands them over after the data astits
// returns, so that callbacks run outside astits.
//
// Specification: ITU-T Rec. H.222.0, section 2.4.4.2 (pointer_field).
func (d *Demuxer) scte35Packet(pid uint16, payload []byte, pusi bool) {
	buf, inSection := d.sections[pid]
	if pusi {
		if len(payload) < 1 {
			return
		}
		ptr := int(payload[0])
		payload = payload[1:]
		if ptr > len(payload) {
			d.stats.DecodeErrors++
			delete(d.sections, pid)
			return
		}
		if inSection {
			d.parseSections(pid, append(buf, payload[:ptr]...))
		}
		payload = payload[ptr:]
		buf = nil
	} else if !inSection {
		return
	}
	d.parseSections(pid, append(buf, payload...))
}

// parseSections parses the complete sections at the start of buf and keeps
// an incomplete one for the next packet.
func (d *Demuxer) parseSections(pid uint16, buf []byte) {
	delete(d.sections, pid)
	for len(buf) > 0 && buf[0] != 0xff { // 0xff: stuffing up to the packet end
		if len(buf) < 3 {
			d.sections[pid] = buf
			return
		}
		size := 3 + (int(buf[1]&0x0f)<<8 | int(buf[2]))
		if size > MaxSectionSize {
			d.stats.DecodeErrors++
			return
		}
		if size > len(buf) {
			d.sections[pid] = buf
			return
		}
		var s SpliceInfoSection
		if err := s.Unmarshal(buf[:size]); err != nil {
			d.stats.DecodeErrors++
		} else if s.Insert != nil {
			in := *s.Insert
			p := pending{splice: &in, pts90: -1}
			if in.PTS >= 0 {
				p.pts90 = d.tl.unwrapFree(in.PTS)
			}
			d.events = append(d.events, p)
		}
		buf = buf[size:]
	}
}

func (d *Demuxer) drainEvents() error {
	for len(d.events) > 0 {
		e := d.events[0]
		d.events = d.events[1:]
		if err := d.push(e); err != nil {
			return err
		}
	}
	d.events = nil
	return nil
}
