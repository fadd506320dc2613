package mp4

import (
	"encoding/binary"

	mp4ff "github.com/Eyevinn/mp4ff/mp4"

	"github.com/tributary-ingress/tributary/codec/pcm"
	"github.com/tributary-ingress/tributary/media"
)

// maxEditTime bounds the media time and empty duration of an edit taken as
// an initial offset: 2^40 ticks is 139 days at 90 kHz.
const maxEditTime = 1 << 40

// track is the demuxing state of one audio or video track.
type track struct {
	t          *media.Track
	id         uint32
	timescale  int64
	lengthSize int
	// shift is subtracted from media times: the media time of the first
	// edit minus the empty edits before it, in the media timescale.
	shift int64

	// Run over a progressive file.
	table   *sampleTable
	peek    sample
	hasPeek bool
	bytes   int64

	// Fragmented MP4.
	trex    *mp4ff.TrexBox
	nextDTS int64
	queue   []sample
	qhead   int
	stalled bool

	emitted bool
	lastDTS int64

	// Uncompressed audio (PCM, G.711): QuickTime makes every sample of
	// all channels a sample of the tables, so consecutive ones are joined
	// into frames of pcmFrameDuration (see Demuxer.emitPCM).
	pcm        *pcm.Layout
	blockAlign int
	pend       *media.Frame
	pendCount  int // samples in pend
}

// stsdPath is where the sample descriptions sit below a trak.
var stsdPath = []string{"mdia", "minf", "stbl", "stsd"}

// takeStsds returns the stsd body of each trak of a moov box (nil where a
// trak has none), and renames those boxes to 'free' in buf so mp4ff skips
// them: we parse sample entries ourselves (see the package doc).
func takeStsds(moovBody []byte) ([][]byte, error) {
	var out [][]byte
	err := forEachChild(moovBody, func(typ string, _, body []byte) error {
		if typ != "trak" {
			return nil
		}
		var stsd []byte
		var walk func(buf []byte, path []string) error
		walk = func(buf []byte, path []string) error {
			return forEachChild(buf, func(t string, hdr, b []byte) error {
				if t != path[0] || stsd != nil {
					return nil
				}
				if len(path) > 1 {
					return walk(b, path[1:])
				}
				stsd = b
				copy(hdr[4:8], "free")
				return nil
			})
		}
		if err := walk(body, stsdPath); err != nil {
			return err
		}
		out = append(out, stsd)
		return nil
	})
	return out, err
}

// parseMoov sets up the tracks from a whole moov box (header included)
// that starts at pos. buf is modified.
func (d *Demuxer) parseMoov(buf []byte, hdrLen int, pos int64) (fragmented bool, err error) {
	stsds, err := takeStsds(buf[hdrLen:])
	if err != nil {
		return false, err
	}
	box, err := decodeBox(buf, pos)
	if err != nil {
		return false, err
	}
	moov, ok := box.(*mp4ff.MoovBox)
	if !ok || moov.Mvhd == nil {
		return false, errs.Malformed("moov without mvhd")
	}
	if len(moov.Traks) != len(stsds) {
		return false, errs.Malformed("%d traks, %d walked", len(moov.Traks), len(stsds))
	}
	for i, trak := range moov.Traks {
		if trak.Tkhd == nil || trak.Mdia == nil || trak.Mdia.Mdhd == nil || trak.Mdia.Hdlr == nil {
			return false, errs.Malformed("trak without tkhd, mdhd or hdlr")
		}
		var kind media.Kind
		switch trak.Mdia.Hdlr.HandlerType {
		case "vide":
			kind = media.KindVideo
		case "soun":
			kind = media.KindAudio
		default:
			continue // timecode, subtitles, chapters, hint, metadata
		}
		if len(d.tracks) == MaxTracks {
			return false, errs.OverLimit("more than %d tracks", MaxTracks)
		}
		for _, o := range d.tracks {
			if o.id == trak.Tkhd.TrackID {
				return false, errs.Malformed("two tracks with ID %d", o.id)
			}
		}
		if stsds[i] == nil {
			return false, errs.Malformed("track %d without stsd", trak.Tkhd.TrackID)
		}
		info, err := parseStsd(kind, stsds[i])
		if err != nil {
			return false, err
		}
		tr := &track{
			t: &info.track, id: trak.Tkhd.TrackID, lengthSize: info.lengthSize,
			timescale: int64(trak.Mdia.Mdhd.Timescale), pcm: info.pcm, blockAlign: info.blockAlign,
		}
		if tr.timescale == 0 {
			return false, errs.Malformed("track %d with timescale 0", tr.id)
		}
		tr.t.ID = int(tr.id)
		tr.shift = editShift(trak, int64(moov.Mvhd.Timescale), tr.timescale)
		var stbl *mp4ff.StblBox
		if trak.Mdia.Minf != nil {
			stbl = trak.Mdia.Minf.Stbl
		}
		if tr.table, err = newSampleTable(stbl); err != nil {
			return false, err
		}
		if moov.Mvex != nil {
			for _, trex := range moov.Mvex.Trexs {
				if trex.TrackID == tr.id {
					tr.trex = trex
				}
			}
		}
		d.tracks = append(d.tracks, tr)
	}
	if len(d.tracks) == 0 {
		return false, errs.NoTracks("moov has none")
	}
	return moov.Mvex != nil, nil
}

// editShift returns what to subtract from a track's media times to honour
// the start of its edit list: empty edits delay the track, the media time
// of the first real edit skips what comes before it (B-frame delay,
// encoder priming). Later edits (cuts, repeats) are not honoured.
//
// Specification: ISO/IEC 14496-12, section 8.6.6.
func editShift(trak *mp4ff.TrakBox, movieTimescale, mediaTimescale int64) int64 {
	if trak.Edts == nil || len(trak.Edts.Elst) == 0 || movieTimescale == 0 {
		return 0
	}
	var empty int64
	for _, e := range trak.Edts.Elst[0].Entries {
		if e.MediaTime == -1 {
			if e.SegmentDuration > maxEditTime {
				return 0
			}
			empty += int64(e.SegmentDuration)
			continue
		}
		if e.MediaTime < 0 || e.MediaTime > maxEditTime || empty > maxEditTime {
			return 0
		}
		return e.MediaTime - media.Rescale(empty, int(movieTimescale), int(mediaTimescale))
	}
	return 0
}

// boxBytes returns a buffer for a whole box of n bytes with its header
// written as h's, and the body part to fill.
func boxBytes(h boxHeader, n int64) (buf, body []byte) {
	buf = make([]byte, n)
	copy(buf[4:8], h.typ)
	if h.hdrLen == largeBoxHeaderSize {
		binary.BigEndian.PutUint32(buf, boxSizeLarge)
		binary.BigEndian.PutUint64(buf[8:], uint64(n))
	} else {
		binary.BigEndian.PutUint32(buf, uint32(n))
	}
	return buf, buf[h.hdrLen:]
}
