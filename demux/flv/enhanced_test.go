package flv

import (
	"encoding/binary"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/codec/aac"
	"github.com/tributary-ingress/tributary/codec/av1"
	"github.com/tributary-ingress/tributary/codec/h264"
	"github.com/tributary-ingress/tributary/codec/h265"
	"github.com/tributary-ingress/tributary/codec/vp9"
	"github.com/tributary-ingress/tributary/internal/testutil/demuxtest"

	"github.com/tributary-ingress/tributary/internal/testutil"
)

// FFmpeg 5.1 cannot write Enhanced RTMP, so these helpers wrap elementary
// streams made by real encoders (testdata/gen.sh) in Enhanced RTMP tags,
// byte for byte as the spec lays them out.

type tag struct {
	typ  uint8
	ts   uint32
	body []byte
}

// writeFLV writes an FLV file of tags, sorted by timestamp (stable).
func writeFLV(tags []tag) []byte {
	sort.SliceStable(tags, func(i, j int) bool { return tags[i].ts < tags[j].ts })
	out := []byte{'F', 'L', 'V', 1, 0x05, 0, 0, 0, 9, 0, 0, 0, 0}
	for _, t := range tags {
		n := len(t.body)
		out = append(out, t.typ, byte(n>>16), byte(n>>8), byte(n),
			byte(t.ts>>16), byte(t.ts>>8), byte(t.ts), byte(t.ts>>24), 0, 0, 0)
		out = append(out, t.body...)
		out = binary.BigEndian.AppendUint32(out, uint32(11+n))
	}
	return out
}

func msAt(i, num, den int) uint32 { return uint32(i * num * 1000 / den) }

// exVideo builds an ExVideoTagHeader body: frame type, packet type,
// optional ModEx nanosecond offset, FourCC, payload.
func exVideo(key bool, pt uint8, fcc string, nano int, payload []byte) []byte {
	ft := byte(2)
	if key {
		ft = 1
	}
	var b []byte
	if nano > 0 {
		b = append(b, 0x80|ft<<4|videoPacketModEx, 2, byte(nano>>16), byte(nano>>8), byte(nano), modExTypeTimestampOffsetNano<<4|pt)
	} else {
		b = append(b, 0x80|ft<<4|pt)
	}
	b = append(b, fcc...)
	return append(b, payload...)
}

func exAudio(pt uint8, fcc string, payload []byte) []byte {
	b := append([]byte{soundFormatExHeader<<4 | pt}, fcc...)
	return append(b, payload...)
}

// buildHEVCOpus wraps testdata/hevc.h265 (x265, AUDs) as hvc1 and
// synthetic Opus packets (TOC 0xFC: CELT FB 20 ms stereo) as Opus.
// Even frames use CodedFrames with a zero composition offset, odd ones
// CodedFramesX; frame 5 carries a ModEx offset of 0.5 ms.
func buildHEVCOpus(t testing.TB) []byte {
	nalus, err := h264.SplitAnnexB(demuxtest.ReadTestdata(t, "hevc.h265"))
	require.NoError(t, err)
	var aus [][][]byte
	var vps, sps, pps []byte
	for _, n := range nalus {
		switch h265.Type(n) {
		case 35: // AUD starts an access unit
			aus = append(aus, nil)
			continue
		case h265.NALUTypeVPS:
			vps = n
		case h265.NALUTypeSPS:
			sps = n
		case h265.NALUTypePPS:
			pps = n
		}
		aus[len(aus)-1] = append(aus[len(aus)-1], n)
	}
	hvcc := make([]byte, 23)
	hvcc[0], hvcc[1], hvcc[12], hvcc[21], hvcc[22] = 1, 1, 60, 0x0f, 3
	for _, ps := range [][]byte{vps, sps, pps} {
		hvcc = append(hvcc, 0x80|byte(h265.Type(ps)), 0, 1, byte(len(ps)>>8), byte(len(ps)))
		hvcc = append(hvcc, ps...)
	}
	tags := []tag{{tagTypeVideo, 0, exVideo(true, videoPacketSequenceStart, "hvc1", 0, hvcc)}}
	for i, au := range aus {
		data, err := h264.JoinAVCC(au)
		require.NoError(t, err)
		key := h265.IsKeyframe(au)
		nano := 0
		if i == 5 {
			nano = 500_000
		}
		if i%2 == 0 {
			tags = append(tags, tag{tagTypeVideo, msAt(i, 1, 30), exVideo(key, videoPacketCodedFrames, "hvc1", nano, append([]byte{0, 0, 0}, data...))})
		} else {
			tags = append(tags, tag{tagTypeVideo, msAt(i, 1, 30), exVideo(key, videoPacketCodedFramesX, "hvc1", nano, data)})
		}
	}
	head := []byte("OpusHead")
	head = append(head, 1, 2, 0x38, 0x01, 0x80, 0xbb, 0, 0, 0, 0, 0)
	tags = append(tags, tag{tagTypeAudio, 0, exAudio(audioPacketSequenceStart, "Opus", head)})
	for i := range 25 {
		pkt := append([]byte{0xfc}, make([]byte, 40)...)
		pkt[1] = byte(i)
		tags = append(tags, tag{tagTypeAudio, uint32(i * 20), exAudio(audioPacketCodedFrames, "Opus", pkt)})
	}
	return writeFLV(tags)
}

