package hls

import (
	"bytes"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

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
// demux.ErrMalformed. The body is scanned first (scanPlaylist), so that the
// decoder, whose memory grows with the entries it finds, only sees
// playlists within the limits.
func parsePlaylist(r io.Reader) (pl playlist, err error) {
	body, err := io.ReadAll(io.LimitReader(r, MaxPlaylistSize+1))
	if err != nil {
		return pl, err
	}
	if len(body) > MaxPlaylistSize {
		return pl, errs.OverLimit("playlist larger than %d bytes (MaxPlaylistSize)", MaxPlaylistSize)
	}
	if !bytes.HasPrefix(bytes.TrimLeft(body, "\ufeff \t\r\n"), []byte("#EXTM3U")) {
		return pl, errs.Malformed("not a playlist: no #EXTM3U")
	}
	master, err := scanPlaylist(body)
	if err != nil {
		return pl, err
	}
	defer func() {
		if r := recover(); r != nil {
			pl, err = playlist{}, errs.Malformed("m3u8 decoder: %v", r)
		}
	}()
	// The decoder of one type is called, not m3u8.Decode: that one links
	// the renditions of a master playlist to its variants again after
	// every line, so a master playlist padded with empty lines grows
	// without bound (v0.12.1).
	if master {
		pl.master = m3u8.NewMasterPlaylist()
		if err := pl.master.Decode(*bytes.NewBuffer(body), false); err != nil {
			return playlist{}, errs.Malformed("%v", err)
		}
		return pl, nil
	}
	pl.media, err = m3u8.NewMediaPlaylist(0, 1024)
	if err != nil {
		return playlist{}, err
	}
	if err := pl.media.Decode(*bytes.NewBuffer(body), false); err != nil {
		return playlist{}, errs.Malformed("%v", err)
	}
	return pl, nil
}

// scanPlaylist checks a playlist body line by line before it is decoded:
// every URI (a line that is not a tag, or a URI attribute of a tag) is at
// most MaxURILength bytes, a media playlist has at most MaxSegments
// segments, a master playlist at most MaxVariants variants and
// MaxRenditions renditions. It reports whether the playlist is a master
// playlist: one with EXT-X-STREAM-INF or EXT-X-I-FRAME-STREAM-INF tags.
// A playlist with both these and EXTINF is refused (RFC 8216, section
// 4.1: a playlist is either a media or a master playlist).
//
// Lines end at LF, as for the decoder; CR and spaces around them are
// ignored.
func scanPlaylist(body []byte) (master bool, err error) {
	var uris, variants, renditions int
	var media bool
	for n := 1; len(body) > 0; n++ {
		var line []byte
		line, body, _ = bytes.Cut(body, []byte{'\n'})
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if line[0] != '#' {
			uris++
			if len(line) > MaxURILength {
				return false, uriTooLong(fmt.Sprintf("line %d", n), len(line))
			}
			continue
		}
		if l := uriAttrLen(line); l > MaxURILength {
			return false, uriTooLong(fmt.Sprintf("URI attribute on line %d", n), l)
		}
		switch {
		case bytes.HasPrefix(line, []byte("#EXT-X-STREAM-INF:")), bytes.HasPrefix(line, []byte("#EXT-X-I-FRAME-STREAM-INF:")):
			variants++
		case bytes.HasPrefix(line, []byte("#EXT-X-MEDIA:")):
			renditions++
		case bytes.HasPrefix(line, []byte("#EXTINF:")):
			media = true
		}
	}
	switch {
	case variants > 0 && media:
		return false, errs.Malformed("playlist has both variants (EXT-X-STREAM-INF) and segments (EXTINF)")
	case variants > MaxVariants:
		return false, errs.OverLimit("master playlist has %d variants, more than MaxVariants (%d)", variants, MaxVariants)
	case variants > 0 && renditions > MaxRenditions:
		return false, errs.OverLimit("master playlist has %d renditions (EXT-X-MEDIA), more than MaxRenditions (%d)", renditions, MaxRenditions)
	case variants == 0 && uris > MaxSegments:
		return false, errs.OverLimit("media playlist has %d segments, more than MaxSegments (%d)", uris, MaxSegments)
	}
	return variants > 0, nil
}

// uriAttrLen returns the length of the longest URI attribute value of a
// tag line (URI="..." or URI=...), 0 when it has none. A URI= inside
// another attribute's quoted value is measured too: that can only
// overestimate.
func uriAttrLen(line []byte) int {
	longest := 0
	for {
		i := bytes.Index(line, []byte("URI="))
		if i < 0 {
			return longest
		}
		line = line[i+len("URI="):]
		var l int
		if len(line) > 0 && line[0] == '"' {
			l = bytes.IndexByte(line[1:], '"')
			if l < 0 {
				l = len(line) - 1
			}
		} else if l = bytes.IndexByte(line, ','); l < 0 {
			l = len(line)
		}
		longest = max(longest, l)
	}
}

func uriTooLong(where string, n int) error {
	return errs.OverLimit("%s: URI of %d bytes, longer than MaxURILength (%d bytes)", where, n, MaxURILength)
}

// Variant describes the variant Run chose.
type Variant struct {
	URL        string
	Bandwidth  int
	Resolution string
	Codecs     string
	// AudioRenditions counts the audio renditions with their own playlist
	// (EXT-X-MEDIA TYPE=AUDIO with a URI) in the variant's AUDIO group.
	AudioRenditions int
	// AudioURL is the playlist of the audio rendition Run plays with the
	// variant (the group's DEFAULT=YES rendition, else its AUTOSELECT=YES
	// one, else its first), whose audio replaces the variant's own; empty
	// when the variant's own segments carry the audio.
	AudioURL string
}

// audioRenditions counts the audio renditions of v's AUDIO group that
// have a playlist of their own.
func audioRenditions(m *m3u8.MasterPlaylist, v *m3u8.Variant) int {
	if v.Audio == "" {
		return 0
	}
	seen := map[string]bool{}
	count := func(alts []*m3u8.Alternative) {
		for _, a := range alts {
			if a != nil && strings.EqualFold(a.Type, "AUDIO") && a.GroupId == v.Audio && a.URI != "" {
				seen[a.URI] = true
			}
		}
	}
	count(v.Alternatives)
	for _, other := range m.Variants {
		if other != nil {
			count(other.Alternatives)
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

// resolve resolves a URI of a playlist against the playlist's URL. A
// result longer than MaxURILength is refused: the URIs of a playlist are
// bounded by scanPlaylist, but a relative one is as long as its base plus
// itself once resolved.
func resolve(base, ref string) (string, error) {
	r, err := url.Parse(strings.TrimSpace(ref))
	if err != nil {
		return "", errs.Malformed("URI %q: %v", shorten(ref), err)
	}
	u := r
	if base != "" {
		b, err := url.Parse(base)
		if err != nil {
			return "", errs.Malformed("base URL %q: %v", shorten(base), err)
		}
		u = b.ResolveReference(r)
	}
	s := u.String()
	if len(s) > MaxURILength {
		return "", errs.OverLimit("URI resolves to a URL of %d bytes, longer than MaxURILength (%d bytes): %s", len(s), MaxURILength, shorten(s))
	}
	return s, nil
}

// shorten cuts a URL for an error message, at a character boundary.
func shorten(s string) string {
	keep := 80
	if len(s) <= keep {
		return s
	}
	for keep > 0 && !utf8.RuneStart(s[keep]) {
		keep--
	}
	return s[:keep] + "…"
}
