// Tributary's web console. Plain DOM, no framework: a login, the ingress
// list refreshed every few seconds, a create form, and for the selected
// ingress its URL, stream key, encoder settings, a preview and, for WHIP,
// a browser publisher.
import * as api from './api.js';
import * as fmt from './format.js';
import {Preview} from './preview.js';
import * as whip from './whip.js';

// refreshEvery is the period of the ingress list refresh.
const refreshEvery = 3000;

const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...children) => {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
};

const state = {
  items: new Map(), // ingress_id → IngressInfo
  selected: '',
  tab: 'obs',
  timer: 0,
  publication: null, // whip.Publication
};

const preview = new Preview({video: $('preview-video'), status: $('preview-status')}, api.roomToken);

function show(view) {
  $('login-view').hidden = view !== 'login';
  $('app-view').hidden = view !== 'app';
  $('logout').hidden = view !== 'app';
  $('whoami').hidden = view !== 'app';
}

function showError(id, msg) {
  $(id).textContent = msg || '';
  $(id).hidden = !msg;
}

// loggedOut returns to the login form, dropping everything shown.
async function loggedOut(msg) {
  clearInterval(state.timer);
  await stopPublishing();
  await preview.stop();
  state.items.clear();
  state.selected = '';
  $('ingresses').tBodies[0].replaceChildren();
  $('detail').hidden = true;
  for (const id of ['detail-name', 'detail-id', 'ingress-url', 'ingress-key', 'ingress-full', 'snippet', 'whip-status', 'whip-resource', 'preview-room']) {
    $(id).textContent = '';
  }
  show('login');
  showError('login-error', msg);
}

// handle shows err where it belongs: a lost session sends back to the login.
function handle(err, where) {
  if (err instanceof api.HTTPError && err.status === 401) {
    loggedOut('Your session has ended: log in again.');
    return;
  }
  showError(where, err.message || String(err));
}

function loggedIn(s) {
  $('whoami').textContent = 'API key ' + s.api_key;
  show('app');
  showError('login-error', '');
  refresh();
  clearInterval(state.timer);
  state.timer = setInterval(refresh, refreshEvery);
}

async function refresh() {
  try {
    const res = await api.ingress('ListIngress', {});
    state.items = new Map((res.items || []).map((i) => [i.ingress_id, i]));
    renderList();
    if (state.selected) renderDetailState();
    $('list-updated').textContent = 'updated ' + new Date().toLocaleTimeString();
    showError('list-error', '');
  } catch (e) {
    handle(e, 'list-error');
  }
}

function renderList() {
  const rows = [];
  for (const info of state.items.values()) {
    const st = info.state || {};
    const stateCell = el('td', {className: 'state'},
      el('span', {className: 'badge ' + (st.status || 'ENDPOINT_INACTIVE'), textContent: fmt.statusLabel(st.status)}));
    const desc = fmt.describeInput(st);
    if (desc) stateCell.append(el('span', {className: 'input-desc', textContent: desc}));
    if (st.error) stateCell.append(el('span', {className: 'last-error', textContent: st.error}));
    const del = el('button', {type: 'button', textContent: 'Delete', className: 'delete'});
    del.addEventListener('click', (ev) => {
      ev.stopPropagation();
      remove(info);
    });
    const tr = el('tr', {},
      el('td', {className: 'name', textContent: info.name || info.ingress_id}),
      el('td', {className: 'type', textContent: fmt.typeLabel(info.input_type)}),
      el('td', {className: 'room', textContent: info.room_name}),
      stateCell,
      el('td', {}, del));
    tr.dataset.ingressId = info.ingress_id;
    if (info.ingress_id === state.selected) tr.classList.add('selected');
    tr.addEventListener('click', () => select(info.ingress_id));
    rows.push(tr);
  }
  $('ingresses').tBodies[0].replaceChildren(...rows);
  $('list-empty').hidden = rows.length > 0;
}

async function remove(info) {
  if (!confirm(`Delete ingress ${info.name || info.ingress_id}? Its stream key stops working.`)) return;
  try {
    await api.ingress('DeleteIngress', {ingress_id: info.ingress_id});
    if (state.selected === info.ingress_id) await select('');
    await refresh();
  } catch (e) {
    handle(e, 'list-error');
  }
}

// select shows the detail of one ingress ('' hides it).
async function select(id) {
  if (id === state.selected) return;
  state.selected = id;
  await stopPublishing();
  await preview.stop();
  for (const tr of $('ingresses').tBodies[0].rows) tr.classList.toggle('selected', tr.dataset.ingressId === id);
  const info = state.items.get(id);
  $('detail').hidden = !info;
  if (!info) return;
  $('detail-name').textContent = info.name || '';
  $('detail-id').textContent = info.ingress_id;
  $('ingress-url').textContent = info.url;
  $('ingress-key').textContent = info.stream_key;
  $('ingress-full').textContent = fmt.endpoint(info);
  $('detail-mode').textContent = fmt.modeLabel(info);
  $('preview-room').textContent = info.room_name;
  $('whip-publish').hidden = info.input_type !== 'WHIP_INPUT';
  $('whip-status').textContent = '';
  renderSnippet();
  $('detail').scrollIntoView({block: 'nearest'});
}

function renderDetailState() {
  const info = state.items.get(state.selected);
  if (!info) {
    select('');
    return;
  }
  $('ingress-key').textContent = info.stream_key;
}

