// Package rtmptest builds raw RTMP chunks for tests that speak to an RTMP
// server below the level of a client library: malformed and hostile
// streams, bounds and limits.
package rtmptest

import "encoding/binary"

// ChunkHeader0 is a format-0 chunk header (RTMP 1.0, section 5.3.1.2.1)
// with a 1-byte basic header for chunk stream csid (2–63): timestamp 0,
// the message's length and type id, and its message stream id.
func ChunkHeader0(csid, typ byte, length int, streamID uint32) []byte {
	b := []byte{csid & 0x3f, 0, 0, 0, byte(length >> 16), byte(length >> 8), byte(length), typ, 0, 0, 0, 0}
	binary.LittleEndian.PutUint32(b[8:], streamID)
	return b
}

// SetChunkSize is a whole Set Chunk Size message (type 1) on chunk stream 2.
func SetChunkSize(size uint32) []byte {
	return binary.BigEndian.AppendUint32(ChunkHeader0(2, 1, 4, 0), size)
}
