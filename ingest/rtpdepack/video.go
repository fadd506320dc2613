package rtpdepack

import (
	"errors"
	"fmt"

	"github.com/bluenviron/gortsplib/v4/pkg/format"
	mcav1 "github.com/bluenviron/mediacommon/v2/pkg/codecs/av1"
	mch264 "github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	mch265 "github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	mcvp9 "github.com/bluenviron/mediacommon/v2/pkg/codecs/vp9"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"

	"github.com/tributary-ingress/tributary/codec/av1"
	"github.com/tributary-ingress/tributary/codec/paramsets"
	"github.com/tributary-ingress/tributary/codec/vp8"
	"github.com/tributary-ingress/tributary/codec/vp9"
	"github.com/tributary-ingress/tributary/media"
)

// videoClockRate is the RTP clock of every video payload format (and the
// unit of media.Frame times for video).
const videoClockRate = 90000

// dtsExtractor computes the decoding time of an H.264 or H.265 access
// unit (mediacommon's).
type dtsExtractor interface {
	Extract(au [][]byte, pts int64) (int64, error)
}

// videoState describes a video track as its units reveal it.
type videoState struct {
	// H.264 and H.265: the parameter sets of the current track (from the
	// SDP, then in band) and the DTS extractor, nil until a random-access
	// unit.
	params paramsets.Sets
	newDTS func() dtsExtractor
	dts    dtsExtractor
	ann    paramsets.Sets // the sets of cur

	// cur is the announced track, nil before the first description.
	cur *media.Track

	// VP9: the frames of the picture being assembled (see vp9Frame), and
	// the size the scalability structure of the picture at ssTS gave its
	// top spatial layer (ssW 0: none).
	vp9      [][]byte
	vp9TS    uint32
	vp9PTS   int64
	ssTS     uint32
	ssW, ssH int
}

// vp9Structure reads the scalability structure (SS) a VP9 packet's
// payload descriptor may carry (browsers send it with each keyframe):
// with spatial layers, the keyframe's frame is the lowest layer's, and the
// track is as large as the top layer. It describes the picture of its
// packet only; sizes over vp8.MaxDimension (VP9 has no smaller limit of
// its own) are ignored.
func (t *TrackDepacketizer) vp9Structure(pkt *rtp.Packet) {
	if len(pkt.Payload) == 0 || pkt.Payload[0]&0x02 == 0 { // V: SS present
		return
	}
	var d codecs.VP9Packet
	if _, err := d.Unmarshal(pkt.Payload); err != nil || !d.V || !d.Y || len(d.Width) == 0 || len(d.Height) != len(d.Width) {
		return
	}
	w, h := int(d.Width[len(d.Width)-1]), int(d.Height[len(d.Height)-1])
	if w > 0 && h > 0 && w <= vp8.MaxDimension && h <= vp8.MaxDimension {
		t.video.ssTS, t.video.ssW, t.video.ssH = pkt.Timestamp, w, h
	}
}

// vp9Frame takes one VP9 frame. A scalable (SVC) sender sends each
// spatial layer of a picture as a frame of its own, all with the
// picture's RTP timestamp, the marker bit on the last packet of the
// picture (RFC 9628); decoding one of them alone gives that layer's
// picture, and the upper layers need the lower ones. The frames of one
// picture are therefore handed over together, as one VP9 superframe (the
// way a file carries them), when the marker ends the picture or, from a
// sender that does not set it, when the next picture starts. A picture
// of one frame (no SVC) with the marker goes as it came, without delay.
// At most vp9.MaxSuperframeFrames frames of mcvp9.MaxFrameSize (2 MiB)
// in all make a picture, as one frame may be: more is damage.
func (t *TrackDepacketizer) vp9Frame(frame []byte, ts uint32, pts int64, end bool, sink Sink) error {
	v := t.video
	if len(v.vp9) > 0 && ts != v.vp9TS {
		if err := t.vp9Picture(sink); err != nil {
			return err
		}
	}
	if len(v.vp9) == 0 {
		v.vp9TS, v.vp9PTS = ts, pts
		if end {
			return t.videoUnit([][]byte{frame}, pts, sink)
		}
	}
	size := len(frame)
	for _, f := range v.vp9 {
		size += len(f)
	}
	if len(v.vp9) == vp9.MaxSuperframeFrames || size > mcvp9.MaxFrameSize {
		v.vp9 = nil
		t.damaged()
		return nil
	}
	// Held past this packet: a copy, the packet's buffer is the caller's.
	v.vp9 = append(v.vp9, append([]byte(nil), frame...))
	if end {
		return t.vp9Picture(sink)
	}
	return nil
}

