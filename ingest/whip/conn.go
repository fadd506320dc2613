package whip

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/livekit/protocol/logger"
	"github.com/pion/rtcp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/tributary-ingress/tributary/internal/guard"
)

// Reasons a session ends on the WebRTC side.
var (
	// ErrICEFailed: connectivity with the client was lost (or never made).
	ErrICEFailed = errors.New("WebRTC connection to the client failed (ICE): no network path, or the client vanished without DELETE")
)

// clientKeyframeInterval spaces the PLIs sent to a client (see
// requestKeyframe): libwebrtc's minimum is 300 ms.
const clientKeyframeInterval = 320 * time.Millisecond

// conn is one WHIP resource: a peer connection and its Publisher.
type conn struct {
	s         *Server
	id        string
	streamKey string
	pub       Publisher
	log       logger.Logger
	pc        *webrtc.PeerConnection
	rids      []string

	mu   sync.Mutex // signalling: ETag, ICE restart, trickle
	etag string

	tracksMu   sync.Mutex // guards what follows
	closed     bool
	ssrcs      [maxRIDs]uint32
	pliPending uint8 // layers waiting for a PLI, bit i for layer i
	pliSent    time.Time
	pliTimer   *time.Timer
	readers    sync.WaitGroup

	end     chan error
	endOnce sync.Once

	// g711 is true when the Publisher transcodes audio (see
	// AudioTranscodingPublisher), so G.711 may be negotiated.
	g711 bool
}

func newETag() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return `"` + hex.EncodeToString(b[:]) + `"`
}

// negotiate answers the offer: it creates the peer connection, keeps one
// codec per section (the client's first usable one, so the client cannot
// switch codecs under the forwarder) and waits for the candidates.
func (c *conn) negotiate(ctx context.Context, o *offer) (string, Negotiated, error) {
	var n Negotiated
	api, err := c.s.sessionAPI(c.log)
	if err != nil {
		return "", n, err
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{ICEServers: c.s.iceServers})
	if err != nil {
		return "", n, fmt.Errorf("peer connection: %w", err)
	}
	c.pc = pc
	pc.OnConnectionStateChange(c.onState)
	pc.OnTrack(c.onTrack)
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: o.raw}); err != nil {
		return "", n, fmt.Errorf("%w: %v", ErrBadOffer, err)
	}
	for _, t := range pc.GetTransceivers() {
		m := o.audio
		kind := "audio"
		if t.Kind() == webrtc.RTPCodecTypeVideo {
			m, kind = o.video, "video"
		}
		if m == nil {
			continue
		}
		chosen, err := preferCodec(t, kind, m.codecs, c.g711)
		if err != nil {
			return "", n, err
		}
		if kind == "video" {
			n.Video = &chosen
			n.VideoRIDs = m.rids
		} else {
			n.Audio = &chosen
		}
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return "", n, fmt.Errorf("%w: cannot answer: %v", ErrBadOffer, err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		return "", n, fmt.Errorf("set answer: %w", err)
	}
	if err := waitGathered(ctx, gathered); err != nil {
		return "", n, err
	}
	for _, t := range pc.GetTransceivers() {
		if t.Kind() != webrtc.RTPCodecTypeAudio || t.Receiver() == nil {
			continue
		}
		for _, e := range t.Receiver().GetParameters().HeaderExtensions {
			if e.URI == sdp.AudioLevelURI && e.ID > 0 && e.ID < 256 {
				n.AudioLevelExtID = uint8(e.ID)
			}
		}
	}
	c.rids = n.VideoRIDs
	n.RequestKeyframe = c.requestKeyframe
	return pc.LocalDescription().SDP, n, nil
}