// buildAV1AAC wraps testdata/av1.ivf (libaom) as av01, temporal
// delimiters stripped, and synthetic AAC frames as mp4a (48 kHz stereo).
func buildAV1AAC(t testing.TB) []byte {
	frames := testutil.IVFFrames(t, demuxtest.ReadTestdata(t, "av1.ivf"))
	var seqHdr []byte
	tags := []tag{}
	for i, tu := range frames {
		var out []byte
		for b := tu; len(b) > 0; {
			typ := (b[0] >> 3) & 0x0f
			size, n := uint64(0), 0
			for n < 8 {
				size |= uint64(b[1+n]&0x7f) << (7 * n)
				n++
				if b[n]&0x80 == 0 {
					break
				}
			}
			obu := b[:1+n+int(size)]
			b = b[len(obu):]
			if typ == 1 && seqHdr == nil {
				seqHdr = obu
			}
			if typ != 2 { // drop temporal delimiters
				out = append(out, obu...)
			}
		}
		tags = append(tags, tag{tagTypeVideo, msAt(i, 1, 30), exVideo(av1.ContainsSequenceHeader(out), videoPacketCodedFrames, "av01", 0, out)})
	}
	require.NotNil(t, seqHdr)
	av1c := append([]byte{0x81, 0x00, 0x0c, 0x00}, seqHdr...)
	tags = append([]tag{{tagTypeVideo, 0, exVideo(true, videoPacketSequenceStart, "av01", 0, av1c)}}, tags...)
	asc, err := aac.MarshalConfig(aac.ObjectTypeLC, 48000, 2)
	require.NoError(t, err)
	tags = append(tags, tag{tagTypeAudio, 0, exAudio(audioPacketSequenceStart, "mp4a", asc)})
	for i := range 24 {
		tags = append(tags, tag{tagTypeAudio, msAt(i, 1024, 48000), exAudio(audioPacketCodedFrames, "mp4a", []byte{0x21, 0x10, byte(i), 0x80})})
	}
	return writeFLV(tags)
}

// buildVP9MP3 wraps testdata/vp9.ivf (libvpx) as vp09, using the three
// packet layouts in turn: plain, multitrack OneTrack (track 0), and
// multitrack ManyTracks with a second track 1 that must be dropped. The
// MP3 frames of h264_main_mp3.flv ride along as '.mp3'.
func buildVP9MP3(t testing.TB) []byte {
	vpcc := []byte{0, 10, 8<<4 | 1<<1, 1, 1, 1, 0, 0}
	tags := []tag{{tagTypeVideo, 0, exVideo(true, videoPacketSequenceStart, "vp09", 0, vpcc)}}
	for i, fr := range testutil.IVFFrames(t, demuxtest.ReadTestdata(t, "vp9.ivf")) {
		info, err := vp9.ParseFrame(fr)
		require.NoError(t, err)
		ft := byte(2)
		if info.Key {
			ft = 1
		}
		var body []byte
		switch i % 3 {
		case 0:
			body = exVideo(info.Key, videoPacketCodedFrames, "vp09", 0, fr)
		case 1:
			body = append([]byte{0x80 | ft<<4 | videoPacketMultitrack, multitrackOneTrack<<4 | videoPacketCodedFrames}, "vp09"...)
			body = append(append(body, 0), fr...)
		case 2:
			body = append([]byte{0x80 | ft<<4 | videoPacketMultitrack, multitrackManyTracks<<4 | videoPacketCodedFrames}, "vp09"...)
			body = append(body, 1, 0, 0, 3, 0xaa, 0xbb, 0xcc)
			body = append(body, 0, byte(len(fr)>>16), byte(len(fr)>>8), byte(len(fr)))
			body = append(body, fr...)
		}
		tags = append(tags, tag{tagTypeVideo, msAt(i, 1, 30), body})
	}
	src := demuxtest.ReadTestdata(t, "h264_main_mp3.flv")
	for p := 13; p+11 <= len(src); {
		n := int(src[p+1])<<16 | int(src[p+2])<<8 | int(src[p+3])
		ts := uint32(src[p+7])<<24 | uint32(src[p+4])<<16 | uint32(src[p+5])<<8 | uint32(src[p+6])
		if src[p] == tagTypeAudio && ts < 500 {
			tags = append(tags, tag{tagTypeAudio, ts, exAudio(audioPacketCodedFrames, ".mp3", src[p+12:p+11+n])})
		}
		p += 11 + n + 4
	}
	return writeFLV(tags)
}
