/**
 * A main-area tab showing one workbench view (comparison, run, model card, sweep, drift
 * report).
 *
 * Views with figures (compare, run, sweep) are drawn in the JupyterLab page: the server sends
 * their HTML part (tables, no script), shown through JupyterLab's sanitizer as notebook
 * outputs are, and their figures as plotly JSON, drawn with one plotly.js loaded once per
 * session. (A sandboxed iframe per view had to load and parse the 4.6 MB plotly.js again
 * each time: an opaque origin shares no cache.) The other views (model card, drift report)
 * have no script and stay self-contained pages in a sandboxed iframe.
 */
import { MainAreaWidget, Sanitizer } from '@jupyterlab/apputils';
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';

import { NAMESPACE, requestAPI } from './api';

/** The views the server sends as parts, drawn in the page. */
export const FIGURE_KINDS = new Set(['compare', 'run', 'sweep']);

/** A view's parts: `views/<kind>/<id>?format=json`. */
export interface IViewParts {
  kind: string;
  title: string;
  html: string;
  figures: Array<{ data: unknown[]; layout: Record<string, unknown> }>;
}

interface IPlotly {
  newPlot(el: HTMLElement, data: unknown[], layout: unknown, config: unknown): Promise<unknown>;
  purge(el: HTMLElement): void;
  Plots: { resize(el: HTMLElement): void };
}

let plotlyLoading: Promise<IPlotly> | null = null;

/**
 * plotly.js from the server extension (`workbench/static/plotly.min.js`, plotly.py's copy),
 * loaded once into the page. Its UMD wrapper would register with an AMD loader if the page
 * has one, so `define` is hidden while it runs.
 */
export function loadPlotly(): Promise<IPlotly> {
  const w = window as unknown as { Plotly?: IPlotly; define?: unknown };
  if (w.Plotly) {
    return Promise.resolve(w.Plotly);
  }
  if (plotlyLoading === null) {
    plotlyLoading = new Promise<IPlotly>((resolve, reject) => {
      const settings = ServerConnection.makeSettings();
      const script = document.createElement('script');
      script.src = URLExt.join(settings.baseUrl, NAMESPACE, 'static', 'plotly.min.js');
      script.async = true;
      script.dataset.workbench = 'plotly';
      const define = w.define;
      w.define = undefined;
      const done = (): void => {
        w.define = define;
      };
      script.onload = () => {
        done();
        if (w.Plotly) {
          resolve(w.Plotly);
        } else {
          plotlyLoading = null;
          reject(new Error('plotly.js loaded but defined no window.Plotly'));
        }
      };
      script.onerror = () => {
        done();
        plotlyLoading = null;
        reject(new Error(`Could not load ${script.src}`));
      };
      document.head.appendChild(script);
    });
  }
  return plotlyLoading;
}

const sanitizer = new Sanitizer();

export class ViewFrame extends Widget {
  constructor(
    readonly kind: string,
    readonly viewId: string
  ) {
    super();
    this.addClass('wb-view');
    this.node.dataset.kind = kind;
    this.node.dataset.viewId = viewId;
    this._message = document.createElement('div');
    this._message.className = 'wb-view-message';
    this.node.append(this._message);
  }

  /** Fetch the view and show it; errors are shown in place. */
  async load(): Promise<void> {
    this._message.textContent = 'Loading…';
    this._message.hidden = false;
    try {
      if (FIGURE_KINDS.has(this.kind)) {
        await this._loadInPage();
      } else {
        await this._loadFrame();
      }
      this._message.hidden = true;
    } catch (error) {
      this._message.textContent = String((error as Error).message ?? error);
      this._message.classList.add('wb-error');
    }
  }

  dispose(): void {
    const plotly = (window as unknown as { Plotly?: IPlotly }).Plotly;
    if (plotly) {
      for (const el of this._figures) {
        plotly.purge(el);
      }
    }
    this._figures = [];
    super.dispose();
  }

  protected onResize(): void {
    const plotly = (window as unknown as { Plotly?: IPlotly }).Plotly;
    if (plotly) {
      for (const el of this._figures) {
        plotly.Plots.resize(el);
      }
    }
  }

  private async _loadInPage(): Promise<void> {
    const path = `views/${this.kind}/${encodeURIComponent(this.viewId)}?format=json`;
    // the script and the data are fetched side by side
    const [parts, plotly] = await Promise.all([
      requestAPI<IViewParts>(path),
      this._needsPlotly() ? loadPlotly() : Promise.resolve(null)
    ]);
    const body = document.createElement('div');
    body.className = 'wb-view-body';
    body.innerHTML = sanitizer.sanitize(parts.html);
    this.node.append(body);
    if (parts.figures.length > 0) {
      const drawer = plotly ?? (await loadPlotly());
      for (const figure of parts.figures) {
        const el = document.createElement('div');
        el.className = 'wb-figure';
        const height = Number(figure.layout.height ?? 420);
        el.style.height = `${height}px`;
        body.append(el);
        this._figures.push(el);
        await drawer.newPlot(el, figure.data, figure.layout, {
          responsive: true,
          displaylogo: false
        });
        // let the browser paint this figure before drawing the next (parallel coordinates
        // are WebGL and slow without a GPU: the others should not wait for them)
        await new Promise(resolve => requestAnimationFrame(() => setTimeout(resolve, 0)));
      }
    }
  }

  /** Comparisons always have figures; start loading plotly.js with the data. */
  private _needsPlotly(): boolean {
    return this.kind === 'compare';
  }

  private async _loadFrame(): Promise<void> {
    const page = await requestAPI<string>(
      `views/${this.kind}/${encodeURIComponent(this.viewId)}`,
      {},
      true
    );
    const iframe = document.createElement('iframe');
    // no script runs in these pages (model card, static drift report)
    iframe.setAttribute('sandbox', 'allow-popups');
    iframe.className = 'wb-view-frame';
    iframe.dataset.kind = this.kind;
    iframe.srcdoc = page;
    this.node.append(iframe);
  }

  private readonly _message: HTMLElement;
  private _figures: HTMLElement[] = [];
}

/** A main-area widget for a view, loading it. */
export function createView(kind: string, id: string, title: string): MainAreaWidget<ViewFrame> {
  const content = new ViewFrame(kind, id);
  const widget = new MainAreaWidget({ content });
  widget.id = `workbench-view-${kind}-${id}`.replace(/[^A-Za-z0-9_-]/g, '_');
  widget.title.label = title;
  widget.title.closable = true;
  widget.addClass('wb-view-panel');
  void content.load();
  return widget;
}
