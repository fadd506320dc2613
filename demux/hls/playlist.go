package hls

import (
	"bytes"
	"io"
	"net/url"
	"slices"
	"strings"

	"github.com/grafov/m3u8"
)

// playlist is a parsed playlist: exactly one of master and media is set.
type playlist struct {
	master *m3u8.MasterPlaylist
	media  *m3u8.MediaPlaylist
}

// parsePlaylist reads and decodes a playlist of at most MaxPlaylistSize
// bytes. grafov/m3u8 is lenient (strict=false) as players are, but it
// has panicked on crafted input in the past: a panic is turned into
// ErrMalformed.
func parsePlaylist(r io.Reader) (pl playlist, err error) {
	body, err := io.ReadAll(io.LimitReader(r, MaxPlaylistSize+1))
	if err != nil {
		return pl, err
	}
	if len(body) > MaxPlaylistSize {
		return pl, malformed("playlist larger than %d bytes", MaxPlaylistSize)
	}
	if !bytes.HasPrefix(bytes.TrimLeft(body, "\ufeff \t\r\n"), []byte("#EXTM3U")) {
		return pl, malformed("not a playlist: no #EXTM3U")
	}
	defer func() {
		if r := recover(); r != nil {
			pl, err = playlist{}, malformed("m3u8 decoder: %v", r)
		}
	}()
	p, typ, err := m3u8.Decode(*bytes.NewBuffer(body), false)
	if err != nil {
		return pl, malformed("%v", err)
	}
	switch typ {
	case m3u8.MASTER:
		pl.master = p.(*m3u8.MasterPlaylist)
	case m3u8.MEDIA:
		pl.media = p.(*m3u8.MediaPlaylist)
	default:
		return pl, malformed("unknown playlist type")
	}
	return pl, nil
}

// Variant describes the variant Run chose.
type Variant struct {
	URL        string
	Bandwidth  int
	Resolution string
	Codecs     string
	// AudioRenditions counts the audio renditions with their own playlist
	// (EXT-X-MEDIA TYPE=AUDIO with a URI) in the variant's AUDIO group:
	// when it is not 0, the audio is not in the variant's segments, and
	// Run, which plays those only, delivers no audio.
	AudioRenditions int
}

// audioRenditions counts the audio renditions of v's AUDIO group that
// have a playlist of their own.
func audioRenditions(m *m3u8.MasterPlaylist, v *m3u8.Variant) int {
	if v.Audio == "" {
		return 0
	}
	seen := map[string]bool{}
	alts := slices.Clone(v.Alternatives)
	for _, other := range m.Variants {
		if other != nil {
			alts = append(alts, other.Alternatives...)
		}
	}
	for _, a := range alts {
		if a != nil && strings.EqualFold(a.Type, "AUDIO") && a.GroupId == v.Audio && a.URI != "" {
			seen[a.URI] = true
		}
	}
	return len(seen)
}

// audioOnly reports whether a variant declares audio codecs only.
func audioOnly(v *m3u8.Variant) bool {
	if v.Codecs == "" || v.Resolution != "" {
		return false
	}
	for c := range strings.SplitSeq(v.Codecs, ",") {
		c = strings.TrimSpace(c)
		if !strings.HasPrefix(c, "mp4a") && !strings.HasPrefix(c, "opus") && !strings.HasPrefix(c, "Opus") &&
			!strings.HasPrefix(c, "ac-3") && !strings.HasPrefix(c, "ec-3") && !strings.HasPrefix(c, "fLaC") {
			return false
		}
	}
	return true
}

// chooseVariant picks the variant of a master playlist to play: the one
// with the highest bandwidth not above maxBandwidth (0: no limit), or the
// lowest when none fits. Variants with video win over audio-only ones
// unless audioOnly is asked for or there are only audio-only ones;
// I-frame-only variants are never chosen. It returns nil when the master
// playlist lists no playable variant.
func chooseVariant(m *m3u8.MasterPlaylist, maxBandwidth int, wantAudioOnly bool) *m3u8.Variant {
	var cands []*m3u8.Variant
	for _, v := range m.Variants {
		if v != nil && !v.Iframe && v.URI != "" {
			cands = append(cands, v)
		}
	}
	if len(cands) == 0 {
		return nil
	}
	hasAudioOnly := slices.ContainsFunc(cands, audioOnly)
	hasAV := slices.ContainsFunc(cands, func(v *m3u8.Variant) bool { return !audioOnly(v) })
	if hasAudioOnly && hasAV {
		cands = slices.DeleteFunc(cands, func(v *m3u8.Variant) bool { return audioOnly(v) != wantAudioOnly })
	}
	var best, lowest *m3u8.Variant
	for _, v := range cands {
		bw := int(v.Bandwidth)
		if lowest == nil || bw < int(lowest.Bandwidth) {
			lowest = v
		}
		if (maxBandwidth <= 0 || bw <= maxBandwidth) && (best == nil || bw > int(best.Bandwidth)) {
			best = v
		}
	}
	if best == nil {
		return lowest
	}
	return best
}

// resolve resolves a URI of a playlist against the playlist's URL.
func resolve(base, ref string) (string, error) {
	r, err := url.Parse(strings.TrimSpace(ref))
	if err != nil {
		return "", malformed("URI %q: %v", ref, err)
	}
	if base == "" {
		return r.String(), nil
	}
	b, err := url.Parse(base)
	if err != nil {
		return "", malformed("base URL %q: %v", base, err)
	}
	return b.ResolveReference(r).String(), nil
}
