/**
 * The Workbench sidebar: runs (paged, filtered, refreshed while visible), models with their
 * versions and aliases, deployments, drift reports and sweeps. Buttons open views in the main
 * area, insert code snippets into the active notebook, and open the dashboard; they call
 * commands, so the palette and the sidebar share one implementation.
 */
import { CommandRegistry } from '@lumino/commands';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import {
  IDeployments,
  IExperiment,
  IInfo,
  IModel,
  IModelDetail,
  IRun,
  IRunsPage,
  ISweep,
  query,
  requestAPI
} from './api';
import { CommandIDs } from './commands';

/** How often the visible sidebar refreshes, in milliseconds. */
export const REFRESH_INTERVAL_MS = 3000;
const PAGE_SIZE = 20;

type Child = Node | string | null | undefined | false;

/** A DOM element with attributes and children (a tiny `h`). */
function h(
  tag: string,
  attrs: Record<string, string | boolean | EventListener> = {},
  ...children: Child[]
): HTMLElement {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (typeof value === 'function') {
      element.addEventListener(key.replace(/^on/, ''), value);
    } else if (typeof value === 'boolean') {
      if (value) {
        element.setAttribute(key, '');
      }
    } else {
      element.setAttribute(key, value);
    }
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) {
      continue;
    }
    element.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return element;
}

function button(label: string, title: string, onClick: () => void, cls = ''): HTMLElement {
  return h(
    'button',
    {
      class: `wb-button ${cls}`.trim(),
      title,
      type: 'button',
      onclick: (event: Event) => {
        event.stopPropagation();
        onClick();
      }
    },
    label
  );
}

function formatValue(value: unknown): string {
  if (typeof value === 'number') {
    return Number.isInteger(value) ? String(value) : value.toPrecision(4);
  }
  return value === null || value === undefined ? '–' : String(value);
}

function formatTime(iso: string | null): string {
  if (!iso) {
    return '';
  }
  const date = new Date(iso.endsWith('Z') || iso.includes('+') ? iso : iso + 'Z');
  return isNaN(date.getTime()) ? iso : date.toLocaleString();
}

/**
 * `name` shortened in the middle to at most `max` characters: the end, which tells the trials
 * of a sweep apart (`<sweep>-<number>`), stays visible. The full name goes in the title.
 */
export function shortName(name: string, max = 32): string {
  if (name.length <= max) {
    return name;
  }
  const tail = Math.ceil((max - 1) / 2);
  return name.slice(0, max - 1 - tail) + '…' + name.slice(name.length - tail);
}

/** A JSON string literal, which is also a valid Python string literal for our ids. */
function pyString(text: string): string {
  return JSON.stringify(text);
}

/** One collapsible section of the sidebar. */
class Section {
  readonly node: HTMLDetailsElement;
  readonly body: HTMLElement;
  readonly status: HTMLElement;

  constructor(id: string, title: string, open: boolean) {
    this.body = h('div', { class: 'wb-section-body' });
    this.status = h('span', { class: 'wb-section-status' });
    this.node = h(
      'details',
      { class: `wb-section wb-section-${id}`, 'data-section': id, open },
      h('summary', {}, h('span', { class: 'wb-section-title' }, title), this.status),
      this.body
    ) as HTMLDetailsElement;
  }

  get isOpen(): boolean {
    return this.node.open;
  }

  /** Replace the body's content, unless it is unchanged (keeps scroll and focus). */
  render(key: string, build: () => Child[]): void {
    if (this.body.dataset.key === key) {
      return;
    }
    this.body.dataset.key = key;
    this.body.replaceChildren(
      ...build().filter((c): c is Node | string => c !== null && c !== undefined && c !== false)
    );
  }

  error(message: string): void {
    this.body.dataset.key = '';
    this.body.replaceChildren(h('div', { class: 'wb-error' }, message));
  }
}

