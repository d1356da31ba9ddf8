import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { INotebookTracker } from '@jupyterlab/notebook';
import { LabIcon } from '@jupyterlab/ui-components';

import { FmcPanel } from './panel';

const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
<g class="jp-icon3" fill="#616161"><rect x="2" y="3" width="5" height="5" rx="1"/><rect x="2" y="10" width="5" height="5" rx="1"/>
<rect x="2" y="17" width="5" height="4" rx="1"/><path d="M15 4a6 6 0 0 1 4.8 9.6l3 3-1.4 1.4-3-3A6 6 0 1 1 15 4zm0 2a4 4 0 1 0 0 8 4 4 0 0 0 0-8z"/></g></svg>`;

export const fmcIcon = new LabIcon({ name: 'fmc-jupyter:icon', svgstr: ICON_SVG });

/** Put `code` into the active notebook cell (after what is there); returns a problem, or null. */
function insertInto(tracker: INotebookTracker | null, code: string): string | null {
  const notebook = tracker?.currentWidget;
  const cell = notebook?.content.activeCell;
  if (!notebook || !cell) {
    return 'Open a notebook and select a cell first.';
  }
  const loaded = notebook.content.widgets.some(c => c.model.sharedModel.getSource().includes('load_ext fmc_jupyter'));
  const line = loaded ? code : `%load_ext fmc_jupyter\n${code}`;
  const source = cell.model.sharedModel.getSource();
  cell.model.sharedModel.setSource(source.trim() ? `${source.replace(/\s+$/, '')}\n${line}` : line);
  return null;
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'fmc-jupyter:panel',
  description: 'Find My CNN: browse, query and compare the model registry from the left side bar.',
  autoStart: true,
  requires: [ILayoutRestorer],
  optional: [INotebookTracker],
  activate: (app: JupyterFrontEnd, restorer: ILayoutRestorer, tracker: INotebookTracker | null) => {
    const panel = new FmcPanel(code => insertInto(tracker, code));
    panel.title.icon = fmcIcon;
    app.shell.add(panel, 'left', { rank: 600 });
    restorer.add(panel, 'fmc-jupyter-panel');
    app.commands.addCommand('fmc-jupyter:open', {
      label: 'Find My CNN: open the model panel',
      execute: () => app.shell.activateById(panel.id)
    });
  }
};

export default plugin;
