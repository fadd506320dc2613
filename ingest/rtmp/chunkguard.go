package rtmp

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The RTMP library reassembles each chunk stream's message in a buffer of
// its own, sized by what arrives, and never checks the 24-bit message
// length a chunk header declares against its configured maximum: one
// connection could make it hold 64 chunk streams × 16 MiB, before any
// publish is authorized. Patching the library would mean keeping a fork;
// instead chunkGuard reads the same bytes on their way in (it wraps the
// connection's Read) and follows the chunk layer exactly as the library
// parses it — handshake, basic and message headers, extended timestamps,
// chunk payloads, Set Chunk Size — to refuse a header whose message would
// be too large before the library buffers a byte of it.
//
// What it bounds, per connection: one message's declared length, and the
// sum over chunk streams of the largest message each has declared (the
// library's per-stream buffers keep their capacity once grown, and may
// reach twice the declared length as they grow). Both are small until a
// publish is authorized.
//
// It also refuses what would make the library misbehave on content it
// trusts: AMF0 command and data messages whose arrays declare more
// elements than they have bytes (go-amf0 allocates the declared count
// first: a 40-byte message asked for 32 GiB and ended the process), a
// chunk size under minChunkSize or an acknowledgement window under
// minAckWindow (the library then writes an acknowledgement for every few
// bytes received: seconds of CPU per megabyte), and a format-1 header that
// changes a message's type or length halfway (the library honours it, and
// a guard following the first type could be led to read the stream
// differently from it).
const (
	// preAuthMaxMessage bounds a message before an authorized publish:
	// connect, createStream, publish and their kin are a few hundred bytes.
	preAuthMaxMessage = 64 << 10
	// preAuthMaxHeld bounds the buffers of all chunk streams before an
	// authorized publish.
	preAuthMaxHeld = 256 << 10
	// maxHeld bounds the buffers of all chunk streams of a publishing
	// connection: a largest video message beside audio and data.
	maxHeld = 2 * maxMessageSize
	// maxAMFMessage bounds an AMF0 command or data message at every
	// stage: connect, publish, onMetaData and cue points are well under a
	// KiB. The guard keeps a copy of one to check it.
	maxAMFMessage = 64 << 10
	// minChunkSize and minAckWindow are the smallest chunk size and
	// acknowledgement window accepted: RTMP's own default chunk size is
	// 128 and encoders use 4096 and windows of megabytes.
	minChunkSize = 128
	minAckWindow = 16 << 10
)

// Sizes of the RTMP wire format (the library's handshake reads C0, C1 and
// C2 and nothing else before the first chunk).
const (
	handshakeSize    = 1 + 1536 + 1536
	defaultChunkSize = 128
	maxChunkSize     = 0xffffff
	typeSetChunkSize = 1
	typeWinAckSize   = 5
	typeDataAMF0     = 18
	typeCommandAMF0  = 20
)

// ErrMessageTooLarge is the cause when a client declares an RTMP message
// over the bound.
var ErrMessageTooLarge = errors.New("RTMP message too large")

type chunkStream struct {
	length uint32 // declared length of the message being assembled
	have   uint32 // bytes of it received
	typ    byte
	done   bool   // the last message completed: the next chunk starts anew
	peak   uint32 // largest message declared on this chunk stream
	head   [4]byte
	amf    []byte // the body of an AMF0 message, to check when complete
}

type chunkGuard struct {
	authorized func() bool

	handshake int // handshake bytes still to pass
	hdr       [18]byte
	hdrLen    int
	payload   uint32 // bytes of the current chunk's payload still to pass
	cur       *chunkStream
	streams   map[int]*chunkStream
	chunkSize uint32
	held      uint64
	curID     int
	// onMessage, for tests, sees each message the guard saw completed.
	onMessage func(chunkStream int, length uint32, typ byte)
}

func newChunkGuard(authorized func() bool) *chunkGuard {
	return &chunkGuard{
		authorized: authorized,
		handshake:  handshakeSize,
		streams:    map[int]*chunkStream{},
		chunkSize:  defaultChunkSize,
	}
}

// feed follows the bytes the library is about to read. An error means the
// connection must end before the library acts on them.
func (g *chunkGuard) feed(b []byte) error {
	for len(b) > 0 {
		switch {
		case g.handshake > 0:
			n := min(g.handshake, len(b))
			g.handshake -= n
			b = b[n:]
		case g.payload > 0:
			n := min(int(g.payload), len(b))
			if err := g.body(b[:n]); err != nil {
				return err
			}
			b = b[n:]
		default:
			g.hdr[g.hdrLen] = b[0]
			g.hdrLen++
			b = b[1:]
			if g.hdrLen == 1 && g.hdr[0]&0x3f == 1 {
				// A 3-byte basic header (chunk stream IDs written in two
				// bytes): go-rtmp reads its last two bytes with
				// io.ReadAtLeast into its 64 KiB scratch buffer, which
				// takes everything buffered after them too (up to 64 KiB)
				// and throws it away, so the library and the guard would
				// read the rest of the stream differently (the guard could
				// then be steered past any header). Encoders use chunk
				// streams under 64; refuse it at its first byte, before the
				// library reads it.
				return fmt.Errorf("RTMP chunk with a 3-byte basic header refused (chunk streams from 64 are accepted in the 2-byte form, up to 319)")
			}
			if g.hdrLen < g.headerSize() {
				continue
			}
			if err := g.header(); err != nil {
				return err
			}
			g.hdrLen = 0
		}
	}
	return nil
}

