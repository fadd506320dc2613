// How an ingress is shown: its state in words, and what to paste into an
// encoder to publish to it.

const types = {RTMP_INPUT: 'RTMP', WHIP_INPUT: 'WHIP', URL_INPUT: 'URL'};
export const typeLabel = (t) => types[t] || t;
export const statusLabel = (s) => (s || 'ENDPOINT_INACTIVE').replace(/^ENDPOINT_/, '');

const codecName = (mime) => (mime || '').replace(/^(video|audio)\//, '').replace(/^mp4a-latm$/i, 'AAC').toUpperCase();

function rate(bps) {
  if (!bps) return '';
  return bps >= 1e6 ? `${(bps / 1e6).toFixed(1)} Mb/s` : `${Math.round(bps / 1e3)} kb/s`;
}

/** describeInput returns e.g. "H264 1920x1080 30 fps 2.5 Mb/s · AAC 44.1 kHz 2 ch 128 kb/s". */
export function describeInput(state) {
  const parts = [];
  const v = state && state.video;
  if (v && v.mime_type) {
    const p = [codecName(v.mime_type)];
    if (v.width && v.height) p.push(`${v.width}x${v.height}`);
    if (v.framerate) p.push(`${Math.round(v.framerate * 100) / 100} fps`);
    if (v.average_bitrate) p.push(rate(v.average_bitrate));
    parts.push(p.join(' '));
  }
  const a = state && state.audio;
  if (a && a.mime_type) {
    const p = [codecName(a.mime_type)];
    if (a.sample_rate) p.push(`${a.sample_rate / 1000} kHz`);
    if (a.channels) p.push(`${a.channels} ch`);
    if (a.average_bitrate) p.push(rate(a.average_bitrate));
    parts.push(p.join(' '));
  }
  return parts.join(' · ');
}

/** transcoding tells whether the ingress re-encodes the video (the defaults are LiveKit's). */
export function transcoding(info) {
  if (info.enable_transcoding !== undefined && info.enable_transcoding !== null) return info.enable_transcoding;
  if (info.bypass_transcoding) return false;
  return info.input_type !== 'WHIP_INPUT';
}

export function modeLabel(info) {
  if (!transcoding(info)) return 'Passthrough: the encoder\'s video is forwarded unchanged, so it must be WebRTC-ready (H.264 without B-frames, VP8, …).';
  const preset = (info.video && info.video.preset) || 'H264_720P_30FPS_3_LAYERS';
  const custom = info.video && info.video.options ? 'custom layers' : preset;
  return `Transcoding to ${custom}: any H.264 profile works, B-frames included; send the best quality you have.`;
}

/** endpoint returns the URL an encoder publishes to, stream key included. */
export function endpoint(info) {
  return info.url.replace(/\/+$/, '') + '/' + info.stream_key;
}

function rtmpSnippets(info) {
  const pass = !transcoding(info);
  const full = endpoint(info);
  const bitrate = pass ? 2500 : 4500;
  const obs = [
    'Settings → Stream',
    '  Service:     Custom…',
    `  Server:      ${info.url}`,
    `  Stream Key:  ${info.stream_key}`,
    'Settings → Output (Output Mode: Advanced) → Streaming',
    '  Video Encoder:      x264 (or a hardware H.264 encoder)',
    '  Rate Control:       CBR',
    `  Bitrate:            ${bitrate} Kbps`,
    '  Keyframe Interval:  2 s',
    '  CPU Usage Preset:   veryfast',
    `  Profile:            ${pass ? 'baseline' : 'high'}`,
    '  Tune:               zerolatency',
  ];
  if (pass) obs.push('  x264 Options:       bframes=0');
  obs.push('Settings → Audio → Sample Rate: 48 kHz;  Output → Audio → Bitrate: 128');
  if (pass) obs.push('Settings → Video → Output (Scaled) Resolution: what viewers should get (e.g. 1280x720)');

  const ffmpeg = [
    'ffmpeg -re -i input.mp4 \\',
    `  -c:v libx264 -preset veryfast -tune zerolatency -profile:v ${pass ? 'baseline -bf 0' : 'high'} \\`,
    `  -g 60 -b:v ${bitrate}k -maxrate ${bitrate}k -bufsize ${2 * bitrate}k -pix_fmt yuv420p \\`,
    '  -c:a aac -b:a 128k -ar 48000 -ac 2 \\',
    `  -f flv "${full}"`,
  ];
  const gst = [
    'gst-launch-1.0 -e \\',
    '  videotestsrc is-live=true ! video/x-raw,width=1280,height=720,framerate=30/1 ! videoconvert \\',
    `  ! x264enc tune=zerolatency speed-preset=veryfast bitrate=${bitrate} key-int-max=60 bframes=0 \\`,
    `  ! video/x-h264,profile=${pass ? 'constrained-baseline' : 'high'} ! h264parse ! queue ! flvmux name=mux streamable=true \\`,
    `  ! rtmp2sink location="${full}" \\`,
    '  audiotestsrc is-live=true ! audioconvert ! audioresample ! audio/x-raw,rate=48000,channels=2 \\',
    '  ! voaacenc bitrate=128000 ! aacparse ! queue ! mux.',
  ];
  return {obs: obs.join('\n'), ffmpeg: ffmpeg.join('\n'), gstreamer: gst.join('\n')};
}

function whipSnippets(info) {
  const full = endpoint(info);
  const obs = [
    'OBS 30 or later. Settings → Stream',
    '  Service:       WHIP',
    `  Server:        ${full}`,
    '  Bearer Token:  (leave empty; or Server without the key and the key here)',
    'Settings → Output (Advanced) → Streaming',
    '  Video Encoder:  x264 (or a hardware H.264 encoder), Profile: baseline',
    '  Rate Control:   CBR, Bitrate: 2500 Kbps, Keyframe Interval: 2 s',
    '  x264 Options:   bframes=0',
    '  (the audio is Opus: OBS picks it for WHIP)',
  ];
  const ffmpeg = [
    '# FFmpeg 8.0 or later (the whip muxer)',
    'ffmpeg -re -i input.mp4 \\',
    '  -c:v libx264 -preset veryfast -tune zerolatency -profile:v baseline -bf 0 \\',
    '  -g 60 -b:v 2500k -maxrate 2500k -bufsize 5000k -pix_fmt yuv420p \\',
    '  -c:a libopus -b:a 128k -ar 48000 -ac 2 \\',
    `  -f whip "${full}"`,
  ];
  const gst = [
    '# gst-plugins-rs (webrtc): whipclientsink negotiates the codecs itself',
    'gst-launch-1.0 -e \\',
    '  videotestsrc is-live=true ! video/x-raw,width=1280,height=720,framerate=30/1 ! videoconvert ! queue ! ws. \\',
    '  audiotestsrc is-live=true ! audioconvert ! audioresample ! queue ! ws. \\',
    `  whipclientsink name=ws signaller::whip-endpoint="${full}"`,
  ];
  return {obs: obs.join('\n'), ffmpeg: ffmpeg.join('\n'), gstreamer: gst.join('\n')};
}

/** snippets returns the settings for OBS, FFmpeg and GStreamer for one ingress. */
export function snippets(info) {
  if (info.input_type === 'WHIP_INPUT') return whipSnippets(info);
  if (info.input_type === 'RTMP_INPUT') return rtmpSnippets(info);
  const none = 'A URL ingress pulls its media itself: nothing to set at an encoder.';
  return {obs: none, ffmpeg: none, gstreamer: none};
}
