package whip

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// maxRIDs bounds the simulcast encodings of the video: a room track has
// at most three layers (HIGH, MEDIUM, LOW).
const maxRIDs = 3

// ErrBadOffer is wrapped by every reason an offer is refused (HTTP 400).
var ErrBadOffer = errors.New("bad offer")

// offer is what the WHIP endpoint needs from a client's SDP offer.
type offer struct {
	raw   string
	video *offeredMedia
	audio *offeredMedia
}

// offeredMedia is one media section: the codecs in the client's order of
// preference and, for simulcast video, the RIDs in offer order.
type offeredMedia struct {
	mid    string
	codecs []webrtc.RTPCodecParameters
	rids   []string
}

// supported codecs per kind, in the names users know.
var (
	videoMimes = []string{webrtc.MimeTypeVP8, webrtc.MimeTypeH264, webrtc.MimeTypeVP9, webrtc.MimeTypeAV1}
	audioMimes = []string{webrtc.MimeTypeOpus}
	// G.711 is taken when the session transcodes its audio to Opus (a
	// LiveKit room carries Opus): see Transcoder.
	g711Mimes = []string{webrtc.MimeTypePCMA, webrtc.MimeTypePCMU}
	// Codecs that are not media (retransmission, FEC, comfort noise,
	// DTMF): ignored when looking for a usable codec.
	auxCodecs = []string{"rtx", "red", "ulpfec", "flexfec-03", "cn", "telephone-event"}
)

// parseOffer parses an offer and checks its shape: at most one audio and
// one video section, at most three simulcast RIDs. Codecs are checked by
// check, once the publish is authorized, so that the ingress records why
// its publisher was refused.
func parseOffer(raw string) (*offer, error) {
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(raw); err != nil {
		return nil, fmt.Errorf("%w: the body is not an SDP offer: %v", ErrBadOffer, err)
	}
	o := &offer{raw: raw}
	for _, md := range sd.MediaDescriptions {
		kind := md.MediaName.Media
		if kind != "audio" && kind != "video" {
			continue // data channels are not used by WHIP
		}
		if md.MediaName.Port.Value == 0 {
			continue // rejected/disabled section
		}
		if _, ok := md.Attribute("recvonly"); ok {
			return nil, fmt.Errorf("%w: the %s section is recvonly: WHIP clients send media (sendonly)", ErrBadOffer, kind)
		}
		m, err := parseMedia(md)
		if err != nil {
			return nil, err
		}
		target := &o.video
		if kind == "audio" {
			target = &o.audio
		}
		if *target != nil {
			return nil, fmt.Errorf("%w: the offer has more than one %s section: Tributary takes one audio and one video track", ErrBadOffer, kind)
		}
		*target = m
	}
	if o.video == nil && o.audio == nil {
		return nil, fmt.Errorf("%w: the offer has no audio or video section", ErrBadOffer)
	}
	return o, nil
}

// check refuses an offer without a supported codec in a section, naming
// what was offered.
func (o *offer) check(g711 bool) error {
	if o.video != nil {
		if err := checkCodecs("video", o.video.codecs, g711); err != nil {
			return err
		}
	}
	if o.audio != nil {
		return checkCodecs("audio", o.audio.codecs, g711)
	}
	return nil
}

func parseMedia(md *sdp.MediaDescription) (*offeredMedia, error) {
	m := &offeredMedia{}
	m.mid, _ = md.Attribute("mid")
	rtpmaps := map[uint8]webrtc.RTPCodecParameters{}
	for _, a := range md.Attributes {
		switch a.Key {
		case "rtpmap":
			pt, c, ok := parseRTPMap(md.MediaName.Media, a.Value)
			if ok {
				rtpmaps[pt] = c
			}
		}
	}
	for _, a := range md.Attributes {
		pt, rest, ok := strings.Cut(a.Value, " ")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(pt, 10, 8)
		if err != nil {
			continue
		}
		c, found := rtpmaps[uint8(n)]
		if !found {
			continue
		}
		switch a.Key {
		case "fmtp":
			c.SDPFmtpLine = rest
		case "rtcp-fb":
			typ, param, _ := strings.Cut(rest, " ")
			c.RTCPFeedback = append(c.RTCPFeedback, webrtc.RTCPFeedback{Type: typ, Parameter: param})
		}
		rtpmaps[uint8(n)] = c
	}
	for _, f := range md.MediaName.Formats {
		n, err := strconv.ParseUint(f, 10, 8)
		if err != nil {
			continue
		}
		if c, ok := rtpmaps[uint8(n)]; ok {
			m.codecs = append(m.codecs, c)
		}
	}
	rids, err := parseRIDs(md)
	if err != nil {
		return nil, err
	}
	m.rids = rids
	return m, nil
}

