package e2e

import (
	"bytes"
	"encoding/hex"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"
)

// Real parameter sets and frame headers, captured once from the ffmpeg
// command lines noted next to them (FFmpeg 5.1, x264 0.164, libvpx 1.12).
var (
	// ffmpeg -f lavfi -i testsrc2=size=640x360:rate=30 -t 1 -c:v libx264
	//   -profile:v baseline -bf 0 -g 30 -f h264 out.h264
	// Constrained Baseline, level 3.0; 640x368 coded, cropped to 640x360.
	sps640x360 = mustHex("6742c01ed900a02ff970110000030001000003003c0f162e48")
	// The PPS of the same stream.
	pps640x360 = mustHex("68cb83cb20")
	// ffmpeg -f lavfi -i testsrc2=size=320x240:rate=30 -frames:v 2
	//   -c:v libvpx -f ivf out.ivf
	// The first 16 bytes of the first (key) frame.
	vp8Key320x240 = mustHex("706e009d012a4001f000000708858588")
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func TestParseH264SPSSize(t *testing.T) {
	cases := []struct {
		name    string
		nalu    []byte
		w, h    int
		wantErr bool
	}{
		{name: "x264 640x360 cropped", nalu: sps640x360, w: 640, h: 360},
		{name: "not an SPS", nalu: pps640x360, wantErr: true},
		{name: "truncated", nalu: sps640x360[:4], wantErr: true},
		{name: "empty", nalu: nil, wantErr: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			orig := bytes.Clone(c.nalu)
			w, h, err := parseH264SPSSize(c.nalu)
			require.Equal(t, orig, c.nalu, "input mutated")
			if c.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.w, w)
			require.Equal(t, c.h, h)
		})
	}
}

func TestParseVP8KeyframeSize(t *testing.T) {
	interframe := bytes.Clone(vp8Key320x240)
	interframe[0] |= 0x01
	badStart := bytes.Clone(vp8Key320x240)
	badStart[4] = 0
	scaled := bytes.Clone(vp8Key320x240)
	scaled[7] |= 0xc0 // horizontal scale bits set: size unchanged

	cases := []struct {
		name    string
		frame   []byte
		w, h    int
		wantErr error // nil: success; errAny: any error
	}{
		{name: "libvpx 320x240 keyframe", frame: vp8Key320x240, w: 320, h: 240},
		{name: "scale bits ignored", frame: scaled, w: 320, h: 240},
		{name: "interframe", frame: interframe, wantErr: errNotVP8Keyframe},
		{name: "bad start code", frame: badStart, wantErr: errAny},
		{name: "truncated", frame: vp8Key320x240[:8], wantErr: errAny},
		{name: "empty", frame: nil, wantErr: errAny},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w, h, err := parseVP8KeyframeSize(c.frame)
			switch c.wantErr {
			case nil:
				require.NoError(t, err)
				require.Equal(t, c.w, w)
				require.Equal(t, c.h, h)
			case errAny:
				require.Error(t, err)
			default:
				require.ErrorIs(t, err, c.wantErr)
			}
		})
	}
}

// errAny marks a case that must fail with any error.
var errAny = &struct{ error }{}

// annexB joins NAL units with 4-byte start codes.
func annexB(nalus ...[]byte) []byte {
	var out []byte
	for _, n := range nalus {
		out = append(out, 0, 0, 0, 1)
		out = append(out, n...)
	}
	return out
}

// fakeSlice returns a NAL unit of the given type padded to size bytes.
func fakeSlice(typ byte, size int) []byte {
	n := bytes.Repeat([]byte{0xaa}, size)
	n[0] = 0x60 | typ
	return n
}

