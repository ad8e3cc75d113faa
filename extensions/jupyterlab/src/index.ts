/**
 * The Workbench JupyterLab extension: a left sidebar over the workbench store (runs, models,
 * deployments, drift reports, sweeps), main-area views, notebook snippets and the dashboard.
 * All data comes from the workbench server extension (src/api.ts).
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  Clipboard,
  ICommandPalette,
  MainAreaWidget,
  Notification
} from '@jupyterlab/apputils';
import { INotebookTracker, NotebookActions } from '@jupyterlab/notebook';
import { LabIcon } from '@jupyterlab/ui-components';

import { IDashboard, requestAPI } from './api';
import { CommandIDs } from './commands';
import { WorkbenchSidebar } from './sidebar';
import { ViewFrame, createView } from './view';

export { CommandIDs } from './commands';

const workbenchIcon = new LabIcon({
  name: 'workbench:icon',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">' +
    '<g class="jp-icon3" fill="#616161">' +
    '<rect x="3" y="13" width="4" height="8" rx="1"/>' +
    '<rect x="10" y="8" width="4" height="13" rx="1"/>' +
    '<rect x="17" y="3" width="4" height="18" rx="1"/></g></svg>'
});

/** Insert `code` in the active notebook: into the active cell when it is empty, else into a
 * new cell below it. Returns false when no notebook is open. */
function insertIntoNotebook(tracker: INotebookTracker | null, code: string): boolean {
  const panel = tracker?.currentWidget;
  if (!panel) {
    return false;
  }
  const notebook = panel.content;
  const active = notebook.activeCell;
  if (!active || active.model.sharedModel.getSource().trim() !== '') {
    NotebookActions.insertBelow(notebook);
  }
  const cell = notebook.activeCell;
  if (!cell) {
    return false;
  }
  cell.model.sharedModel.setSource(code);
  return true;
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'workbench:plugin',
  description: 'Workbench sidebar: runs, models, deployments and drift reports.',
  autoStart: true,
  optional: [INotebookTracker, ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ) => {
    // Nothing is awaited here: awaiting in activate delays JupyterLab's start-up.
    const { commands, shell } = app;
    const sidebar = new WorkbenchSidebar(commands);
    sidebar.title.icon = workbenchIcon;
    shell.add(sidebar, 'left', { rank: 650 });
    if (restorer) {
      restorer.add(sidebar, sidebar.id);
    }
    const views = new Map<string, MainAreaWidget<ViewFrame>>();

    commands.addCommand(CommandIDs.openView, {
      label: args => `Open workbench view ${args.title ?? ''}`.trim(),
      execute: args => {
        const kind = String(args.kind);
        const id = String(args.id);
        const title = String(args.title ?? `${kind} ${id}`);
        const key = `${kind}:${id}`;
        const existing = views.get(key);
        if (existing && !existing.isDisposed) {
          void existing.content.load();
          shell.activateById(existing.id);
          return existing;
        }
        const widget = createView(kind, id, title);
        views.set(key, widget);
        widget.disposed.connect(() => views.delete(key));
        shell.add(widget, 'main');
        shell.activateById(widget.id);
        return widget;
      }
    });

    commands.addCommand(CommandIDs.insertSnippet, {
      label: 'Insert workbench snippet into the notebook',
      execute: args => {
        const code = String(args.code ?? '');
        Clipboard.copyToSystem(code);
        if (insertIntoNotebook(tracker, code)) {
          Notification.info('Inserted into the notebook (and copied).', { autoClose: 2000 });
        } else {
          Notification.info(`No open notebook: copied \`${code}\`.`, { autoClose: 4000 });
        }
      }
    });

    commands.addCommand(CommandIDs.openDashboard, {
      label: 'Open workbench dashboard',
      execute: async () => {
        try {
          const info = await requestAPI<IDashboard>('dashboard', { method: 'POST' });
          if (info.url) {
            window.open(info.url, '_blank', 'noopener');
          }
        } catch (error) {
          Notification.error(`Workbench dashboard: ${(error as Error).message ?? error}`);
        }
      }
    });

    commands.addCommand(CommandIDs.showSidebar, {
      label: 'Show workbench sidebar',
      execute: () => shell.activateById(sidebar.id)
    });

    commands.addCommand(CommandIDs.refresh, {
      label: 'Refresh workbench sidebar',
      execute: () => sidebar.refresh(true)
    });

    if (palette) {
      for (const command of [CommandIDs.showSidebar, CommandIDs.refresh, CommandIDs.openDashboard]) {
        palette.addItem({ command, category: 'Workbench' });
      }
    }
  }
};

export default plugin;
