/**
 * The reference live dashboard (R67): the app-by-environment matrix and the publish jobs under
 * way, kept current over one graphql-ws connection. Plain TypeScript and DOM: the page is small,
 * and a reader sees the API use without a framework in between.
 */
import { readOptions } from '../page-options.js';
import { Api } from './api.js';
import { DashboardQuery, EnvironmentsChanged, JobsUpdated } from './documents.js';
import { h, render, type DashboardState } from './view.js';

const FINAL_STATES = new Set(['SUCCEEDED', 'FAILED', 'CANCELED']);

const { token: prefilled } = readOptions<{ token: string | null }>('dashboard-options');
const app = document.getElementById('app') ?? document.body;

const tokenInput = h('input', { type: 'password', name: 'token', placeholder: 'API token', autocomplete: 'off', 'aria-label': 'API token' }) as HTMLInputElement;
tokenInput.value = prefilled ?? '';
const status = h('span', { class: 'connection', 'data-testid': 'connection' }, 'not connected');
const form = h('form', { class: 'token' }, tokenInput, h('button', { type: 'submit' }, 'Connect'), status);
const content = h('main', {});
app.replaceChildren(h('header', {}, h('h1', {}, 'Shipyard'), form), content);

let api: Api | null = null;
let state: DashboardState = { matrix: null, environmentStatus: new Map(), jobs: new Map() };

let renderQueued = false;
function update(): void {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    render(content, state);
  });
}

function showStatus(text: string, kind: 'ok' | 'error' | 'info'): void {
  status.textContent = text;
  status.className = `connection ${kind}`;
}

async function loadMatrix(current: Api): Promise<void> {
  const matrix = await current.query(DashboardQuery);
  if (current !== api) return;
  state.matrix = matrix;
  for (const job of matrix.publishJobs.nodes) if (!state.jobs.has(job.id)) state.jobs.set(job.id, job);
  update();
}

let refetch: ReturnType<typeof setTimeout> | undefined;
/** A finished job changes its cell: ask for the matrix again, once for a burst of endings. */
function refetchSoon(current: Api): void {
  clearTimeout(refetch);
  refetch = setTimeout(() => void loadMatrix(current).catch((error: unknown) => showStatus(String(error), 'error')), 150);
}

async function follow(current: Api): Promise<void> {
  for await (const { publishJobsUpdated: job } of current.subscribe(JobsUpdated)) {
    if (current !== api) return;
    const known = state.jobs.get(job.id);
    if (known && known.revision >= job.revision) continue;
    // Newest first: a job seen for the first time goes to the top.
    state.jobs = known ? new Map(state.jobs).set(job.id, job) : new Map([[job.id, job], ...state.jobs]);
    if (FINAL_STATES.has(job.state)) refetchSoon(current);
    update();
  }
}

async function watchEnvironments(current: Api): Promise<void> {
  for await (const { environmentStatusChanged: event } of current.subscribe(EnvironmentsChanged)) {
    if (current !== api) return;
    state.environmentStatus.set(event.environment.id, event.environment.status);
    update();
  }
}

function connect(token: string): void {
  api?.close();
  state = { matrix: null, environmentStatus: new Map(), jobs: new Map() };
  update();
  showStatus('connecting…', 'info');
  const current = new Api(token, (code) => {
    if (current === api) showStatus(code === 4401 ? 'token refused' : 'connection lost, reconnecting…', 'error');
  });
  api = current;
  const failed = (error: unknown) => {
    if (current === api) showStatus(error instanceof Error ? error.message : 'connection failed', 'error');
  };
  // Listening starts before the first read, so no change falls between the two.
  void follow(current).catch(failed);
  void watchEnvironments(current).catch(failed);
  loadMatrix(current).then(() => current === api && showStatus('live', 'ok'), failed);
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  if (tokenInput.value.trim()) connect(tokenInput.value.trim());
});
if (prefilled) connect(prefilled);
else update();
