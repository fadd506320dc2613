// Calls to the console's own endpoints (/console/*) and to the Twirp
// livekit.Ingress API with a short-lived token the server mints for the
// session. The session itself is an HttpOnly cookie: this code never sees
// it, nor the API secret once the login is sent.

/** An HTTP refusal, with the server's message. */
export class HTTPError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

const json = {'Content-Type': 'application/json'};

async function call(path, method = 'GET', body = undefined, headers = json) {
  const res = await fetch(path, {
    method, headers, credentials: 'same-origin', cache: 'no-store',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 204) return {};
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    // Console endpoints answer {"error"}; Twirp answers {"code","msg","meta"}.
    let msg = data.error || data.msg || `${res.status} ${res.statusText}`;
    if (data.meta && data.meta.argument && !msg.includes(data.meta.argument)) msg = `${data.meta.argument}: ${msg}`;
    throw new HTTPError(res.status, msg);
  }
  return data;
}

/** The session: {api_key, ws_url, expires_at}, or HTTPError 401. */
export const session = () => call('/console/session');
export const login = (apiKey, apiSecret) => call('/console/login', 'POST', {api_key: apiKey, api_secret: apiSecret});
export const logout = () => { apiToken = null; return call('/console/logout', 'POST', {}); };
/** A hidden, subscribe-only token for room: {token, ws_url, identity}. */
export const roomToken = (room) => call('/console/room-token', 'POST', {room});

let apiToken = null; // {token, expires_at}
// tokenMargin renews the API token this long before it expires.
const tokenMargin = 30_000;

async function bearer() {
  if (!apiToken || apiToken.expires_at - Date.now() < tokenMargin) {
    apiToken = await call('/console/token', 'POST', {});
  }
  return apiToken.token;
}

/** Calls a method of the livekit.Ingress Twirp service. */
export async function ingress(method, body) {
  const token = await bearer();
  return call('/twirp/livekit.Ingress/' + method, 'POST', body, {...json, Authorization: 'Bearer ' + token});
}