/** The sidebar widget. */
export class WorkbenchSidebar extends Widget {
  constructor(commands: CommandRegistry) {
    super();
    this.id = 'workbench-sidebar';
    this.addClass('wb-sidebar');
    this.title.caption = 'Workbench';
    this._commands = commands;

    this._experimentSelect = h('select', {
      class: 'wb-experiment',
      title: 'Experiment',
      onchange: () => {
        this._page = 1;
        void this.refresh(true);
      }
    }) as HTMLSelectElement;
    this._filterInput = h('input', {
      class: 'wb-filter jp-mod-styled',
      type: 'search',
      placeholder: "filter, e.g. metrics.acc > 0.8 AND params.C = 1",
      title: 'Filter runs (the search_runs filter language); Enter to apply',
      onkeydown: (event: Event) => {
        if ((event as KeyboardEvent).key === 'Enter') {
          this._page = 1;
          void this.refresh(true);
        }
      }
    }) as HTMLInputElement;
    this._orderInput = h('input', {
      class: 'wb-order jp-mod-styled',
      type: 'search',
      placeholder: 'order by, e.g. metrics.acc DESC',
      title: 'Order runs; Enter to apply',
      onkeydown: (event: Event) => {
        if ((event as KeyboardEvent).key === 'Enter') {
          this._page = 1;
          void this.refresh(true);
        }
      }
    }) as HTMLInputElement;
    this._pager = h('div', { class: 'wb-pager' });
    this._compareButton = button(
      'Compare',
      'Open a comparison of the selected runs (or of this page)',
      () => this._compare(),
      'wb-compare'
    );

    this._runs = new Section('runs', 'Runs', true);
    this._models = new Section('models', 'Models', true);
    this._deployments = new Section('deployments', 'Deployments', false);
    this._reports = new Section('reports', 'Drift reports', true);
    this._sweeps = new Section('sweeps', 'Sweeps', false);
    this._runs.node.insertBefore(
      h(
        'div',
        { class: 'wb-run-controls' },
        this._experimentSelect,
        this._filterInput,
        this._orderInput,
        h('div', { class: 'wb-run-actions' }, this._compareButton, this._pager)
      ),
      this._runs.body
    );
    for (const section of [this._runs, this._models, this._reports, this._deployments, this._sweeps]) {
      section.node.addEventListener('toggle', () => void this.refresh(true));
    }
    this._store = h('div', { class: 'wb-store' });
    this.node.append(
      h(
        'header',
        { class: 'wb-header' },
        h('h2', {}, 'Workbench'),
        h(
          'div',
          { class: 'wb-header-actions' },
          button('Refresh', 'Refresh now', () => void this.refresh(true), 'wb-refresh'),
          button(
            'Dashboard',
            'Open the workbench dashboard in a browser tab',
            () => void this._commands.execute(CommandIDs.openDashboard),
            'wb-dashboard'
          )
        ),
        this._store
      ),
      this._runs.node,
      this._models.node,
      this._reports.node,
      this._deployments.node,
      this._sweeps.node
    );
  }

  /** Reload what is open; `force` re-renders even when nothing changed. */
  async refresh(force = false): Promise<void> {
    if (this._busy) {
      return;
    }
    this._busy = true;
    try {
      if (force) {
        for (const s of [this._runs, this._models, this._deployments, this._reports, this._sweeps]) {
          s.body.dataset.key = '';
        }
      }
      await Promise.all([
        this._loadInfo(),
        this._loadExperiments(),
        this._runs.isOpen ? this._loadRuns() : null,
        this._models.isOpen ? this._loadModels() : null,
        this._deployments.isOpen ? this._loadDeployments() : null,
        this._reports.isOpen ? this._loadReports() : null,
        this._sweeps.isOpen ? this._loadSweeps() : null
      ]);
    } finally {
      this._busy = false;
    }
  }

  protected onAfterShow(msg: Message): void {
    void this.refresh();
    this._startTimer();
  }

  protected onAfterAttach(msg: Message): void {
    if (this.isVisible) {
      void this.refresh();
      this._startTimer();
    }
  }

  protected onBeforeHide(msg: Message): void {
    this._stopTimer();
  }

  protected onBeforeDetach(msg: Message): void {
    this._stopTimer();
  }

  dispose(): void {
    this._stopTimer();
    super.dispose();
  }

  private _startTimer(): void {
    if (this._timer === null) {
      this._timer = window.setInterval(() => {
        if (this.isVisible) {
          void this.refresh();
        }
      }, REFRESH_INTERVAL_MS);
    }
  }

  private _stopTimer(): void {
    if (this._timer !== null) {
      window.clearInterval(this._timer);
      this._timer = null;
    }
  }

  private _openView(kind: string, id: string, title: string): void {
    void this._commands.execute(CommandIDs.openView, { kind, id, title });
  }