// parseRTPMap reads "96 VP8/90000" or "111 opus/48000/2".
func parseRTPMap(kind, v string) (uint8, webrtc.RTPCodecParameters, bool) {
	pt, rest, ok := strings.Cut(v, " ")
	if !ok {
		return 0, webrtc.RTPCodecParameters{}, false
	}
	n, err := strconv.ParseUint(pt, 10, 8)
	if err != nil {
		return 0, webrtc.RTPCodecParameters{}, false
	}
	parts := strings.Split(rest, "/")
	c := webrtc.RTPCodecParameters{PayloadType: webrtc.PayloadType(n)}
	c.MimeType = kind + "/" + parts[0]
	if len(parts) > 1 {
		r, _ := strconv.ParseUint(parts[1], 10, 32)
		c.ClockRate = uint32(r)
	}
	if len(parts) > 2 {
		ch, _ := strconv.ParseUint(parts[2], 10, 16)
		c.Channels = uint16(ch)
	}
	return uint8(n), c, true
}

// parseRIDs returns the send RIDs of a simulcast section in offer order:
// the order of a=simulcast:send when present (RFC 8853, section 5.1:
// alternatives separated by ',' count as one stream, the first taken;
// '~' marks a stream paused at start), else the a=rid lines.
func parseRIDs(md *sdp.MediaDescription) ([]string, error) {
	var rids []string
	if sim, ok := md.Attribute("simulcast"); ok {
		fields := strings.Fields(sim)
		for i := 0; i+1 < len(fields); i += 2 {
			if fields[i] != "send" {
				continue
			}
			for _, stream := range strings.Split(fields[i+1], ";") {
				alt, _, _ := strings.Cut(stream, ",")
				alt = strings.TrimPrefix(alt, "~")
				if alt != "" {
					rids = append(rids, alt)
				}
			}
		}
	}
	if len(rids) == 0 {
		for _, a := range md.Attributes {
			if a.Key != "rid" {
				continue
			}
			f := strings.Fields(a.Value)
			if len(f) >= 2 && f[1] == "send" {
				rids = append(rids, f[0])
			}
		}
	}
	if len(rids) > maxRIDs {
		return nil, fmt.Errorf("%w: %d simulcast encodings (%s): at most %d are supported", ErrBadOffer, len(rids), strings.Join(rids, ", "), maxRIDs)
	}
	if len(rids) == 1 {
		rids = nil // a single RID is not simulcast
	}
	return rids, nil
}

// checkCodecs refuses a section without any supported codec, naming what
// was offered. g711 is true when the session transcodes audio.
func checkCodecs(kind string, codecs []webrtc.RTPCodecParameters, g711 bool) error {
	supported := videoMimes
	if kind == "audio" {
		supported = audioMimes
		if g711 {
			supported = append(slices.Clone(audioMimes), g711Mimes...)
		}
	}
	var offered []string
	for _, c := range codecs {
		if usable(kind, c, g711) {
			return nil
		}
		if !g711 && kind == "audio" && slices.ContainsFunc(g711Mimes, func(s string) bool { return strings.EqualFold(s, c.MimeType) }) {
			return fmt.Errorf("%w: G.711 audio (%s) must be transcoded to Opus, and this Tributary cannot transcode "+
				"(the passthrough build): send Opus, or run the build that transcodes", ErrBadOffer, strings.TrimPrefix(c.MimeType, "audio/"))
		}
		name := strings.TrimPrefix(c.MimeType, kind+"/")
		if slices.Contains(auxCodecs, strings.ToLower(name)) || slices.Contains(offered, name) {
			continue
		}
		if strings.EqualFold(c.MimeType, webrtc.MimeTypeH264) {
			name += " (" + c.SDPFmtpLine + ")"
		}
		offered = append(offered, name)
	}
	if len(offered) == 0 {
		offered = []string{"none"}
	}
	names := make([]string, len(supported))
	for i, s := range supported {
		names[i] = strings.TrimPrefix(s, kind+"/")
	}
	return fmt.Errorf("%w: unsupported %s codec %s in the offer: Tributary takes %s", ErrBadOffer, kind,
		strings.Join(offered, ", "), strings.Join(names, ", "))
}

