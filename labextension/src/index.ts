import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, InputDialog, MainAreaWidget } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookActions } from '@jupyterlab/notebook';
import { LabIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { ModelHost, ModelView } from './card';
import { DiffView } from './diffview';
import { FmcPanel } from './panel';

const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
<g class="jp-icon3" fill="#616161"><rect x="2" y="3" width="5" height="5" rx="1"/><rect x="2" y="10" width="5" height="5" rx="1"/>
<rect x="2" y="17" width="5" height="4" rx="1"/><path d="M15 4a6 6 0 0 1 4.8 9.6l3 3-1.4 1.4-3-3A6 6 0 1 1 15 4zm0 2a4 4 0 1 0 0 8 4 4 0 0 0 0-8z"/></g></svg>`;

export const fmcIcon = new LabIcon({ name: 'fmc-jupyter:icon', svgstr: ICON_SVG });

const CATEGORY = 'Find My CNN';
export const COMMANDS = {
  open: 'fmc-jupyter:open',
  model: 'fmc-jupyter:open-model',
  diff: 'fmc-jupyter:diff',
  datasets: 'fmc-jupyter:datasets'
};

/** Put `code` into a NEW cell below the active one of the current notebook; returns a problem, or null. */
function insertCell(tracker: INotebookTracker | null, code: string): string | null {
  const notebook = tracker?.currentWidget;
  if (!notebook || !notebook.content.activeCell) {
    return 'Open a notebook and select a cell first.';
  }
  NotebookActions.insertBelow(notebook.content);
  const cell = notebook.content.activeCell;
  if (!cell) {
    return 'Could not add a cell to the notebook.';
  }
  cell.model.sharedModel.setSource(code);
  return null;
}

/** A main-area widget around a model view or a diff view. */
class FmcMain extends Widget {
  constructor(node: HTMLElement) {
    super();
    this.addClass('fmc-lab');
    this.addClass('fmc-main');
    this.node.appendChild(node);
  }
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'fmc-jupyter:panel',
  description: 'Find My CNN: browse, query and compare the model registry from the left side bar.',
  autoStart: true,
  requires: [ILayoutRestorer],
  optional: [INotebookTracker, ICommandPalette],
  activate: (app: JupyterFrontEnd, restorer: ILayoutRestorer, tracker: INotebookTracker | null, palette: ICommandPalette | null) => {
    const pages = new Map<string, { widget: MainAreaWidget<FmcMain>; reload: () => void }>();
    const show = (key: string, label: string, node: HTMLElement, load: () => Promise<void>, live = true) => {
      const open = pages.get(key);
      if (open && !open.widget.isDisposed) {
        app.shell.activateById(open.widget.id);
        return;
      }
      const content = new FmcMain(node);
      const widget = new MainAreaWidget({ content });
      widget.id = `fmc-${key.replace(/[^A-Za-z0-9_-]/g, '-')}`;
      widget.title.label = label;
      widget.title.icon = fmcIcon;
      widget.title.closable = true;
      pages.set(key, { widget, reload: () => (live ? void load() : undefined) });
      widget.disposed.connect(() => pages.delete(key));
      app.shell.add(widget, 'main');
      app.shell.activateById(widget.id);
      void load();
    };
    const host = (): ModelHost => ({
      get user() {
        return panel.user;
      },
      query: () => panel.query(),
      insertCell: code => insertCell(tracker, code),
      openPage: id => void app.commands.execute(COMMANDS.model, { ref: id }),
      openDiff: (a, b) => void app.commands.execute(COMMANDS.diff, { a, b })
    });
    const panel = new FmcPanel({
      insertCell: code => insertCell(tracker, code),
      openPage: id => void app.commands.execute(COMMANDS.model, { ref: id }),
      openDiff: (a, b) => void app.commands.execute(COMMANDS.diff, { a, b }),
      changed: () => pages.forEach(p => p.reload())
    });
    panel.title.icon = fmcIcon;
    app.shell.add(panel, 'left', { rank: 600 });
    restorer.add(panel, 'fmc-jupyter-panel');

    app.commands.addCommand(COMMANDS.open, {
      label: 'Find My CNN: Open the Model Panel',
      caption: 'search the model registry in the left side bar',
      execute: () => app.shell.activateById(panel.id)
    });
    app.commands.addCommand(COMMANDS.model, {
      label: args => (args.ref ? `Find My CNN: Model ${args.ref}` : 'Find My CNN: Open a Model Page…'),
      caption: 'the full page of a model: metadata, versions, runs with their curves, comments',
      execute: async args => {
        let ref = args.ref as string | number | undefined;
        if (ref === undefined || ref === '') {
          const answer = await InputDialog.getText({ title: 'Open a model page', label: 'Model (name, name:vN or id)', placeholder: 'MobileNetV2' });
          if (!answer.button.accept || !answer.value) {
            return;
          }
          ref = answer.value.trim();
        }
        const view = new ModelView(host(), ref as number, 'page');
        show(`model-${ref}`, `Model ${ref}`, view.node, async () => {
          await view.load();
          const opened = pages.get(`model-${ref}`);
          if (opened && view.data) {
            opened.widget.title.label = view.data.model.ref;
          }
        });
      }
    });
    app.commands.addCommand(COMMANDS.diff, {
      label: args => (args.a ? `Find My CNN: Diff ${args.a} → ${args.b}` : 'Find My CNN: Diff Two Models…'),
      caption: 'what changed between two model versions: metadata side by side, layers folded to the changes',
      execute: async args => {
        let { a, b } = args as { a?: string | number; b?: string | number };
        if (a === undefined || b === undefined) {
          const first = await InputDialog.getText({ title: 'Diff two models', label: 'Before (name:vN or id)' });
          if (!first.button.accept || !first.value) {
            return;
          }
          const second = await InputDialog.getText({ title: 'Diff two models', label: 'After (name:vN or id)' });
          if (!second.button.accept || !second.value) {
            return;
          }
          [a, b] = [first.value.trim(), second.value.trim()];
        }
        const view = new DiffView(a, b);
        show(`diff-${a}-${b}`, `Diff ${a} → ${b}`, view.node, async () => {
          await view.load();
          const title = view.node.querySelector('.fmc-diff-title')?.textContent;
          const opened = pages.get(`diff-${a}-${b}`);
          if (opened && title) {
            opened.widget.title.label = `Diff ${title.replace(' → ', '→')}`;
          }
        }, false);
      }
    });
    app.commands.addCommand(COMMANDS.datasets, {
      label: 'Find My CNN: Datasets and Leaderboards',
      execute: () => {
        app.shell.activateById(panel.id);
        panel.node.querySelectorAll<HTMLButtonElement>('.fmc-tab')[1]?.click();
      }
    });
    if (palette) {
      for (const command of [COMMANDS.open, COMMANDS.model, COMMANDS.diff, COMMANDS.datasets]) {
        palette.addItem({ command, category: CATEGORY });
      }
    }
  }
};

export default plugin;
