// Hover inside a decomposed problem: the plan (current step marked) with a link to the panel, and,
// over a quantity, which sub-questions use it — plus, with a teacher, one sentence on its role.
import * as vscode from 'vscode';
import { quantityAt, subQuestionsUsing } from '../core/quantities';
import { readSettings } from './config';
import type { ProblemTracker, TrackedProblem } from './problemTracker';

export interface HoverContext {
  tracker: ProblemTracker;
  /** Current step of a session, when the panel shows it. */
  currentStep(sessionId: string): number | undefined;
  /** One sentence from the teacher, or undefined (no teacher, timeout, error). Must honour `signal`. */
  explainQuantity?(problem: TrackedProblem, quantityText: string, signal: AbortSignal): Promise<string | undefined>;
}

export function hoverLanguageEnabled(languageId: string, languages: readonly string[]): boolean {
  return languages.includes('*') || languages.includes(languageId);
}

export class TutorHoverProvider implements vscode.HoverProvider {
  constructor(private readonly ctx: HoverContext) {}

  async provideHover(document: vscode.TextDocument, position: vscode.Position, token: vscode.CancellationToken): Promise<vscode.Hover | undefined> {
    const settings = readSettings();
    if (!hoverLanguageEnabled(document.languageId, settings.hoverLanguages)) {
      return undefined;
    }
    const tracked = this.ctx.tracker.at(document, position);
    if (!tracked) {
      return undefined;
    }
    const { decomposition } = tracked;
    const range = new vscode.Range(document.positionAt(tracked.start), document.positionAt(tracked.end));
    const text = document.getText(range);
    const quantity = quantityAt(text, document.offsetAt(position) - tracked.start);

    const md = new vscode.MarkdownString();
    // Only our own command may run from the hover; sub-questions are appended as escaped text.
    md.isTrusted = { enabledCommands: ['mathTutor.openPanel'] };
    md.supportThemeIcons = true;

    if (quantity) {
      const used = subQuestionsUsing(quantity, decomposition.subQuestions);
      md.appendMarkdown('$(symbol-number) **');
      md.appendText(quantity.unit ? `${quantity.text} ${quantity.unit}` : quantity.text);
      md.appendMarkdown('** ');
      md.appendText(
        used.length === 0
          ? 'is not used by any step of the plan.'
          : `is used in step${used.length > 1 ? 's' : ''} ${used.map((i) => i + 1).join(', ')}.`,
      );
      md.appendMarkdown('\n\n');
      if (this.ctx.explainQuantity && !token.isCancellationRequested) {
        const abort = new AbortController();
        const sub = token.onCancellationRequested(() => abort.abort());
        // The teacher never holds the hover longer than its timeout; the local part shows anyway.
        const timer = setTimeout(() => abort.abort(), settings.teacher.timeoutMs);
        try {
          const sentence = await this.ctx.explainQuantity(tracked, quantity.text, abort.signal);
          if (sentence) {
            md.appendMarkdown('*Teacher:* ');
            md.appendText(sentence);
            md.appendMarkdown('\n\n');
          }
        } catch {
          // Explanations are a bonus; the reason is logged by the caller.
        } finally {
          clearTimeout(timer);
          sub.dispose();
        }
      }
      md.appendMarkdown('---\n\n');
    }

    const current = this.ctx.currentStep(tracked.sessionId) ?? 0;
    md.appendMarkdown(`**Math Tutor plan** (${decomposition.subQuestions.length} steps, `);
    // As code, so that "name@version" is not rendered as an e-mail link.
    const source = decomposition.source === 'teacher' ? `teacher ${decomposition.model}` : `${decomposition.model}, ${decomposition.device}`;
    md.appendMarkdown(`\`${source.replace(/`/g, "'")}\`)\n\n`);
    decomposition.subQuestions.forEach((question, i) => {
      const marker = i === current ? ' $(arrow-left) *current step*' : '';
      md.appendMarkdown(`${i + 1}. ${i === current ? '**' : ''}`);
      md.appendText(question);
      md.appendMarkdown(`${i === current ? '**' : ''}${marker}\n`);
    });
    const args = encodeURIComponent(JSON.stringify([tracked.sessionId]));
    md.appendMarkdown(`\n[$(book) Open the tutor panel](command:mathTutor.openPanel?${args} "Open the tutor panel")`);
    return new vscode.Hover(md, range);
  }
}