func waitGathered(ctx context.Context, gathered <-chan struct{}) error {
	t := time.NewTimer(GatherTimeout)
	defer t.Stop()
	select {
	case <-gathered:
		return nil
	case <-t.C:
		return fmt.Errorf("ICE candidate gathering did not finish in %v (check rtc_config.stun_servers)", GatherTimeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// preferCodec narrows a transceiver to the first codec of the offer that
// can be used; for audio Opus comes first wherever the client lists it:
// it goes to the room as it is, where G.711 would be transcoded (at 8 kHz).
func preferCodec(t *webrtc.RTPTransceiver, kind string, offered []webrtc.RTPCodecParameters, g711 bool) (webrtc.RTPCodecParameters, error) {
	if kind == "audio" {
		offered = slices.Clone(offered)
		slices.SortStableFunc(offered, func(a, b webrtc.RTPCodecParameters) int {
			return notOpus(a) - notOpus(b)
		})
	}
	var errs []error
	for _, c := range offered {
		if !usable(kind, c, g711) {
			continue
		}
		if err := t.SetCodecPreferences([]webrtc.RTPCodecParameters{c}); err != nil {
			errs = append(errs, err)
			continue
		}
		return c, nil
	}
	if err := checkCodecs(kind, offered, g711); err != nil {
		return webrtc.RTPCodecParameters{}, err
	}
	return webrtc.RTPCodecParameters{}, fmt.Errorf("%w: no %s codec of the offer could be negotiated: %w", ErrBadOffer, kind, errors.Join(errs...))
}

// notOpus is 0 for Opus, 1 for any other codec.
func notOpus(c webrtc.RTPCodecParameters) int {
	if strings.EqualFold(c.MimeType, webrtc.MimeTypeOpus) {
		return 0
	}
	return 1
}

// run waits for the end of the session, then tears it down: the peer
// connection is closed (ending the readers), and the Publisher told.
func (c *conn) run() {
	defer c.s.wg.Done()
	var err error
	select {
	case err = <-c.end:
	case <-c.pub.Done():
		err = errors.New("session ended by the server")
		c.log.Infow("WHIP session ended by the server")
	case <-c.s.ctx.Done():
		err = errors.New("server shutting down")
	}
	c.s.remove(c)
	c.tracksMu.Lock()
	c.closed = true
	if c.pliTimer != nil {
		c.pliTimer.Stop()
	}
	c.tracksMu.Unlock()
	if cerr := c.pc.Close(); cerr != nil {
		c.log.Debugw("close peer connection", "error", cerr.Error())
	}
	c.readers.Wait()
	c.pub.Close(err)
	if err != nil {
		c.log.Infow("WHIP session closed", "reason", err.Error())
	} else {
		c.log.Infow("WHIP session closed")
	}
}

// stop ends the session; the first reason wins. nil is a clean end.
func (c *conn) stop(err error) {
	c.endOnce.Do(func() { c.end <- err })
}

func (c *conn) onState(st webrtc.PeerConnectionState) {
	c.log.Debugw("peer connection state", "state", st.String())
	switch st {
	case webrtc.PeerConnectionStateFailed:
		c.stop(ErrICEFailed)
	case webrtc.PeerConnectionStateClosed:
		c.stop(nil) // the client closed DTLS (or we did: then this is moot)
	}
}

func (c *conn) onTrack(t *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
	layer := 0
	if rid := t.RID(); rid != "" {
		layer = slices.Index(c.rids, rid)
		if layer < 0 {
			c.log.Infow("ignoring a stream with an RID the offer did not announce", "rid", rid)
			return
		}
	}
	c.tracksMu.Lock()
	if c.closed {
		c.tracksMu.Unlock()
		return
	}
	if t.Kind() == webrtc.RTPCodecTypeVideo {
		c.ssrcs[layer] = uint32(t.SSRC())
	}
	c.readers.Add(2)
	c.tracksMu.Unlock()
	c.log.Infow("receiving", "kind", t.Kind().String(), "codec", t.Codec().MimeType, "rid", t.RID(), "ssrc", uint32(t.SSRC()))

	video := t.Kind() == webrtc.RTPCodecTypeVideo
	go c.readRTCP(t, r, video, layer)
	defer c.readers.Done()
	if video {
		c.requestKeyframe(layer)
	}
	err := guard.Call(c.log, "WebRTC depacketizer", func() error {
		for {
			p, _, err := t.ReadRTP()
			if err != nil {
				return nil
			}
			if video {
				c.pub.WriteVideoRTP(layer, p)
			} else {
				c.pub.WriteAudioRTP(p)
			}
		}
	})
	if err != nil {
		c.stop(err)
	}
}

// readRTCP drains the client's RTCP (sender reports) through the
// interceptors, which use it for their receiver reports, and hands the
// stream's sender reports to a Publisher that keeps the client's lip
// sync.
func (c *conn) readRTCP(t *webrtc.TrackRemote, r *webrtc.RTPReceiver, video bool, layer int) {
	defer c.readers.Done()
	sr, _ := c.pub.(SenderReported)
	for {
		var (
			pkts []rtcp.Packet
			err  error
		)
		if rid := t.RID(); rid != "" {
			pkts, _, err = r.ReadSimulcastRTCP(rid)
		} else {
			pkts, _, err = r.ReadRTCP()
		}
		if err != nil {
			return
		}
		if sr == nil {
			continue
		}
		ssrc := uint32(t.SSRC())
		for _, p := range pkts {
			if s, ok := p.(*rtcp.SenderReport); ok && s.SSRC == ssrc {
				sr.SenderReport(video, layer, s.NTPTime, s.RTPTime)
			}
		}
	}
}

// requestKeyframe asks the client for a keyframe on a layer.
//
// Browsers throttle keyframe requests across all the layers of a sender:
// libwebrtc's EncoderRtcpFeedback drops a PLI that comes less than 300 ms
// after the previous one, whatever its SSRC. A room asking for a keyframe
// on the layer a subscriber switches to, shortly after a PLI for another
// layer, would then wait for its own retry (a second or more). So PLIs
// are spaced by clientKeyframeInterval: one that comes too early is held
// and sent, with any others pending, when the interval has passed.
func (c *conn) requestKeyframe(layer int) {
	if layer < 0 || layer >= maxRIDs {
		return
	}
	c.tracksMu.Lock()
	defer c.tracksMu.Unlock()
	if c.ssrcs[layer] == 0 || c.closed {
		return
	}
	c.pliPending |= 1 << layer
	if c.pliTimer != nil {
		return // already scheduled
	}
	if wait := clientKeyframeInterval - time.Since(c.pliSent); wait > 0 {
		c.pliTimer = time.AfterFunc(wait, c.flushKeyframeRequests)
		return
	}
	c.sendPLIsLocked()
}

func (c *conn) flushKeyframeRequests() {
	c.tracksMu.Lock()
	defer c.tracksMu.Unlock()
	c.pliTimer = nil
	if !c.closed {
		c.sendPLIsLocked()
	}
}

// sendPLIsLocked sends one RTCP packet with a PLI per pending layer;
// tracksMu is held.
func (c *conn) sendPLIsLocked() {
	var pkts []rtcp.Packet
	for i := range maxRIDs {
		if c.pliPending&(1<<i) != 0 && c.ssrcs[i] != 0 {
			pkts = append(pkts, &rtcp.PictureLossIndication{MediaSSRC: c.ssrcs[i]})
		}
	}
	c.pliPending = 0
	if len(pkts) == 0 {
		return
	}
	c.pliSent = time.Now()
	if err := c.pc.WriteRTCP(pkts); err != nil {
		c.log.Debugw("PLI to the client", "error", err.Error())
	}
}

// trickle adds the candidates of a fragment.
func (c *conn) trickle(f *sdpFrag) error {
	if rd := c.pc.RemoteDescription(); rd != nil && f.ufrag != "" {
		if cur := iceUfrag(rd.SDP); cur != "" && cur != f.ufrag {
			return fmt.Errorf("%w: the fragment's ice-ufrag %q is not the session's: send an ICE restart with If-Match: *", errUfragMismatch, f.ufrag)
		}
	}
	for _, cand := range f.candidates {
		init := webrtc.ICECandidateInit{Candidate: cand.candidate}
		if cand.mid != "" {
			mid := cand.mid
			init.SDPMid = &mid
		} else {
			var zero uint16
			init.SDPMLineIndex = &zero
		}
		if err := c.pc.AddICECandidate(init); err != nil {
			return fmt.Errorf("%w: candidate %q: %v", ErrBadOffer, cand.candidate, err)
		}
	}
	return nil
}

var errUfragMismatch = errors.New("ICE ufrag mismatch")

// restartICE applies an ICE restart: the previous offer with the new
// credentials becomes the remote description, and the new answer's ICE
// part is returned.
func (c *conn) restartICE(ctx context.Context, f *sdpFrag) (string, error) {
	if f.ufrag == "" || f.pwd == "" {
		return "", fmt.Errorf("%w: an ICE restart needs a=ice-ufrag and a=ice-pwd", ErrBadOffer)
	}
	rd := c.pc.RemoteDescription()
	if rd == nil {
		return "", errors.New("no remote description")
	}
	offerSDP, err := restartOffer(rd.SDP, f)
	if err != nil {
		return "", fmt.Errorf("ICE restart: %w", err)
	}
	if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offerSDP}); err != nil {
		return "", fmt.Errorf("%w: ICE restart: %v", ErrBadOffer, err)
	}
	answer, err := c.pc.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("ICE restart answer: %w", err)
	}
	gathered := webrtc.GatheringCompletePromise(c.pc)
	if err := c.pc.SetLocalDescription(answer); err != nil {
		return "", fmt.Errorf("ICE restart answer: %w", err)
	}
	if err := waitGathered(ctx, gathered); err != nil {
		return "", err
	}
	if err := c.trickle(&sdpFrag{candidates: f.candidates}); err != nil {
		return "", err
	}
	return answerFrag(c.pc.LocalDescription().SDP)
}

// iceUfrag returns the first ice-ufrag of a description.
func iceUfrag(sdpText string) string {
	for _, l := range strings.Split(sdpText, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "a=ice-ufrag:"); ok {
			return v
		}
	}
	return ""
}