function renderSnippet() {
  const info = state.items.get(state.selected);
  if (!info) return;
  for (const b of document.querySelectorAll('[data-tab]')) b.setAttribute('aria-selected', String(b.dataset.tab === state.tab));
  $('snippet').textContent = fmt.snippets(info)[state.tab];
}

async function copy(text, button) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // No clipboard API (plain http on another host): select the text instead.
    const ta = el('textarea', {value: text});
    document.body.append(ta);
    ta.select();
    document.execCommand('copy');
    ta.remove();
  }
  const label = button.textContent;
  button.textContent = 'Copied';
  setTimeout(() => { button.textContent = label; }, 1200);
}

async function startPreview() {
  const info = state.items.get(state.selected);
  if (!info) return;
  $('preview-start').hidden = true;
  $('preview-stop').hidden = false;
  try {
    await preview.start(info.room_name, info.participant_identity);
  } catch (e) {
    await stopPreview();
    if (e instanceof api.HTTPError && e.status === 401) {
      handle(e);
      return;
    }
    $('preview-status').textContent = 'cannot preview: ' + (e.message || e);
  }
}

async function stopPreview() {
  $('preview-start').hidden = false;
  $('preview-stop').hidden = true;
  await preview.stop();
}

async function startPublishing() {
  const info = state.items.get(state.selected);
  if (!info) return;
  $('whip-start').disabled = true;
  $('whip-status').textContent = 'asking for the camera…';
  try {
    const pub = await whip.publish(fmt.endpoint(info), (s) => { $('whip-status').textContent = 'published, WebRTC ' + s; });
    if (state.selected !== info.ingress_id) {
      await pub.stop();
      return;
    }
    state.publication = pub;
    $('whip-start').hidden = true;
    $('whip-stop').hidden = false;
    $('whip-status').textContent = 'published';
    $('whip-resource').textContent = pub.resource;
    if (!preview.active) startPreview();
  } catch (e) {
    $('whip-status').textContent = 'cannot publish: ' + (e.message || e);
  } finally {
    $('whip-start').disabled = false;
  }
}

async function stopPublishing() {
  const pub = state.publication;
  state.publication = null;
  $('whip-start').hidden = false;
  $('whip-stop').hidden = true;
  if (pub) {
    await pub.stop().catch(() => {});
    $('whip-status').textContent = 'stopped';
    $('whip-resource').textContent = '';
  }
}

function createRequest() {
  const type = $('create-type').value;
  const video = $('create-video').value;
  const req = {
    input_type: type,
    name: $('create-name').value.trim(),
    room_name: $('create-room').value.trim(),
    participant_identity: $('create-identity').value.trim(),
    participant_name: $('create-pname').value.trim(),
  };
  if (video === 'passthrough') {
    req.enable_transcoding = false;
  } else {
    req.enable_transcoding = true;
    req.video = {preset: video};
  }
  return req;
}

async function create(ev) {
  ev.preventDefault();
  showError('create-error', '');
  $('create-submit').disabled = true;
  try {
    const info = await api.ingress('CreateIngress', createRequest());
    state.items.set(info.ingress_id, info);
    renderList();
    await select(info.ingress_id);
    $('create-form').reset();
    defaultVideo();
  } catch (e) {
    handle(e, 'create-error');
  } finally {
    $('create-submit').disabled = false;
  }
}

// defaultVideo picks LiveKit's default for the type: RTMP transcodes,
// WHIP forwards.
function defaultVideo() {
  $('create-video').value = $('create-type').value === 'WHIP_INPUT' ? 'passthrough' : 'H264_720P_30FPS_3_LAYERS';
}

async function login(ev) {
  ev.preventDefault();
  showError('login-error', '');
  try {
    const s = await api.login($('login-key').value.trim(), $('login-secret').value);
    $('login-secret').value = '';
    loggedIn(s);
  } catch (e) {
    $('login-secret').value = '';
    showError('login-error', e.status === 401 ? 'Wrong API key or secret.' : (e.message || String(e)));
  }
}

function wire() {
  $('login-form').addEventListener('submit', login);
  $('logout').addEventListener('click', async () => {
    await api.logout().catch(() => {});
    loggedOut('');
  });
  $('create-form').addEventListener('submit', create);
  $('create-type').addEventListener('change', defaultVideo);
  defaultVideo();
  for (const b of document.querySelectorAll('[data-tab]')) {
    b.addEventListener('click', () => {
      state.tab = b.dataset.tab;
      renderSnippet();
    });
  }
  for (const b of document.querySelectorAll('button.copy')) {
    b.addEventListener('click', () => copy($(b.dataset.copy).textContent, b));
  }
  $('preview-start').addEventListener('click', startPreview);
  $('preview-stop').addEventListener('click', stopPreview);
  $('preview-quality').addEventListener('change', (e) => preview.setQuality(e.target.value));
  $('preview-audio').addEventListener('change', (e) => preview.setSound(e.target.checked));
  $('whip-start').addEventListener('click', startPublishing);
  $('whip-stop').addEventListener('click', stopPublishing);
  window.addEventListener('pagehide', () => { stopPublishing(); });
}

async function boot() {
  wire();
  try {
    loggedIn(await api.session());
  } catch (e) {
    show('login');
    if (!(e instanceof api.HTTPError && e.status === 401)) showError('login-error', e.message || String(e));
  }
}

boot();
