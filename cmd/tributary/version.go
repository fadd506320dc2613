package main

import (
	"fmt"
	"io"
	"maps"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/tributary-ingress/tributary/transcode"
)

// The build's identity, set by scripts/release.sh:
//
//	-ldflags "-X main.version=... -X main.commit=..."
//
// Without them, the Go toolchain's own record of the module and the VCS
// state is used.
var (
	version string
	commit  string
)

// buildIdentity returns the version and commit of this binary.
func buildIdentity() (ver, rev string) {
	ver, rev = version, commit
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return or(ver, "unknown"), or(rev, "unknown")
	}
	if ver == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		ver = bi.Main.Version
	}
	if rev == "" {
		var modified bool
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if rev != "" && modified {
			rev += "-dirty"
		}
	}
	return or(ver, "devel"), or(rev, "unknown")
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// printVersion writes this binary's `--version` report to w.
func printVersion(w io.Writer) {
	ver, rev := buildIdentity()
	writeVersion(w, ver, rev, transcode.Build())
}

// passthroughServes is what the build without transcoding serves; README
// "Deploy" and docs/passthrough.md say the same.
const passthroughServes = `transcoding: not in this build (the passthrough build: made without cgo, no FFmpeg)
serves:      WHIP, forwarded as published; RTMP, SRT and URL sources that are
             already WebRTC-ready: H.264 without B-frames, VP8, VP9, AV1 or
             H.265 video, Opus audio. AAC or MP3 audio is not published (the
             video is, with a warning in the ingress state); an ingress with
             transcoding enabled, or H.264 with B-frames, ends in ERROR.
to transcode: run the tributary-linux-amd64 build
`

// writeVersion prints what `tributary --version` shows: the build's
// identity and, for a build with transcoding, the linked codec libraries
// and which of Tributary's codecs they decode and encode.
func writeVersion(w io.Writer, ver, rev string, b transcode.BuildInfo) {
	fmt.Fprintf(w, "tributary %s\n", ver)
	fmt.Fprintf(w, "commit:      %s\n", rev)
	fmt.Fprintf(w, "go:          %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if !b.Transcoding {
		fmt.Fprint(w, passthroughServes)
		return
	}
	linking := "shared libraries (" + b.LibavcodecPath + ")"
	if b.Static {
		linking = "linked statically"
	}
	fmt.Fprintf(w, "transcoding: yes, FFmpeg %s\n", linking)
	for _, l := range b.Libraries {
		fmt.Fprintf(w, "  %-14s %s\n", l.Name, l.Version)
	}
	var missing []string
	av1 := false
	line := func(label string, m map[transcode.Codec]string) {
		var parts []string
		for _, c := range slices.Sorted(maps.Keys(m)) {
			name := m[c]
			switch {
			case name == "":
				missing = append(missing, fmt.Sprintf("%s %s", c, strings.TrimSuffix(label, "s")))
				av1 = av1 || c.String() == "av1"
				continue
			case name == c.String():
				parts = append(parts, name)
			default:
				parts = append(parts, fmt.Sprintf("%s (%s)", c, name))
			}
		}
		fmt.Fprintf(w, "%-12s %s\n", label+":", strings.Join(parts, " "))
	}
	line("decoders", b.Decoders)
	line("encoders", b.Encoders)
	if len(missing) > 0 {
		note := "not in this build: " + strings.Join(missing, ", ")
		if av1 {
			note += " (AV1 needs libdav1d; AV1 sources are still forwarded without transcoding)"
		}
		fmt.Fprintln(w, note)
	}
}
