/**
 * A main-area tab showing one workbench view (comparison, run, model card, sweep, drift
 * report): the server renders a self-contained HTML page, shown in a sandboxed iframe
 * (`allow-scripts` only), so its scripts run without access to JupyterLab or its credentials.
 */
import { MainAreaWidget } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { requestAPI } from './api';

export class ViewFrame extends Widget {
  constructor(
    readonly kind: string,
    readonly viewId: string
  ) {
    super();
    this.addClass('wb-view');
    this._iframe = document.createElement('iframe');
    this._iframe.setAttribute('sandbox', 'allow-scripts allow-popups');
    this._iframe.className = 'wb-view-frame';
    this._iframe.dataset.kind = kind;
    this._message = document.createElement('div');
    this._message.className = 'wb-view-message';
    this.node.append(this._message, this._iframe);
  }

  /** Fetch the page and show it; errors are shown in place. */
  async load(): Promise<void> {
    this._message.textContent = 'Loading…';
    this._message.hidden = false;
    try {
      const page = await requestAPI<string>(
        `views/${this.kind}/${encodeURIComponent(this.viewId)}`,
        {},
        true
      );
      this._iframe.srcdoc = page;
      this._message.hidden = true;
    } catch (error) {
      this._message.textContent = String((error as Error).message ?? error);
      this._message.classList.add('wb-error');
    }
  }

  private readonly _iframe: HTMLIFrameElement;
  private readonly _message: HTMLElement;
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
