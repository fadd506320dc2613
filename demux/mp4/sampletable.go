package mp4

import (
	mp4ff "github.com/Eyevinn/mp4ff/mp4"
)

// sample is one sample's place and times, in the track's media timescale
// before the edit list.
type sample struct {
	offset int64
	size   int
	dts    int64
	// cto is the composition time offset: PTS = DTS + cto.
	cto int32
	key bool
	// data is set once the sample is read (RunFragmented).
	data []byte
}

// sampleTable walks the sample tables of a progressive track (stts, ctts,
// stsc, stsz, stco/co64, stss) one sample at a time, so that memory stays
// proportional to the tables however many samples they declare.
//
// Specification: ISO/IEC 14496-12, section 8.6 and 8.7.
type sampleTable struct {
	count       uint32
	uniformSize uint32
	sizes       []uint32
	sttsCount   []uint32
	sttsDelta   []uint32
	cttsEnd     []uint32 // mp4ff: cttsEnd[k+1] is the last sample number of entry k
	cttsOffset  []int32
	stsc        []mp4ff.StscEntry
	chunks      []uint64
	stss        []uint32 // nil: every sample is a sync sample

	// cursor
	i           uint32 // index of the next sample
	dts         int64
	sttsIdx     int
	sttsLeft    uint32
	lastDelta   uint32
	cttsIdx     int
	chunk       int // index of the current chunk, -1 before the first
	stscIdx     int
	leftInChunk uint32
	offset      uint64
	stssIdx     int
}

// newSampleTable checks that an stbl has what is needed to locate its
// samples. A table without samples (fragmented MP4) is valid.
func newSampleTable(stbl *mp4ff.StblBox) (*sampleTable, error) {
	t := &sampleTable{chunk: -1}
	if stbl == nil {
		return t, nil
	}
	if stbl.Stsz != nil {
		t.count, t.uniformSize, t.sizes = stbl.Stsz.SampleNumber, stbl.Stsz.SampleUniformSize, stbl.Stsz.SampleSize
	}
	if t.count == 0 {
		return t, nil
	}
	if stbl.Stts == nil || stbl.Stsc == nil || (stbl.Stco == nil && stbl.Co64 == nil) {
		return nil, errs.Malformed("sample table without stts, stsc or chunk offsets")
	}
	t.sttsCount, t.sttsDelta = stbl.Stts.SampleCount, stbl.Stts.SampleTimeDelta
	if stbl.Ctts != nil {
		t.cttsEnd, t.cttsOffset = stbl.Ctts.EndSampleNr, stbl.Ctts.SampleOffset
	}
	t.stsc = stbl.Stsc.Entries
	if stbl.Co64 != nil {
		t.chunks = stbl.Co64.ChunkOffset
	} else {
		t.chunks = make([]uint64, len(stbl.Stco.ChunkOffset))
		for i, o := range stbl.Stco.ChunkOffset {
			t.chunks[i] = uint64(o)
		}
	}
	if len(t.stsc) == 0 || len(t.chunks) == 0 {
		return nil, errs.Malformed("%d samples in %d chunks, %d stsc entries", t.count, len(t.chunks), len(t.stsc))
	}
	if stbl.Stss != nil {
		t.stss = stbl.Stss.SampleNumber
		if t.stss == nil {
			t.stss = []uint32{}
		}
	}
	return t, nil
}

// done reports whether every sample has been returned.
func (t *sampleTable) done() bool { return t.i >= t.count }

// next returns the next sample.
func (t *sampleTable) next() (sample, error) {
	var s sample
	n := t.i + 1 // sample numbers are 1-based
	size := t.uniformSize
	if size == 0 {
		size = t.sizes[t.i]
	}
	if size > MaxSampleSize {
		return s, errs.OverLimit("sample %d of %d bytes exceeds %d", n, size, MaxSampleSize)
	}
	s.size = int(size)

	// Chunk and offset.
	for t.leftInChunk == 0 {
		t.chunk++
		if t.chunk >= len(t.chunks) {
			return s, errs.Malformed("sample %d beyond the last of %d chunks", n, len(t.chunks))
		}
		for t.stscIdx+1 < len(t.stsc) && uint64(t.chunk+1) >= uint64(t.stsc[t.stscIdx+1].FirstChunk) {
			t.stscIdx++
		}
		t.leftInChunk = t.stsc[t.stscIdx].SamplesPerChunk
		t.offset = t.chunks[t.chunk]
	}
	if t.offset > 1<<62 {
		return s, errs.Malformed("sample %d at offset %d", n, t.offset)
	}
	s.offset = int64(t.offset)
	t.offset += uint64(size)
	t.leftInChunk--

	// Decode time: stts runs; a table that ends early repeats its last
	// delta, as ffmpeg does.
	s.dts = t.dts
	for t.sttsLeft == 0 && t.sttsIdx < len(t.sttsCount) {
		t.sttsLeft, t.lastDelta = t.sttsCount[t.sttsIdx], t.sttsDelta[t.sttsIdx]
		t.sttsIdx++
	}
	if t.sttsLeft > 0 {
		t.sttsLeft--
	}
	t.dts += int64(t.lastDelta)

	// Composition offset.
	for t.cttsIdx+1 < len(t.cttsEnd) && n > t.cttsEnd[t.cttsIdx+1] {
		t.cttsIdx++
	}
	if t.cttsIdx < len(t.cttsOffset) && n > t.cttsEnd[t.cttsIdx] && n <= t.cttsEnd[t.cttsIdx+1] {
		s.cto = t.cttsOffset[t.cttsIdx]
	}

	// Sync samples.
	if t.stss == nil {
		s.key = true
	} else {
		for t.stssIdx < len(t.stss) && t.stss[t.stssIdx] < n {
			t.stssIdx++
		}
		s.key = t.stssIdx < len(t.stss) && t.stss[t.stssIdx] == n
	}
	t.i++
	return s, nil
}
