// Command transcodebench runs Tributary's transcoder on an FLV file as fast
// as it can and prints what it cost, as one JSON line:
//
//	transcodebench -i src-1080p30-high.flv
//	{"input":"…","media_seconds":30,"cpu_seconds":12.3,"cpu_per_media_second":0.41,"max_rss_mib":88.1,…}
//
// The work is what a transcoding RTMP session does: the default video
// preset's layers fitted to the source (simulcast.ResolveVideo(nil).Fit),
// H.264 via transcode.NewVideo in blocking mode, and the audio to Opus
// stereo 96 kbps via transcode.NewAudio. SPS/PPS are put in front of
// keyframes as the session does. Outputs are counted and discarded.
//
// -pause 1,2 pauses layers from the start (0 is the lowest), as LiveKit's
// dynacast does for layers nobody receives: "-pause 1,2" is a room whose
// viewers all watch LOW, "-pause 0,1,2" a room with nobody in it.
//
// -reuse=false encodes the top layer even when the source could be sent
// as it (top-layer reuse, on by default as in a session; see
// transcode/reuse.go): benchmarks/reuse.sh compares the two.
//
// -isolate BIN runs the transcoders in a child process of BIN (the
// tributary binary: its transcode-child subcommand), as a session with
// isolate_transcoding does; CPU then includes the child's
// (RUSAGE_CHILDREN) and child_max_rss_mib is reported.
//
// CPU is getrusage(RUSAGE_SELF) user+sys, which includes every thread of
// the process (Go and the codec libraries' own threads); peak RSS is
// ru_maxrss.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/livekit/protocol/logger"

	"github.com/tributary-ingress/tributary/codec/h264"
	"github.com/tributary-ingress/tributary/demux/flv"
	"github.com/tributary-ingress/tributary/internal/isolate"
	"github.com/tributary-ingress/tributary/media"
	"github.com/tributary-ingress/tributary/pipeline"
	"github.com/tributary-ingress/tributary/simulcast"
	"github.com/tributary-ingress/tributary/transcode"
)

// Result is the JSON line printed.
type Result struct {
	Input             string   `json:"input"`
	Layers            []string `json:"layers"`
	MediaSeconds      float64  `json:"media_seconds"`
	WallSeconds       float64  `json:"wall_seconds"`
	UserSeconds       float64  `json:"user_seconds"`
	SysSeconds        float64  `json:"sys_seconds"`
	CPUSeconds        float64  `json:"cpu_seconds"`
	CPUPerMediaSecond float64  `json:"cpu_per_media_second"`
	MaxRSSMiB         float64  `json:"max_rss_mib"`
	ChildMaxRSSMiB    float64  `json:"child_max_rss_mib,omitempty"`
	SourceFrames      int      `json:"source_video_frames"`
	LayerFrames       []int64  `json:"layer_frames"`
	LayerBytes        []int64  `json:"layer_bytes"`
	OpusFrames        int64    `json:"opus_frames"`
}

func main() {
	in := flag.String("i", "", "input FLV file (H.264 + AAC)")
	audioBitrate := flag.Int("audio-bitrate", 96000, "Opus bitrate")
	noAudio := flag.Bool("no-audio", false, "skip the audio")
	pauseList := flag.String("pause", "", "layers to pause from the start, e.g. 1,2 (0 is the lowest)")
	isolateBin := flag.String("isolate", "", "transcode in a child process of this tributary binary")
	reuse := flag.Bool("reuse", true, "send a source that already is the top layer as that layer (transcoding_reuse_top_layer)")
	flag.Parse()
	if *in == "" {
		fail(errors.New("-i is required"))
	}
	var pause []int
	for _, p := range strings.Split(*pauseList, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		i, err := strconv.Atoi(p)
		if err != nil || i < 0 {
			fail(fmt.Errorf("-pause: %q is not a layer index", p))
		}
		pause = append(pause, i)
	}
	res, err := run(*in, *audioBitrate, *noAudio, pause, *isolateBin, *reuse)
	if err != nil {
		fail(err)
	}
	b, _ := json.Marshal(res)
	fmt.Println(string(b))
}

// videoTranscoder and audioTranscoder are what the benchmark drives: the
// transcode package in process, or the isolate package's child process.
type videoTranscoder interface {
	Write(*media.Frame) error
	SetLayerActive(int, bool)
	Close() error
}

type audioTranscoder interface {
	Write(*media.Frame) error
	Close() error
}