  private _snippet(code: string): void {
    void this._commands.execute(CommandIDs.insertSnippet, { code });
  }

  private _compare(): void {
    const ids = this._selected.size > 0 ? [...this._selected] : this._pageIds;
    if (ids.length === 0) {
      return;
    }
    this._openView('compare', ids.join(','), `Compare ${ids.length} runs`);
  }

  private async _loadInfo(): Promise<void> {
    if (this._info) {
      return;
    }
    try {
      this._info = await requestAPI<IInfo>('info');
      this._store.textContent = `store: ${this._info.store}`;
      this._store.title = `workbench ${this._info.version}`;
    } catch (error) {
      this._store.textContent = `workbench server extension unavailable: ${error}`;
    }
  }

  private async _loadExperiments(): Promise<void> {
    try {
      const data = await requestAPI<{ experiments: IExperiment[] }>('experiments');
      const names = data.experiments.map(e => `${e.name} (${e.runs})`);
      const key = names.join('\n');
      if (key === this._experimentsKey) {
        return;
      }
      this._experimentsKey = key;
      const current = this._experimentSelect.value;
      this._experimentSelect.replaceChildren(
        h('option', { value: '' }, 'All experiments'),
        ...data.experiments.map(e =>
          h('option', { value: e.name, selected: e.name === current }, `${e.name} (${e.runs})`)
        )
      );
    } catch (error) {
      // the runs section shows the error
    }
  }

  private async _loadRuns(): Promise<void> {
    const params = {
      experiment: this._experimentSelect.value,
      filter: this._filterInput.value.trim(),
      order_by: this._orderInput.value.trim(),
      page: this._page,
      page_size: PAGE_SIZE
    };
    let data: IRunsPage;
    try {
      data = await requestAPI<IRunsPage>('runs' + query(params));
    } catch (error) {
      this._runs.error(String((error as Error).message ?? error));
      this._runs.status.textContent = '';
      this._pager.replaceChildren();
      return;
    }
    if (data.runs.length === 0 && data.total > 0 && this._page > 1) {
      this._page = data.n_pages;
      return this._loadRuns();
    }
    this._pageIds = data.runs.map(r => r.run_id);
    this._runs.status.textContent = `${data.total}`;
    const first = data.total === 0 ? 0 : (data.page - 1) * data.page_size + 1;
    const last = Math.min(data.total, data.page * data.page_size);
    this._pager.replaceChildren(
      button('‹', 'Previous page', () => this._goTo(this._page - 1), 'wb-prev'),
      h('span', { class: 'wb-page-label' }, `${first}–${last} of ${data.total}`),
      button('›', 'Next page', () => this._goTo(this._page + 1, data.n_pages), 'wb-next')
    );
    this._runs.render(JSON.stringify(data) + [...this._selected].join(), () =>
      data.runs.length === 0
        ? [h('div', { class: 'wb-empty' }, 'No runs match.')]
        : data.runs.map(run => this._runRow(run))
    );
  }

  private _goTo(page: number, nPages = Infinity): void {
    const target = Math.max(1, Math.min(page, nPages));
    if (target !== this._page) {
      this._page = target;
      void this.refresh(true);
    }
  }

  private _runRow(run: IRun): HTMLElement {
    const metrics = Object.entries(run.metrics)
      .slice(0, 3)
      .map(([k, v]) => `${k}=${formatValue(v)}`)
      .join('  ');
    const kind = run.tags['workbench.kind'];
    const trial = run.tags['workbench.trial_number'];
    const sweep = run.tags['workbench.sweep'];
    const checkbox = h('input', {
      type: 'checkbox',
      class: 'wb-select',
      title: 'Select for comparison',
      checked: this._selected.has(run.run_id),
      onchange: (event: Event) => {
        if ((event.target as HTMLInputElement).checked) {
          this._selected.add(run.run_id);
        } else {
          this._selected.delete(run.run_id);
        }
      }
    });
    return h(
      'div',
      {
        class: `wb-run wb-status-${run.status}`,
        'data-run-id': run.run_id,
        title: `${run.name}\n${run.run_id}\nstarted ${formatTime(run.start_time)}`
      },
      checkbox,
      h(
        'div',
        { class: 'wb-run-main' },
        h(
          'div',
          { class: 'wb-run-title' },
          h('span', { class: `wb-dot wb-badge-${run.status}`, title: run.status }),
          h('span', { class: 'wb-run-name', title: run.name }, shortName(run.name)),
          trial !== undefined
            ? h(
                'span',
                { class: 'wb-badge wb-trial', title: `trial ${trial} of sweep ${sweep ?? ''}` },
                `#${trial}`
              )
            : null,
          kind && trial === undefined ? h('span', { class: 'wb-badge' }, kind) : null
        ),
        h('div', { class: 'wb-run-sub' }, `${run.experiment}  ${metrics}`)
      ),
      h(
        'div',
        { class: 'wb-row-actions' },
        button('Open', 'Open this run in a tab', () =>
          this._openView('run', run.run_id, `Run ${run.name}`)
        ),
        button('Code', 'Insert `run = workbench.get_run(...)` into the notebook', () =>
          this._snippet(`run = workbench.get_run(${pyString(run.run_id)})`)
        )
      )
    );
  }

