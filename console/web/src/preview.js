// The preview: joins the ingress's room as a hidden, subscribe-only viewer
// (with a token the server mints for this page and this room) and shows
// the ingress participant's video, at the simulcast layer chosen.
import {Room, RoomEvent, Track, VideoQuality} from 'livekit-client';

export class Preview {
  /**
   * @param {{video: HTMLVideoElement, status: HTMLElement}} els
   * @param {(room: string) => Promise<{token: string, ws_url: string}>} mintToken
   */
  constructor(els, mintToken) {
    this.els = els;
    this.mintToken = mintToken;
    this.room = null;
    this.identity = '';
    this.quality = 'HIGH';
    this.sound = false;
    this.video = null; // the subscribed RemoteTrackPublication of the video
    this.audioEls = [];
    this.timer = 0;
  }

  get active() { return this.room !== null; }

  /** Starts watching identity's tracks in room. */
  async start(roomName, identity) {
    await this.stop();
    this.identity = identity;
    const {token, ws_url: wsURL} = await this.mintToken(roomName);
    // adaptiveStream off: the layer is the one chosen, not the one that
    // fits the element; dynacast concerns publishers only.
    const room = new Room({adaptiveStream: false, dynacast: false});
    this.room = room;
    room
      .on(RoomEvent.TrackPublished, (pub, p) => this.consider(pub, p))
      .on(RoomEvent.TrackSubscribed, (track, pub, p) => this.attach(track, pub, p))
      .on(RoomEvent.TrackUnsubscribed, (track) => this.detach(track))
      .on(RoomEvent.ParticipantDisconnected, (p) => {
        if (p.identity === this.identity) this.video = null;
      })
      .on(RoomEvent.Disconnected, () => {
        if (this.room === room) this.setStatus('disconnected from LiveKit');
      });
    this.setStatus('connecting to ' + wsURL + '…');
    await room.connect(wsURL, token, {autoSubscribe: false});
    for (const p of room.remoteParticipants.values()) {
      for (const pub of p.trackPublications.values()) this.consider(pub, p);
    }
    this.timer = setInterval(() => this.report(), 500);
    this.report();
  }

  async stop() {
    clearInterval(this.timer);
    const room = this.room;
    this.room = null;
    this.video = null;
    if (room) await room.disconnect();
    this.els.video.srcObject = null;
    for (const el of this.audioEls) el.remove();
    this.audioEls = [];
    this.setStatus('');
  }

  /** setQuality asks LiveKit for the LOW, MEDIUM or HIGH layer. */
  setQuality(q) {
    this.quality = q;
    if (this.video) this.video.setVideoQuality(VideoQuality[q]);
  }

  setSound(on) {
    this.sound = on;
    if (!this.room) return;
    for (const p of this.room.remoteParticipants.values()) {
      for (const pub of p.trackPublications.values()) this.consider(pub, p);
    }
  }

  consider(pub, participant) {
    if (participant.identity !== this.identity) return;
    if (pub.kind === Track.Kind.Video) pub.setSubscribed(true);
    if (pub.kind === Track.Kind.Audio) pub.setSubscribed(this.sound);
  }

  attach(track, pub, participant) {
    if (participant.identity !== this.identity) return;
    if (track.kind === Track.Kind.Video) {
      this.video = pub;
      pub.setVideoQuality(VideoQuality[this.quality]);
      track.attach(this.els.video);
    } else if (track.kind === Track.Kind.Audio) {
      const el = track.attach();
      el.hidden = true;
      document.body.append(el);
      this.audioEls.push(el);
    }
  }

  detach(track) {
    for (const el of track.detach()) {
      if (el !== this.els.video) el.remove();
    }
    this.audioEls = this.audioEls.filter((el) => el.isConnected);
    if (track.kind === Track.Kind.Video) this.video = null;
  }

  report() {
    if (!this.room) return;
    const v = this.els.video;
    if (!this.video) {
      this.setStatus(`waiting for ${this.identity} to publish in the room…`);
    } else if (!v.videoWidth) {
      this.setStatus(`subscribed to ${this.identity}, waiting for the first picture…`);
    } else {
      const layers = (this.video.trackInfo && this.video.trackInfo.layers || []).length;
      const simulcast = this.video.simulcasted ? `${layers || 'several'} layers, ` : 'one layer, ';
      this.setStatus(`playing ${v.videoWidth}x${v.videoHeight} (${simulcast}${this.quality} asked)`);
    }
  }

  setStatus(s) { this.els.status.textContent = s; }
}
