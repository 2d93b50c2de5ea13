/**
 * Commands that set a cell's pipeline role by editing its tags: from the cell toolbar
 * (a menu of roles), the cell context menu and the command palette. They run only on a
 * user's action; the tags they write are the same a user would type (docs/tags.md).
 */

import { JupyterFrontEnd } from '@jupyterlab/application';
import { ICommandPalette, InputDialog } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { Menu } from '@lumino/widgets';

import { liminalIcon } from './icons';
import { applyRole, currentRole, IRole, parseRole, roleNameError, ROLE_KINDS } from './tags';

export const CommandIds = {
  setRole: 'liminal:set-cell-role',
  roleMenu: 'liminal:cell-role-menu'
};

const PROMPTS: { [kind: string]: { label: string; placeholder: string } } = {
  step: { label: 'Step name (starts a step at this cell)', placeholder: 'train' },
  after: { label: 'Run after these steps (comma separated)', placeholder: 'fetch,prepare' },
  model: { label: 'Model variable (VAR or VAR=REGISTERED_NAME)', placeholder: 'clf' }
};

/** Asks for a role's name when it needs one; null if the user cancels. */
async function completeRole(role: IRole, suggestion: string): Promise<IRole | null> {
  const spec = ROLE_KINDS.find(r => r.kind === role.kind);
  if (!spec?.needsName || (role.name ?? '').trim()) {
    return role;
  }
  const prompt = PROMPTS[role.kind];
  let text = suggestion;
  for (;;) {
    const result = await InputDialog.getText({
      title: prompt.label,
      text,
      placeholder: prompt.placeholder
    });
    if (!result.button.accept || result.value === null) {
      return null;
    }
    text = result.value;
    const candidate = { ...role, name: text };
    if (!roleNameError(candidate)) {
      return candidate;
    }
  }
}

export function registerRoleCommands(
  app: JupyterFrontEnd,
  tracker: INotebookTracker,
  palette: ICommandPalette | null
): Menu {
  const { commands } = app;

  const selectedCells = () => {
    const notebook = tracker.currentWidget?.content;
    if (!notebook) {
      return [];
    }
    return notebook.widgets.filter(
      (cell, i) => notebook.isSelectedOrActive(cell) || i === notebook.activeCellIndex
    );
  };

  commands.addCommand(CommandIds.setRole, {
    label: args => {
      if (typeof args.label === 'string') {
        return args.label;
      }
      return typeof args.role === 'string'
        ? `Pipeline role: ${args.role}`
        : 'Set pipeline role';
    },
    caption: 'Set the pipeline role of the selected cells (edits their tags)',
    isEnabled: () => selectedCells().length > 0,
    isToggled: args => {
      const cell = tracker.activeCell;
      if (!cell || typeof args.role !== 'string') {
        return false;
      }
      const tags = (cell.model.getMetadata('tags') as string[] | undefined) ?? [];
      return currentRole(tags).kind === parseRole(args.role).kind;
    },
    execute: async args => {
      const cells = selectedCells();
      if (!cells.length || typeof args.role !== 'string') {
        return;
      }
      const first = (cells[0].model.getMetadata('tags') as string[] | undefined) ?? [];
      const current = currentRole(first);
      const role = await completeRole(
        parseRole(args.role),
        current.kind === parseRole(args.role).kind ? (current.name ?? '') : ''
      );
      if (!role) {
        return;
      }
      for (const cell of cells) {
        const tags = (cell.model.getMetadata('tags') as string[] | undefined) ?? [];
        const next = applyRole(tags, role);
        if (next.length) {
          cell.model.setMetadata('tags', next);
        } else if (cell.model.getMetadata('tags') !== undefined) {
          cell.model.deleteMetadata('tags');
        }
      }
    }
  });

  const menu = new Menu({ commands });
  menu.title.label = 'Pipeline role';
  menu.title.icon = liminalIcon;
  for (const role of ROLE_KINDS) {
    menu.addItem({
      command: CommandIds.setRole,
      args: { role: role.kind, label: role.label }
    });
  }

  commands.addCommand(CommandIds.roleMenu, {
    label: 'Pipeline role',
    caption: 'Set the pipeline role of this cell (step, imports, parameters, …)',
    icon: liminalIcon,
    // Only code cells take part in a pipeline.
    isVisible: () => tracker.activeCell?.model.type === 'code',
    execute: () => {
      const cell = tracker.activeCell;
      if (!cell) {
        return;
      }
      const anchor =
        (cell.node.querySelector('.jp-cell-toolbar') as HTMLElement | null) ?? cell.node;
      const box = anchor.getBoundingClientRect();
      menu.open(box.right - 200, box.bottom);
    }
  });

  app.contextMenu.addItem({
    type: 'submenu',
    submenu: menu,
    selector: '.jp-Notebook .jp-Cell',
    rank: 12
  });

  if (palette) {
    for (const role of ROLE_KINDS) {
      palette.addItem({
        command: CommandIds.setRole,
        category: 'Liminal pipeline',
        args: { role: role.kind, label: `Cell role: ${role.label}` }
      });
    }
  }
  return menu;
}