func run(path string, audioBitrate int, noAudio bool, pause []int, isolateBin string, reuse bool) (*Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	log := logger.GetLogger()

	res := &Result{Input: path}
	var (
		video      videoTranscoder
		audio      audioTranscoder
		params     [][]byte
		layers     []simulcast.Layer
		frames     []atomic.Int64
		bytes      []atomic.Int64
		opusFrames atomic.Int64
		firstPTS   int64 = -1
		lastPTS    int64
		frameDur   int64 = 3000
	)
	var isolated *isolate.ChildTranscoders
	if isolateBin != "" {
		isolated = &isolate.ChildTranscoders{Bin: isolateBin, Blocking: true, ReuseTop: reuse, Logger: log}
	}
	start := time.Now()

	d := &flv.Demuxer{
		OnTrack: func(t *media.Track) error {
			switch t.Kind {
			case media.KindVideo:
				if video != nil {
					return errors.New("video reconfigured mid-file: not supported by the benchmark")
				}
				if t.Codec != media.CodecH264 {
					return fmt.Errorf("video is %s, want H.264", t.Codec)
				}
				var dc h264.DecoderConfig
				if err := dc.Unmarshal(t.Config); err != nil {
					return fmt.Errorf("avcC: %w", err)
				}
				params = append(append([][]byte{}, dc.SPS...), dc.PPS...)
				plan, err := simulcast.ResolveVideo(nil)
				if err != nil {
					return err
				}
				layers = plan.Fit(uint32(t.Width), uint32(t.Height))
				tl := make([]transcode.LayerTarget, len(layers))
				for i, l := range layers {
					tl[i] = transcode.LayerTarget{Width: int(l.Width), Height: int(l.Height), Bitrate: int(l.Bitrate)}
					res.Layers = append(res.Layers, fmt.Sprintf("%dx%d@%d", l.Width, l.Height, l.Bitrate))
				}
				frames = make([]atomic.Int64, len(tl))
				bytes = make([]atomic.Int64, len(tl))
				output := func(i int, f *media.Frame) {
					frames[i].Add(1)
					for _, n := range f.Data {
						bytes[i].Add(int64(len(n)))
					}
				}
				if isolated != nil {
					video, err = isolated.NewVideo(pipeline.VideoTranscodeConfig{
						Source: t, Codec: media.CodecH264, FrameRate: plan.FrameRate, Layers: layers, Output: output, Logger: log,
					})
				} else {
					video, err = transcode.NewVideo(transcode.VideoConfig{
						Source: t, Codec: media.CodecH264, MaxFrameRate: plan.FrameRate, Layers: tl,
						Blocking: true, ReuseTop: reuse, Logger: log, Output: output,
					})
				}
				if err != nil {
					return err
				}
				for _, i := range pause {
					if i >= len(tl) {
						return fmt.Errorf("-pause: no layer %d (the source gives %d)", i, len(tl))
					}
					video.SetLayerActive(i, false)
				}
				return nil
			case media.KindAudio:
				if noAudio || audio != nil {
					return nil
				}
				var err error
				output := func(*media.Frame) { opusFrames.Add(1) }
				if isolated != nil {
					audio, err = isolated.NewAudio(pipeline.AudioTranscodeConfig{
						Source: t, Channels: 2, Bitrate: audioBitrate, Output: output, Logger: log,
					})
				} else {
					audio, err = transcode.NewAudio(transcode.AudioConfig{
						Source: t, Channels: 2, Bitrate: audioBitrate, Logger: log, Output: output,
					})
				}
				return err
			}
			return nil
		},
		OnFrame: func(f *media.Frame) error {
			switch f.Track.Kind {
			case media.KindVideo:
				if video == nil {
					return nil
				}
				res.SourceFrames++
				if firstPTS < 0 {
					firstPTS = f.PTS
				}
				if f.PTS > lastPTS {
					lastPTS = f.PTS
				}
				return video.Write(withParams(params, f))
			case media.KindAudio:
				if audio == nil {
					return nil
				}
				return audio.Write(f)
			}
			return nil
		},
	}
	r := &flv.Reader{R: f, Demuxer: d}
	if err := r.Initialize(); err != nil {
		return nil, err
	}
	for {
		err := r.ReadTag()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if video == nil {
		return nil, errors.New("no H.264 video in the file")
	}
	if err := video.Close(); err != nil {
		return nil, err
	}
	if audio != nil {
		if err := audio.Close(); err != nil {
			return nil, err
		}
	}
	res.WallSeconds = time.Since(start).Seconds()

	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return nil, err
	}
	res.UserSeconds = tv(ru.Utime)
	res.SysSeconds = tv(ru.Stime)
	if isolated != nil {
		// The child has exited with the last transcoder closed.
		var rc syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &rc); err != nil {
			return nil, err
		}
		res.UserSeconds += tv(rc.Utime)
		res.SysSeconds += tv(rc.Stime)
		res.ChildMaxRSSMiB = float64(rc.Maxrss) / 1024
	}
	res.CPUSeconds = res.UserSeconds + res.SysSeconds
	res.MaxRSSMiB = float64(ru.Maxrss) / 1024 // kilobytes on Linux
	if res.SourceFrames > 1 {
		frameDur = (lastPTS - firstPTS) / int64(res.SourceFrames-1)
	}
	res.MediaSeconds = float64(lastPTS-firstPTS+frameDur) / 90000
	res.CPUPerMediaSecond = res.CPUSeconds / res.MediaSeconds
	for i := range frames {
		res.LayerFrames = append(res.LayerFrames, frames[i].Load())
		res.LayerBytes = append(res.LayerBytes, bytes[i].Load())
	}
	res.OpusFrames = opusFrames.Load()
	return res, nil
}

// withParams puts the SPS/PPS before a keyframe that lacks them, as
// session/outputs.go does.
func withParams(params [][]byte, f *media.Frame) *media.Frame {
	if !f.Key || len(params) == 0 {
		return f
	}
	for _, n := range f.Data {
		if h264.Type(n) == h264.NALUTypeSPS {
			return f
		}
	}
	g := *f
	g.Data = make([][]byte, 0, len(params)+len(f.Data))
	g.Data = append(append(g.Data, params...), f.Data...)
	return &g
}

func tv(t syscall.Timeval) float64 {
	return float64(t.Sec) + float64(t.Usec)/1e6
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "transcodebench:", err)
	os.Exit(1)
}