  private async _loadModels(): Promise<void> {
    try {
      const data = await requestAPI<{ models: IModel[] }>('models');
      const details = await Promise.all(
        [...this._expandedModels].map(name =>
          requestAPI<IModelDetail>('models/' + encodeURIComponent(name)).catch(() => null)
        )
      );
      const byName = new Map(details.filter(d => d !== null).map(d => [d!.name, d!]));
      this._models.status.textContent = `${data.models.length}`;
      this._models.render(JSON.stringify([data, details]), () =>
        data.models.length === 0
          ? [h('div', { class: 'wb-empty' }, 'No registered models.')]
          : data.models.map(m => this._modelRow(m, byName.get(m.name)))
      );
    } catch (error) {
      this._models.error(String((error as Error).message ?? error));
    }
  }

  private _modelRow(model: IModel, detail: IModelDetail | undefined): HTMLElement {
    const aliases = Object.keys((model.aliases as Record<string, number> | null) ?? {});
    const expanded = this._expandedModels.has(model.name);
    const uri = aliases.length > 0 ? `${model.name}@${aliases[0]}` : `${model.name}/${model.latest_version}`;
    const versions = detail
      ? h(
          'div',
          { class: 'wb-versions' },
          ...detail.versions.map(version => {
            const vuri = `${model.name}/${version.version}`;
            const names = (version.aliases as string[]) ?? [];
            return h(
              'div',
              { class: 'wb-version', 'data-version': String(version.version) },
              h('span', { class: 'wb-run-name' }, `v${version.version}`),
              ...names.map(a => h('span', { class: 'wb-badge wb-alias' }, `@${a}`)),
              h(
                'div',
                { class: 'wb-row-actions' },
                button('Card', 'Open the model card', () => this._openView('model', vuri, `Model ${vuri}`)),
                button('Code', 'Insert workbench.load_model(...)', () =>
                  this._snippet(`model = workbench.load_model(${pyString(names.length ? `${model.name}@${names[0]}` : vuri)})`)
                )
              )
            );
          })
        )
      : null;
    return h(
      'div',
      { class: 'wb-model', 'data-model': model.name },
      h(
        'div',
        {
          class: 'wb-model-title',
          title: 'Show versions',
          onclick: () => {
            if (expanded) {
              this._expandedModels.delete(model.name);
            } else {
              this._expandedModels.add(model.name);
            }
            void this.refresh(true);
          }
        },
        h('span', { class: 'wb-caret' }, expanded ? '▾' : '▸'),
        h('span', { class: 'wb-run-name' }, model.name),
        h('span', { class: 'wb-muted' }, `v${formatValue(model.latest_version)}`),
        ...aliases.map(a => h('span', { class: 'wb-badge wb-alias' }, `@${a}`)),
        h(
          'div',
          { class: 'wb-row-actions' },
          button('Card', 'Open the model card', () => this._openView('model', uri, `Model ${uri}`)),
          button('Code', 'Insert workbench.load_model(...)', () =>
            this._snippet(`model = workbench.load_model(${pyString(uri)})`)
          )
        )
      ),
      versions
    );
  }

