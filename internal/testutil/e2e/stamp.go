package e2e

import (
	"fmt"
	"strings"
)

// Frame stamps: a machine-readable frame number drawn into the top strip
// of every picture of a test source, so that a viewer can tell which
// source frame a decoded picture is even when the video was scaled and
// re-encoded (a transcoded layer shares no bytes with the source).
//
// The strip is the top eighth of the picture, cut into StampBlocks equal
// blocks, each entirely black or white: block 0 is white and block 1
// black (a start marker, which also tells a stamp from a picture that has
// none), blocks 2 to 14 are the bits of the frame number modulo
// StampModulo, least significant first, and block 15 makes the number of
// white blocks among 2–15 even (a parity check, so a misread bit is
// detected rather than giving a wrong frame). At 320x180 a block is 20x22
// pixels, which survives x264 at a few hundred kbit/s; the reader samples
// only the middle of each block, away from the edges the encoder blurs.

const (
	// StampBlocks is the number of blocks across the strip.
	StampBlocks = 16
	// stampBits is the number of frame-number bits.
	stampBits = StampBlocks - 3
	// StampModulo is where frame numbers wrap: 8192 frames are 4'33" at
	// 30 fps, longer than any source a test or benchmark stamps.
	StampModulo = 1 << stampBits
)

// Luma levels (limited range) the stamp is drawn with, and the bounds a
// block's mean must be beyond to count as clearly white or clearly black.
const (
	stampWhite     = 235
	stampBlack     = 16
	stampWhiteMin  = 170
	stampBlackMax  = 80
	stampStripDivs = 8 // the strip is the top 1/8 of the picture
)

// StampFilter returns an ffmpeg filtergraph that draws the stamp of each
// frame's number (counted from 0 by the filter) over the top strip of the
// video labelled in, for a width x height picture, and labels the result
// out (yuv420p). The strip is cut out, shrunk to one pixel per block
// (two rows, for 4:2:0), drawn with geq, enlarged back without
// interpolation and laid over the picture: geq's per-pixel expression
// runs 32 times a frame rather than over the whole strip.
func StampFilter(in, out string, width, height int) string {
	strip := (height / stampStripDivs) &^ 1
	k := "floor(X*16/W)" // the block of a pixel
	bit := func(i int) string { return fmt.Sprintf("mod(floor(N/%d),2)", 1<<i) }
	var parity []string
	for i := range stampBits {
		parity = append(parity, bit(i))
	}
	value := fmt.Sprintf("if(eq(%[1]s,0),1,if(eq(%[1]s,1),0,if(eq(%[1]s,15),mod(%[2]s,2),mod(floor(N/pow(2,%[1]s-2)),2))))",
		k, strings.Join(parity, "+"))
	lum := fmt.Sprintf("%d+%d*%s", stampBlack, stampWhite-stampBlack, value)
	return fmt.Sprintf("[%[1]s]format=yuv420p,split[stamp_a][stamp_b];"+
		"[stamp_b]crop=iw:%[2]d:0:0,scale=%[3]d:2,geq=lum='%[4]s':cb=128:cr=128,scale=%[5]d:%[2]d:flags=neighbor[stamp_s];"+
		"[stamp_a][stamp_s]overlay=0:0,format=yuv420p[%[6]s]", in, strip, StampBlocks, lum, width, out)
}

// ReadStamp reads the stamp of a picture from its luma plane (rows of
// stride bytes, width x height visible). It returns the frame number
// modulo StampModulo, or -1 when the picture has no readable stamp: a
// block is neither clearly white nor clearly black, the start marker is
// missing or the parity is wrong.
func ReadStamp(luma []byte, stride, width, height int) int {
	if width < StampBlocks*2 || height < stampStripDivs*2 || stride < width || len(luma) < stride*height {
		return -1
	}
	strip := height / stampStripDivs
	// The middle half of the strip's rows and of each block's columns.
	y0, y1 := strip/4, max(strip*3/4, strip/4+1)
	var bits [StampBlocks]int
	for b := range StampBlocks {
		x0 := (4*b + 1) * width / (4 * StampBlocks)
		x1 := max((4*b+3)*width/(4*StampBlocks), x0+1)
		var sum, n int
		for y := y0; y < y1; y++ {
			row := luma[y*stride:]
			for x := x0; x < x1; x++ {
				sum += int(row[x])
				n++
			}
		}
		switch mean := sum / n; {
		case mean >= stampWhiteMin:
			bits[b] = 1
		case mean <= stampBlackMax:
			bits[b] = 0
		default:
			return -1
		}
	}
	if bits[0] != 1 || bits[1] != 0 {
		return -1
	}
	frame, ones := 0, 0
	for i := range stampBits {
		frame |= bits[2+i] << i
		ones += bits[2+i]
	}
	if (ones+bits[StampBlocks-1])%2 != 0 {
		return -1
	}
	return frame
}

// UnwrapStamp turns a stamp read (modulo StampModulo) into the frame
// number nearest to near, for sources longer than the modulo.
func UnwrapStamp(stamp, near int) int {
	base := near - near%StampModulo
	best := base + stamp
	for _, c := range []int{best - StampModulo, best + StampModulo} {
		if absInt(c-near) < absInt(best-near) {
			best = c
		}
	}
	return best
}

func absInt(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