// vp9Picture hands over the frames of the picture being assembled.
func (t *TrackDepacketizer) vp9Picture(sink Sink) error {
	v := t.video
	frames := v.vp9
	v.vp9 = nil
	data, err := vp9.JoinSuperframe(frames)
	if err != nil {
		t.damaged()
		return nil
	}
	return t.videoUnit([][]byte{data}, v.vp9PTS, sink)
}

func (t *TrackDepacketizer) initVideo() error {
	v := &videoState{}
	t.kind, t.video = media.KindVideo, v
	switch f := t.conf.Format.(type) {
	case *format.H264:
		t.codec, t.flushesOnTS = media.CodecH264, true
		v.params = paramsets.Sets{SPS: f.SPS, PPS: f.PPS}
		v.newDTS = func() dtsExtractor { e := &mch264.DTSExtractor{}; e.Initialize(); return e }
		t.newDec = func() (decoder, error) { return f.CreateDecoder() }
	case *format.H265:
		t.codec, t.flushesOnTS = media.CodecH265, true
		v.params = paramsets.Sets{VPS: f.VPS, SPS: f.SPS, PPS: f.PPS}
		v.newDTS = func() dtsExtractor { e := &mch265.DTSExtractor{}; e.Initialize(); return e }
		t.newDec = func() (decoder, error) { return f.CreateDecoder() }
	case *format.VP8:
		t.codec = media.CodecVP8
		t.newDec = func() (decoder, error) {
			d, err := f.CreateDecoder()
			return oneFrame{d: d}, err
		}
	case *format.VP9:
		t.codec = media.CodecVP9
		t.newDec = func() (decoder, error) {
			d, err := f.CreateDecoder()
			return oneFrame{d: d}, err
		}
	case *format.AV1:
		t.codec = media.CodecAV1
		t.newDec = func() (decoder, error) { return f.CreateDecoder() }
	}
	return nil
}

// videoUnit hands over one unit: it announces a track when the unit
// describes a new one, and waits for a keyframe before the first frame.
func (t *TrackDepacketizer) videoUnit(units [][]byte, pts int64, sink Sink) error {
	switch t.codec {
	case media.CodecH264, media.CodecH265:
		return t.accessUnit(units, pts, sink)
	}
	v := t.video
	var data []byte
	var key bool
	var w, h int
	switch t.codec {
	case media.CodecVP8:
		data = units[0]
		if key = vp8.IsKeyframe(data); key {
			var err error
			if w, h, err = vp8.ParseKeyframeSize(data); err != nil {
				t.damaged()
				return nil
			}
		}
	case media.CodecVP9:
		// A superframe's first frame is its lowest layer: a keyframe
		// starts a picture, and its size is the track's.
		data = units[0]
		info, err := vp9.ParseFrame(data)
		if err != nil {
			t.damaged()
			return nil
		}
		key, w, h = info.Key, info.Width, info.Height
		if key && v.ssW > 0 && v.ssTS == v.vp9TS && v.ssW*v.ssH > w*h {
			w, h = v.ssW, v.ssH // the top spatial layer's
		}
	case media.CodecAV1:
		// The RTP payload carries the OBUs without their size fields;
		// frames are in the low-overhead format (with them), as the
		// other inputs give AV1. mediacommon refuses OBUs with an
		// extension header (scalable streams), which are dropped.
		var err error
		if data, err = mcav1.Bitstream(units).Marshal(); err != nil {
			t.damaged()
			return nil
		}
		if key = mcav1.IsRandomAccess2(units); key {
			if w, h, err = av1Size(units); err != nil {
				t.damaged()
				return nil
			}
		}
	}
	if key && (v.cur == nil || v.cur.Width != w || v.cur.Height != h) {
		v.cur = &media.Track{ID: t.conf.ID, Kind: media.KindVideo, Codec: t.codec, ClockRate: videoClockRate, Width: w, Height: h}
		if err := sink.Track(v.cur); err != nil {
			return err
		}
	}
	if v.cur == nil || (t.waitKey && !key) {
		t.wantKeyframe() // no track before the first keyframe
		return nil
	}
	t.waitKey = false
	return sink.Frame(&media.Frame{Track: v.cur, PTS: pts, DTS: pts, Key: key, Data: [][]byte{data}})
}