  private async _loadDeployments(): Promise<void> {
    try {
      const data = await requestAPI<IDeployments>('deployments');
      this._deployments.status.textContent = `${data.deployments.length}`;
      this._deployments.render(JSON.stringify(data), () => {
        if (!data.available) {
          return [h('div', { class: 'wb-empty' }, 'Serving is not available in this workbench.')];
        }
        if (data.deployments.length === 0) {
          return [h('div', { class: 'wb-empty' }, 'No deployments.')];
        }
        return data.deployments.map(d =>
          h(
            'div',
            { class: 'wb-deployment', 'data-deployment': String(d.deployment_id ?? d.name ?? '') },
            h('span', { class: 'wb-run-name' }, String(d.name ?? d.model_uri ?? d.deployment_id)),
            h('span', { class: `wb-badge wb-badge-${d.status}` }, String(d.status)),
            d.url ? h('a', { href: String(d.url), target: '_blank', class: 'wb-muted' }, String(d.url)) : null
          )
        );
      });
    } catch (error) {
      this._deployments.error(String((error as Error).message ?? error));
    }
  }

  private async _loadReports(): Promise<void> {
    try {
      const data = await requestAPI<IRunsPage>('reports' + query({ page_size: PAGE_SIZE }));
      this._reports.status.textContent = `${data.total}`;
      this._reports.render(JSON.stringify(data), () =>
        data.runs.length === 0
          ? [h('div', { class: 'wb-empty' }, 'No drift reports.')]
          : data.runs.map(run => {
              const drift = run.tags['drift.dataset_drift'] === 'true';
              return h(
                'div',
                { class: 'wb-report', 'data-run-id': run.run_id, title: run.run_id },
                h('span', {
                  class: `wb-dot ${drift ? 'wb-badge-failed' : 'wb-badge-finished'}`,
                  title: drift ? 'dataset drift' : 'no dataset drift'
                }),
                h(
                  'div',
                  { class: 'wb-run-main' },
                  h('div', { class: 'wb-run-name' }, run.name),
                  h(
                    'div',
                    { class: 'wb-run-sub' },
                    `${drift ? 'drift' : 'no drift'} · ${formatTime(run.start_time)}`
                  )
                ),
                h(
                  'div',
                  { class: 'wb-row-actions' },
                  button('Open', 'Open the drift report', () =>
                    this._openView('drift', run.run_id, `Drift ${run.name}`)
                  ),
                  button('Code', 'Insert workbench.load_drift_report(...)', () =>
                    this._snippet(`report = workbench.load_drift_report(${pyString(run.run_id)})`)
                  )
                )
              );
            })
      );
    } catch (error) {
      this._reports.error(String((error as Error).message ?? error));
    }
  }

  private async _loadSweeps(): Promise<void> {
    try {
      const data = await requestAPI<{ sweeps: ISweep[] }>('sweeps');
      this._sweeps.status.textContent = `${data.sweeps.length}`;
      this._sweeps.render(JSON.stringify(data), () =>
        data.sweeps.length === 0
          ? [h('div', { class: 'wb-empty' }, 'No sweeps.')]
          : data.sweeps.map(s =>
              h(
                'div',
                { class: 'wb-sweep', 'data-sweep': s.name },
                h('span', { class: 'wb-run-name' }, s.name),
                h('span', { class: `wb-badge wb-badge-${s.status}` }, s.status),
                h(
                  'div',
                  { class: 'wb-row-actions' },
                  button('Open', 'Open the sweep', () => this._openView('sweep', s.name, `Sweep ${s.name}`)),
                  button('Code', 'Insert workbench.load_sweep(...)', () =>
                    this._snippet(`sweep = workbench.load_sweep(${pyString(s.name)})`)
                  )
                )
              )
            )
      );
    } catch (error) {
      this._sweeps.error(String((error as Error).message ?? error));
    }
  }

  private readonly _commands: CommandRegistry;
  private readonly _experimentSelect: HTMLSelectElement;
  private readonly _filterInput: HTMLInputElement;
  private readonly _orderInput: HTMLInputElement;
  private readonly _pager: HTMLElement;
  private readonly _compareButton: HTMLElement;
  private readonly _store: HTMLElement;
  private readonly _runs: Section;
  private readonly _models: Section;
  private readonly _deployments: Section;
  private readonly _reports: Section;
  private readonly _sweeps: Section;
  private readonly _selected = new Set<string>();
  private readonly _expandedModels = new Set<string>();
  private _experimentsKey = '';
  private _info: IInfo | null = null;
  private _page = 1;
  private _pageIds: string[] = [];
  private _timer: number | null = null;
  private _busy = false;
}