func TestTrackRecorderH264(t *testing.T) {
	const (
		fps    = 30
		frames = 60
		gop    = 30
	)
	frameDur := time.Second / fps
	// slowFPS is the picture rate of a sender that spends one frame
	// duration of wall time and RTP clock on each parameter set: the
	// recorder must report it as it is, not as the nominal rate.
	const slowFPS = fps * float64(gop) / (gop + 2)
	cases := []struct {
		name string
		// separateParams writes SPS and PPS as samples of their own.
		separateParams bool
		// disableStapA makes pion send parameter sets as single NAL
		// packets instead of holding them for the next slice.
		disableStapA   bool
		drop           int // index of a packet to drop (-1: none)
		wantFrames     uint64
		wantFPS        float64
		wantPictureFPS float64
		wantLost       uint64
	}{
		{
			name: "params in STAP-A with IDR", drop: -1,
			wantFrames: frames, wantFPS: fps, wantPictureFPS: fps,
		},
		{
			name: "params as own samples, held for the IDR", separateParams: true, drop: -1,
			wantFrames: frames, wantFPS: slowFPS, wantPictureFPS: slowFPS,
		},
		{
			name: "params on own timestamps", separateParams: true, disableStapA: true, drop: -1,
			wantFrames: frames + 2*frames/gop, wantFPS: fps, wantPictureFPS: slowFPS,
		},
		{
			name: "lost FU-A fragment", drop: 2,
			wantFrames: frames, wantFPS: fps, wantPictureFPS: fps, wantLost: 1,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := newTrackRecorder(TrackStats{MimeType: webrtc.MimeTypeH264, Kind: webrtc.RTPCodecTypeVideo})
			pz := rtp.NewPacketizer(1200, 96, 1234, &codecs.H264Payloader{DisableStapA: c.disableStapA},
				rtp.NewFixedSequencer(1), 90000)
			t0 := time.Unix(1000, 0)
			now := t0
			var last time.Time
			var payloadBytes uint64
			pktIdx := 0
			send := func(nalus ...[]byte) {
				for _, p := range pz.Packetize(annexB(nalus...), 90000/fps) {
					idx := pktIdx
					pktIdx++
					if idx == c.drop {
						continue
					}
					payloadBytes += uint64(len(p.Payload))
					rec.handle(p, now)
					last = now
				}
				now = now.Add(frameDur)
			}
			for i := range frames {
				if i%gop != 0 {
					send(fakeSlice(1, 500))
					continue
				}
				idr := fakeSlice(5, 3000) // fragmented into 3 FU-A packets
				if c.separateParams {
					send(sps640x360)
					send(pps640x360)
					send(idr)
				} else {
					send(sps640x360, pps640x360, idr)
				}
			}

			st := rec.snapshot(last)
			require.Equal(t, 640, st.Width)
			require.Equal(t, 360, st.Height)
			require.Equal(t, c.wantFrames, st.Frames)
			require.Equal(t, uint64(frames), st.Pictures)
			require.Equal(t, uint64(frames/gop), st.Keyframes)
			require.Equal(t, c.wantLost, st.LostPackets)
			require.Equal(t, payloadBytes, st.Bytes)
			require.Zero(t, st.DepacketizeErrors)
			// The parameter-set gaps make the rate depend on where the
			// window starts: allow one gap's worth of error.
			require.InDelta(t, c.wantFPS, st.FPS, 1)
			require.InDelta(t, c.wantPictureFPS, st.PictureFPS, 1)
			require.Positive(t, st.Bitrate)
			require.InDelta(t, 8*st.ByteRate, st.Bitrate, 1e-6)

			// Without new frames the rates decay to zero once the window
			// has passed.
			idle := rec.snapshot(last.Add(RateWindow + time.Second))
			require.Zero(t, idle.FPS)
			require.Zero(t, idle.Bitrate)
			require.Equal(t, st.Frames, idle.Frames)
		})
	}
}

func TestTrackRecorderVP8(t *testing.T) {
	rec := newTrackRecorder(TrackStats{MimeType: webrtc.MimeTypeVP8, Kind: webrtc.RTPCodecTypeVideo})
	pz := rtp.NewPacketizer(1200, 96, 1234, &codecs.VP8Payloader{EnablePictureID: true},
		rtp.NewFixedSequencer(1), 90000)
	key := append(bytes.Clone(vp8Key320x240), bytes.Repeat([]byte{0x55}, 4000)...)
	inter := bytes.Repeat([]byte{0x55}, 800)
	inter[0] = 0x01 // interframe tag
	now := time.Unix(1000, 0)
	var last time.Time
	for i := range 45 {
		frame := inter
		if i%15 == 0 {
			frame = key
		}
		for _, p := range pz.Packetize(frame, 3000) {
			rec.handle(p, now)
			last = now
		}
		now = now.Add(time.Second / 15)
	}
	st := rec.snapshot(last)
	require.Equal(t, 320, st.Width)
	require.Equal(t, 240, st.Height)
	require.Equal(t, uint64(45), st.Frames)
	require.Equal(t, uint64(45), st.Pictures)
	require.Equal(t, uint64(3), st.Keyframes)
	require.Zero(t, st.DepacketizeErrors)
	require.InDelta(t, 15, st.FPS, 0.3)
}

func TestTrackRecorderPaddingAndReorder(t *testing.T) {
	rec := newTrackRecorder(TrackStats{MimeType: webrtc.MimeTypeOpus, Kind: webrtc.RTPCodecTypeAudio})
	now := time.Unix(1000, 0)
	pkt := func(seq uint16, ts uint32, n int) *rtp.Packet {
		return &rtp.Packet{Header: rtp.Header{SequenceNumber: seq, Timestamp: ts}, Payload: make([]byte, n)}
	}
	require.True(t, rec.handle(pkt(10, 960, 100), now))
	require.False(t, rec.handle(pkt(11, 960, 0), now), "padding is not a frame")
	require.True(t, rec.handle(pkt(13, 2880, 100), now.Add(40*time.Millisecond)))
	require.False(t, rec.handle(pkt(12, 1920, 100), now.Add(41*time.Millisecond)), "late packet is not a new frame")
	st := rec.snapshot(now.Add(41 * time.Millisecond))
	require.Equal(t, uint64(3), st.Packets)
	require.Equal(t, uint64(1), st.PaddingPackets)
	require.Equal(t, uint64(300), st.Bytes)
	require.Equal(t, uint64(2), st.Frames)
	require.Equal(t, uint64(1), st.LostPackets, "seq 12 counted lost when 13 arrived")
	require.Zero(t, st.Keyframes)
}