// av1Size reads the frame size of the sequence header of a temporal unit.
func av1Size(obus [][]byte) (w, h int, err error) {
	for _, obu := range obus {
		if len(obu) == 0 || mcav1.OBUType((obu[0]>>3)&0xf) != mcav1.OBUTypeSequenceHeader {
			continue
		}
		var sh mcav1.SequenceHeader
		if err := sh.Unmarshal(obu); err != nil {
			return 0, 0, fmt.Errorf("AV1 sequence header: %w", err)
		}
		if sh.Width() > av1.MaxDimension || sh.Height() > av1.MaxDimension {
			return 0, 0, fmt.Errorf("AV1 sequence header gives an invalid size %dx%d", sh.Width(), sh.Height())
		}
		return sh.Width(), sh.Height(), nil
	}
	return 0, 0, errors.New("AV1 random-access unit without a sequence header")
}

// accessUnit hands over an H.264 or H.265 access unit: it announces a
// track when the parameter sets are first known or change, and waits for
// a random-access unit before the first frame.
func (t *TrackDepacketizer) accessUnit(au [][]byte, pts int64, sink Sink) error {
	v := t.video
	found, key := paramsets.Scan(t.codec, au, paramsets.Sets{})
	v.params = v.params.With(found)
	if err := t.announceParams(sink); err != nil {
		return err
	}
	if v.cur == nil {
		t.wantKeyframe() // no parameter sets yet
		return nil
	}
	if v.dts == nil || t.waitKey {
		if !key {
			t.wantKeyframe() // wait for a random-access unit
			return nil
		}
		if v.dts == nil {
			v.dts = v.newDTS()
		}
		t.waitKey = false
	}
	if key && found.SPS == nil {
		// Parameter sets only in the SDP: put them in front of every
		// random-access unit, where the DTS extractor and decoders
		// joining mid-stream look for them.
		au = append(v.params.List(t.codec), au...)
	}
	dts, err := v.dts.Extract(au, pts)
	if err != nil {
		// A broken reference chain (a lost packet): start again at the
		// next random-access unit.
		v.dts = nil
		t.damaged()
		return nil
	}
	return sink.Frame(&media.Frame{Track: v.cur, PTS: pts, DTS: dts, Key: key, Data: au})
}

// announceParams announces the H.264 or H.265 track when its parameter
// sets are complete and differ from the announced ones.
func (t *TrackDepacketizer) announceParams(sink Sink) error {
	v := t.video
	if !v.params.Complete(t.codec) {
		return nil
	}
	if v.cur != nil && v.params.Equal(v.ann) {
		return nil
	}
	nt := &media.Track{ID: t.conf.ID, Kind: media.KindVideo, Codec: t.codec, ClockRate: videoClockRate}
	var err error
	if nt.Width, nt.Height, nt.Config, err = paramsets.Config(t.codec, v.params); err != nil {
		return fmt.Errorf("the RTP stream's %w", err)
	}
	v.cur, v.ann = nt, v.params
	v.dts = nil // a new sequence starts at a random-access unit
	return sink.Track(nt)
}