// headerSize is the length of the chunk header as far as its bytes so far
// tell: basic header (1–3 bytes), message header (11, 7, 3 or 0 bytes by
// format) and an extended timestamp where the 24-bit field is 0xffffff
// (never on format 3, as the library reads it).
func (g *chunkGuard) headerSize() int {
	basic := 1
	switch g.hdr[0] & 0x3f {
	case 0:
		basic = 2
	case 1:
		basic = 3
	}
	if g.hdrLen < basic {
		return basic
	}
	msg := [4]int{11, 7, 3, 0}[g.hdr[0]>>6]
	n := basic + msg
	if g.hdrLen < n || msg == 0 {
		return n
	}
	if ts := g.hdr[basic : basic+3]; ts[0] == 0xff && ts[1] == 0xff && ts[2] == 0xff {
		return n + 4
	}
	return n
}

// header applies a complete chunk header.
func (g *chunkGuard) header() error {
	format := g.hdr[0] >> 6
	id, basic := int(g.hdr[0]&0x3f), 1
	switch id {
	case 0:
		id, basic = int(g.hdr[1])+64, 2
	case 1:
		id, basic = int(g.hdr[2])*256+int(g.hdr[1])+64, 3
	}
	s := g.streams[id]
	if s == nil {
		if len(g.streams) >= maxChunkStreams {
			return fmt.Errorf("more than %d RTMP chunk streams on one connection", maxChunkStreams)
		}
		s = &chunkStream{}
		g.streams[id] = s
	}
	if s.done {
		s.have, s.done = 0, false
		s.amf = s.amf[:0]
	}
	if format <= 1 {
		m := g.hdr[basic:]
		length, typ := uint32(m[3])<<16|uint32(m[4])<<8|uint32(m[5]), m[6]
		if s.have > 0 && (length != s.length || typ != s.typ) {
			return fmt.Errorf("RTMP chunk stream %d changes its message from type %d, %d bytes to type %d, %d bytes halfway through it", id, s.typ, s.length, typ, length)
		}
		s.length, s.typ = length, typ
		if err := g.declare(s); err != nil {
			return err
		}
	}
	if s.length <= s.have {
		// The library cannot make sense of a chunk without a message to
		// carry (it would panic): end the connection with a reason.
		return fmt.Errorf("RTMP chunk on chunk stream %d carries no message (declared length %d)", id, s.length)
	}
	g.cur, g.curID = s, id
	g.payload = min(s.length-s.have, g.chunkSize)
	return nil
}

// declare checks a message length a header declared.
func (g *chunkGuard) declare(s *chunkStream) error {
	limit, held := uint32(maxMessageSize), uint64(maxHeld)
	if !g.authorized() {
		limit, held = preAuthMaxMessage, preAuthMaxHeld
	}
	if isAMF(s.typ) {
		limit = min(limit, maxAMFMessage)
	}
	if s.length > limit {
		return fmt.Errorf("%w: a message of %d bytes, over the bound of %d bytes", ErrMessageTooLarge, s.length, limit)
	}
	if s.length > s.peak {
		g.held += uint64(s.length - s.peak)
		s.peak = s.length
	}
	if g.held > held {
		return fmt.Errorf("%w: %d bytes of messages buffered at once across chunk streams, over the bound of %d bytes", ErrMessageTooLarge, g.held, held)
	}
	return nil
}

func (g *chunkGuard) body(b []byte) error {
	s := g.cur
	if s.have < 4 {
		copy(s.head[s.have:], b)
	}
	if isAMF(s.typ) {
		s.amf = append(s.amf, b...)
	}
	s.have += uint32(len(b))
	g.payload -= uint32(len(b))
	if g.payload == 0 && s.have == s.length {
		return g.complete()
	}
	return nil
}

func isAMF(typ byte) bool { return typ == typeDataAMF0 || typ == typeCommandAMF0 }

// complete ends a chunk. When it ends a message, the message is checked
// before the library reads its last bytes, and a Set Chunk Size takes
// effect for the chunks after it, as in the library, which handles each
// message before reading the next chunk.
func (g *chunkGuard) complete() error {
	s := g.cur
	if s.have != s.length {
		return nil
	}
	s.done = true
	if g.onMessage != nil {
		g.onMessage(g.curID, s.length, s.typ)
	}
	switch {
	case s.typ == typeSetChunkSize && s.length >= 4:
		v := binary.BigEndian.Uint32(s.head[:])
		if v&0x80000000 != 0 || v < minChunkSize {
			return fmt.Errorf("RTMP chunk size %d refused (at least %d)", v&0x7fffffff, minChunkSize)
		}
		g.chunkSize = min(v, maxChunkSize)
	case s.typ == typeWinAckSize && s.length >= 4:
		if v := binary.BigEndian.Uint32(s.head[:]); v < minAckWindow {
			return fmt.Errorf("RTMP acknowledgement window of %d bytes refused (at least %d)", v, minAckWindow)
		}
	case isAMF(s.typ):
		if err := checkAMF0(s.amf); err != nil {
			return fmt.Errorf("RTMP %s message refused: %w", map[byte]string{typeDataAMF0: "data", typeCommandAMF0: "command"}[s.typ], err)
		}
	}
	return nil
}