// usable reports whether a codec can be received and forwarded (or, g711
// true, transcoded: G.711 audio). H.264 needs packetization-mode=1
// (non-interleaved; mode 0 is one NAL unit per packet, which WebRTC rooms
// do not use) and a profile the room knows.
func usable(kind string, c webrtc.RTPCodecParameters, g711 bool) bool {
	supported := videoMimes
	if kind == "audio" {
		supported = audioMimes
		if g711 {
			supported = append(slices.Clone(audioMimes), g711Mimes...)
		}
	}
	if !slices.ContainsFunc(supported, func(s string) bool { return strings.EqualFold(s, c.MimeType) }) {
		return false
	}
	if strings.EqualFold(c.MimeType, webrtc.MimeTypeH264) {
		p := fmtp(c.SDPFmtpLine)
		if p["packetization-mode"] != "1" {
			return false
		}
		id := strings.ToLower(p["profile-level-id"])
		return len(id) == 6 && slices.Contains([]string{"42", "4d", "64"}, id[:2])
	}
	return true
}

func fmtp(line string) map[string]string {
	out := map[string]string{}
	for _, kv := range strings.Split(line, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		out[strings.ToLower(k)] = v
	}
	return out
}

// sdpFrag is a parsed application/trickle-ice-sdpfrag body (RFC 8840,
// section 9): ICE credentials and candidates, grouped by media section.
type sdpFrag struct {
	ufrag, pwd string
	candidates []fragCandidate
}

type fragCandidate struct {
	mid       string
	candidate string // "candidate:…", without "a="
}

// maxFragLines bounds the lines of a fragment: a client has a handful of
// candidates per interface.
const maxFragLines = 1000

func parseSDPFrag(body string) (*sdpFrag, error) {
	f := &sdpFrag{}
	mid := ""
	lines := strings.Split(strings.ReplaceAll(body, "\r\n", "\n"), "\n")
	if len(lines) > maxFragLines {
		return nil, fmt.Errorf("%w: %d lines in the ICE fragment (at most %d)", ErrBadOffer, len(lines), maxFragLines)
	}
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "a=") {
			continue
		}
		k, v, _ := strings.Cut(l[2:], ":")
		switch k {
		case "ice-ufrag":
			f.ufrag = v
		case "ice-pwd":
			f.pwd = v
		case "mid":
			mid = v
		case "candidate":
			f.candidates = append(f.candidates, fragCandidate{mid: mid, candidate: "candidate:" + v})
		}
	}
	return f, nil
}

// restartOffer returns the client's previous offer with the ICE
// credentials of an ICE restart and without the old candidates.
func restartOffer(prev string, f *sdpFrag) (string, error) {
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(prev); err != nil {
		return "", err
	}
	sd.Origin.SessionVersion++
	fix := func(attrs []sdp.Attribute) []sdp.Attribute {
		out := attrs[:0]
		for _, a := range attrs {
			switch a.Key {
			case "candidate", "end-of-candidates":
				continue
			case "ice-ufrag":
				a.Value = f.ufrag
			case "ice-pwd":
				a.Value = f.pwd
			}
			out = append(out, a)
		}
		return out
	}
	sd.Attributes = fix(sd.Attributes)
	for _, md := range sd.MediaDescriptions {
		md.Attributes = fix(md.Attributes)
	}
	b, err := sd.Marshal()
	return string(b), err
}

// answerFrag is the ICE part of a local description, as the body of an
// ICE restart's answer: credentials, then each section's candidates.
func answerFrag(local string) (string, error) {
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(local); err != nil {
		return "", err
	}
	var b strings.Builder
	ufrag, _ := sd.Attribute("ice-ufrag")
	pwd, _ := sd.Attribute("ice-pwd")
	for _, md := range sd.MediaDescriptions {
		if ufrag == "" {
			ufrag, _ = md.Attribute("ice-ufrag")
			pwd, _ = md.Attribute("ice-pwd")
		}
	}
	fmt.Fprintf(&b, "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\n", ufrag, pwd)
	for _, md := range sd.MediaDescriptions {
		mid, _ := md.Attribute("mid")
		fmt.Fprintf(&b, "m=%s %d %s %s\r\na=mid:%s\r\n", md.MediaName.Media, md.MediaName.Port.Value,
			strings.Join(md.MediaName.Protos, "/"), strings.Join(md.MediaName.Formats, " "), mid)
		for _, a := range md.Attributes {
			if a.Key == "candidate" {
				fmt.Fprintf(&b, "a=candidate:%s\r\n", a.Value)
			}
		}
		b.WriteString("a=end-of-candidates\r\n")
	}
	return b.String(), nil
}
