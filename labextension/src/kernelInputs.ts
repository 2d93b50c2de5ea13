/**
 * Runs "Load inputs into kernel" in a notebook's own kernel: ask the kernel which of the
 * step's input names it already holds, ask the user before overwriting them, then run
 * `%liminal inputs` (debug.ts builds both pieces of code) and tell the user what it said.
 */

import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { NotebookPanel } from '@jupyterlab/notebook';
import { KernelMessage } from '@jupyterlab/services';

import {
  existingNamesCode,
  inputNames,
  inputsMagic,
  overwriteQuestion,
  parseExistingNames
} from './debug';
import { IPipeline, IStepRun } from './types';

interface IExecuted {
  ok: boolean;
  text: string;
}

async function execute(panel: NotebookPanel, code: string): Promise<IExecuted> {
  const kernel = panel.sessionContext.session?.kernel;
  if (!kernel) {
    throw new Error('the notebook has no running kernel: start it first');
  }
  const future = kernel.requestExecute({ code, store_history: false });
  let text = '';
  future.onIOPub = msg => {
    if (KernelMessage.isStreamMsg(msg)) {
      text += msg.content.text;
    } else if (KernelMessage.isErrorMsg(msg)) {
      text += `${msg.content.ename}: ${msg.content.evalue}\n`;
    }
  };
  const reply = await future.done;
  return { ok: reply.content.status === 'ok', text };
}

/** Load `step`'s inputs of its run into the panel's kernel; true once they are loaded. */
export async function loadInputsIntoKernel(
  panel: NotebookPanel,
  pipeline: IPipeline | null,
  step: IStepRun
): Promise<boolean> {
  try {
    await panel.sessionContext.ready;
    const names = inputNames(pipeline, step.step);
    if (names.length > 0) {
      const held = await execute(panel, existingNamesCode(names));
      const question = overwriteQuestion(step.step, parseExistingNames(held.text));
      if (question) {
        const answer = await showDialog({
          title: 'Overwrite variables in the kernel?',
          body: question,
          buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Overwrite' })]
        });
        if (!answer.button.accept) {
          return false;
        }
      }
    }
    const done = await execute(panel, inputsMagic(step.step, step.run_id));
    const said = done.text.trim();
    const failed = !done.ok || /^error:/m.test(said);
    if (failed) {
      Notification.error(said || `loading the inputs of step '${step.step}' failed`, {
        autoClose: false
      });
      return false;
    }
    Notification.success(said.split('\n').pop() ?? said, { autoClose: 8000 });
    return true;
  } catch (error) {
    Notification.error(`Cannot load the inputs of step '${step.step}': ${error}`, {
      autoClose: false
    });
    return false;
  }
}
