package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/sirupsen/logrus"
	gortmp "github.com/yutopp/go-rtmp"
	rtmpmsg "github.com/yutopp/go-rtmp/message"
)

// FLV tag types.
const (
	FLVTagAudio  = 8
	FLVTagVideo  = 9
	FLVTagScript = 18
)

// FLVTag is one tag of an FLV file, its body as stored.
type FLVTag struct {
	// Type is FLVTagAudio, FLVTagVideo or FLVTagScript.
	Type uint8
	// Timestamp is the tag's DTS in milliseconds.
	Timestamp uint32
	// Body is the tag data (for video: the FLV video tag header, then the
	// AVC packet).
	Body []byte
}

// ReadFLVTags reads every tag of an FLV file, in file order. It parses
// the container only (9-byte header; per tag an 11-byte header, the body
// and a 4-byte back pointer), so a test sees exactly the bytes a publisher
// sends.
func ReadFLVTags(path string) ([]FLVTag, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) < 13 || string(data[:3]) != "FLV" {
		return nil, fmt.Errorf("%s: not an FLV file", path)
	}
	off := int(binary.BigEndian.Uint32(data[5:9])) + 4 // header, then PreviousTagSize0
	var tags []FLVTag
	for off+11 <= len(data) {
		h := data[off : off+11]
		size := int(h[1])<<16 | int(h[2])<<8 | int(h[3])
		ts := uint32(h[4])<<16 | uint32(h[5])<<8 | uint32(h[6]) | uint32(h[7])<<24
		end := off + 11 + size
		if end+4 > len(data) {
			return nil, fmt.Errorf("%s: truncated tag at offset %d", path, off)
		}
		tags = append(tags, FLVTag{Type: h[0] & 0x1f, Timestamp: ts, Body: data[off+11 : end]})
		off = end + 4
	}
	return tags, nil
}

// rtmpChunkSize is the chunk size the publisher announces (ffmpeg's).
const rtmpChunkSize = 4096

// publishSettle is how long the publisher waits after its publish command
// before the first tag. An encoder waits for the server's
// NetStream.Publish.Start; go-rtmp's client does not surface onStatus, so
// the publisher waits instead, long enough for Tributary to look up the
// stream key on loopback: until then Tributary bounds a message to 64 KiB,
// which a 720p keyframe can exceed (the connection is then dropped).
const publishSettle = 500 * time.Millisecond

// PublishFLV publishes tags over RTMP to addr (host:port) as app/streamKey,
// the way an encoder does: connect, createStream, publish, then every tag
// at real-time pace (a tag is written when its timestamp is due relative
// to the first one). onSend, when not nil, is called just before each tag
// is written, with the wall-clock time of the write. It returns when every
// tag was written, the context ends, or the connection fails; the
// connection is then closed.
func PublishFLV(ctx context.Context, addr, app, streamKey string, tags []FLVTag, onSend func(FLVTag, time.Time)) error {
	log := logrus.New()
	log.SetOutput(io.Discard)
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	if dl, ok := ctx.Deadline(); ok {
		dialer.Deadline = dl
	}
	client, err := gortmp.DialWithDialer(dialer, "rtmp", addr, &gortmp.ConnConfig{Logger: log})
	if err != nil {
		return fmt.Errorf("RTMP dial %s: %w", addr, err)
	}
	// The library's calls take no context: closing the connection when
	// the context ends unblocks them.
	stopped := make(chan struct{})
	watcherDone := make(chan struct{})
	go func() {
		defer close(watcherDone)
		select {
		case <-ctx.Done():
			_ = client.Close()
		case <-stopped:
		}
	}()
	defer func() {
		close(stopped)
		<-watcherDone
		_ = client.Close()
	}()
	fail := func(what string, err error) error {
		if cerr := context.Cause(ctx); cerr != nil {
			return fmt.Errorf("RTMP %s: %w (%v)", what, cerr, err)
		}
		return fmt.Errorf("RTMP %s: %w", what, err)
	}

	if err := client.Connect(&rtmpmsg.NetConnectionConnect{Command: rtmpmsg.NetConnectionConnectCommand{
		App: app, Type: "nonprivate", FlashVer: "FMLE/3.0 (compatible; tributary-e2e)",
		TCURL: "rtmp://" + addr + "/" + app,
	}}); err != nil {
		return fail("connect", err)
	}
	stream, err := client.CreateStream(nil, rtmpChunkSize)
	if err != nil {
		return fail("createStream", err)
	}
	if err := stream.Publish(&rtmpmsg.NetStreamPublish{PublishingName: streamKey, PublishingType: "live"}); err != nil {
		return fail("publish", err)
	}

	var start time.Time
	var first uint32
	timer := time.NewTimer(publishSettle)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
		return fail("publish", context.Cause(ctx))
	}
	for i, tag := range tags {
		msg, csid, err := flvMessage(tag)
		if err != nil {
			return err
		}
		if i == 0 {
			start, first = time.Now(), tag.Timestamp
		}
		due := start.Add(time.Duration(tag.Timestamp-first) * time.Millisecond)
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return fail("write", context.Cause(ctx))
			}
		}
		if onSend != nil {
			onSend(tag, time.Now())
		}
		if err := stream.Write(csid, tag.Timestamp, msg); err != nil {
			return fail(fmt.Sprintf("write tag %d", i), err)
		}
	}
	if err := client.DeleteStream(&rtmpmsg.NetStreamDeleteStream{StreamID: stream.StreamID()}); err != nil {
		return fail("deleteStream", err)
	}
	return nil
}

// flvMessage converts a tag to the RTMP message carrying it.
func flvMessage(tag FLVTag) (rtmpmsg.Message, int, error) {
	switch tag.Type {
	case FLVTagAudio:
		return &rtmpmsg.AudioMessage{Payload: bytes.NewReader(tag.Body)}, 4, nil
	case FLVTagVideo:
		return &rtmpmsg.VideoMessage{Payload: bytes.NewReader(tag.Body)}, 6, nil
	case FLVTagScript:
		return &rtmpmsg.DataMessage{Name: "@setDataFrame", Encoding: rtmpmsg.EncodingTypeAMF0, Body: bytes.NewReader(tag.Body)}, 4, nil
	}
	return nil, 0, fmt.Errorf("FLV tag type %d", tag.Type)
}
