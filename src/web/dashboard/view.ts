import type { DashboardJobFragment, DashboardMatrixQuery, EnvironmentStatus } from '../gql/graphql.js';

/** A DOM element with attributes and children: the one helper the page needs. */
export function h(tag: string, attributes: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElement {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  element.append(...children);
  return element;
}

export interface DashboardState {
  matrix: DashboardMatrixQuery | null;
  /** Environment statuses as the subscription last told them, by environment id. */
  environmentStatus: Map<string, EnvironmentStatus>;
  /** Jobs seen under way since the page opened, newest first; finished ones stay with their outcome. */
  jobs: Map<string, DashboardJobFragment>;
}

const label = (value: string) => value.replace(/_/g, ' ').toLowerCase();
const badge = (value: string, attributes: Record<string, string> = {}) => h('span', { class: `badge ${value.toLowerCase()}`, ...attributes }, label(value));

function matrixTable(state: DashboardState): HTMLElement {
  const matrix = state.matrix;
  if (!matrix) return h('p', { class: 'muted' }, 'Loading…');
  const environments = matrix.environments.nodes;
  if (matrix.apps.nodes.length === 0) return h('p', { class: 'muted' }, 'No apps yet.');
  return h(
    'table',
    { class: 'matrix', 'data-testid': 'matrix' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', {}, 'App'),
        ...environments.map((environment) =>
          h('th', {}, environment.name, ' ', badge(state.environmentStatus.get(environment.id) ?? environment.status, { 'data-environment-status': environment.id })),
        ),
      ),
    ),
    h(
      'tbody',
      {},
      ...matrix.apps.nodes.map((app) =>
        h(
          'tr',
          {},
          h('th', { scope: 'row' }, app.name),
          ...environments.map((environment) => {
            const cell = app.environmentStatuses.find((status) => status.environment.id === environment.id);
            return h(
              'td',
              { 'data-cell': `${app.name}/${environment.name}` },
              cell ? h('div', {}, 'services & web ', badge(cell.servicesAndWeb, { 'data-part': 'servicesAndWeb' })) : '',
              cell ? h('div', {}, 'native client ', badge(cell.nativeClient, { 'data-part': 'nativeClient' })) : '',
            );
          }),
        ),
      ),
    ),
  );
}

function jobCard(job: DashboardJobFragment): HTMLElement {
  return h(
    'li',
    { class: 'job', 'data-job': job.trackingId, 'data-state': job.state },
    h(
      'div',
      { class: 'job-head' },
      h('strong', {}, `${job.trackingId} `),
      `${label(job.action)} ${label(job.kind)} · ${job.app.name} → ${job.environment.name} `,
      badge(job.state, { 'data-job-state': '' }),
      h('progress', { max: '1', value: String(job.progress) }),
    ),
    h(
      'ol',
      { class: 'stages' },
      ...job.stages.map((stage) => h('li', { class: `stage ${stage.state.toLowerCase()}`, 'data-stage': stage.key, 'data-state': stage.state }, stage.title)),
    ),
    job.error ? h('p', { class: 'error' }, `${job.error.code}: ${job.error.message}`) : '',
  );
}

export function render(root: HTMLElement, state: DashboardState): void {
  const jobs = [...state.jobs.values()];
  root.replaceChildren(
    h('h2', {}, 'Apps by environment'),
    matrixTable(state),
    h('h2', {}, 'Publish jobs'),
    jobs.length === 0 ? h('p', { class: 'muted' }, 'No job under way.') : h('ul', { class: 'jobs', 'data-testid': 'jobs' }, ...jobs.map(jobCard)),
  );
}
