// "Publish this camera": plain WHIP (RFC 9725) from the browser, with
// getUserMedia, RTCPeerConnection and fetch.

/** Publication is one WHIP session: stop() DELETEs the resource. */
export class Publication {
  constructor(pc, stream, resource) {
    this.pc = pc;
    this.stream = stream;
    this.resource = resource;
  }

  async stop() {
    try {
      await fetch(this.resource, {method: 'DELETE'});
    } finally {
      this.pc.close();
      for (const t of this.stream.getTracks()) t.stop();
    }
  }
}

// iceWait bounds the wait for ICE gathering before the offer is sent: the
// WHIP endpoint gets whatever candidates are there by then.
const iceWait = 3000;

/** publish sends the camera and microphone to endpoint (URL with the stream key). */
export async function publish(endpoint, onState) {
  if (!navigator.mediaDevices || !window.RTCPeerConnection) {
    throw new Error('this browser cannot publish from here: camera access needs https (or localhost)');
  }
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: true,
    video: {width: {ideal: 1280}, height: {ideal: 720}, frameRate: {ideal: 30}},
  });
  const pc = new RTCPeerConnection();
  try {
    pc.onconnectionstatechange = () => onState(pc.connectionState);
    for (const track of stream.getTracks()) {
      const tr = pc.addTransceiver(track, {direction: 'sendonly', streams: [stream]});
      if (track.kind === 'video') {
        // Keep the camera's size and drop frames when short of bandwidth
        // or CPU: the ingress's viewers then see one stable resolution.
        const params = tr.sender.getParameters();
        params.degradationPreference = 'maintain-resolution';
        await tr.sender.setParameters(params);
      }
    }
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((resolve) => {
      if (pc.iceGatheringState === 'complete') return resolve();
      pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve());
      setTimeout(resolve, iceWait);
    });
    const res = await fetch(endpoint, {
      method: 'POST', headers: {'Content-Type': 'application/sdp'}, body: pc.localDescription.sdp,
    });
    const body = await res.text();
    if (res.status !== 201) throw new Error(`the WHIP endpoint answered ${res.status}: ${body.trim()}`);
    const resource = new URL(res.headers.get('Location'), endpoint).toString();
    await pc.setRemoteDescription({type: 'answer', sdp: body});
    return new Publication(pc, stream, resource);
  } catch (e) {
    pc.close();
    for (const t of stream.getTracks()) t.stop();
    throw e;
  }
}
