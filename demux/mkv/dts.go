package mkv

// defaultReorder is the reordering depth assumed for streams whose SPS
// may have B-frames but does not say how many: x264's b-pyramid needs 2,
// 4 covers the encoders we know.
const defaultReorder = 4

// maxReorder bounds a reordering depth taken from an SPS (H.264 allows at
// most 16 frames in the DPB).
const maxReorder = 16

// dtsGen derives decode timestamps from presentation timestamps given in
// decode order, for codecs that reorder frames.
//
// With frames displaced by at most k positions between decode and
// presentation order, the i-th smallest PTS of the stream is known once
// frame i+k has arrived, and DTS_i = that (i-k)-th smallest PTS is
// monotonic and never after PTS_i. The first k frames get DTS spaced by
// one frame duration before the first PTS. This is what ffmpeg and
// GStreamer parsers do for Matroska, which stores no DTS.
type dtsGen struct {
	k      int
	durNs  int64
	n      int
	first  int64
	heap   []int64
	last   int64
	primed bool
}

func (g *dtsGen) init(k int, defaultDurationNs uint64) {
	g.k = min(max(k, 0), maxReorder)
	g.durNs = int64(min(defaultDurationNs, uint64(1e9)))
	if g.durNs <= 0 {
		g.durNs = int64(1e9) / 30
	}
}

// next returns the DTS of the next frame (in decode order) whose PTS is
// pts, in nanoseconds.
func (g *dtsGen) next(pts int64) int64 {
	dts := pts
	if g.k > 0 {
		if g.n == 0 {
			g.first = pts
		}
		g.push(pts)
		if g.n < g.k {
			dts = g.first - int64(g.k-g.n)*g.durNs
			g.n++
		} else {
			dts = g.pop()
		}
		dts = min(dts, pts)
	}
	// Decode order is file order: a block whose timestamp goes back (a
	// damaged or spliced file) keeps DTS monotonic, for every codec.
	if g.primed && dts < g.last {
		dts = g.last
	}
	g.last, g.primed = dts, true
	return dts
}

func (g *dtsGen) push(v int64) {
	g.heap = append(g.heap, v)
	for i := len(g.heap) - 1; i > 0; {
		p := (i - 1) / 2
		if g.heap[p] <= g.heap[i] {
			break
		}
		g.heap[p], g.heap[i] = g.heap[i], g.heap[p]
		i = p
	}
}

func (g *dtsGen) pop() int64 {
	h := g.heap
	v := h[0]
	h[0] = h[len(h)-1]
	h = h[:len(h)-1]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(h) && h[l] < h[m] {
			m = l
		}
		if r < len(h) && h[r] < h[m] {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	g.heap = h
	return v
}
