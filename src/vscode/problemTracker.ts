// Remembers where decomposed problems sit in open documents so hovers can find them. Ranges are
// kept as offsets and moved with every edit; a problem whose text no longer resembles what was
// decomposed is forgotten (the plan would be wrong for it).
import * as vscode from 'vscode';
import type { Decomposition } from '../core/types';

export interface TrackedProblem {
  sessionId: string;
  uri: string;
  start: number;
  end: number;
  /** The document text of the range when it was decomposed. */
  originalText: string;
  decomposition: Decomposition;
}

/** Words (lower case) and numbers of a text, as a multiset, for a cheap resemblance test. */
function tokens(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const m of text.toLowerCase().matchAll(/[a-z]+|\d+(?:\.\d+)?/g)) {
    counts.set(m[0], (counts.get(m[0]) ?? 0) + 1);
  }
  return counts;
}

/** Dice coefficient of the two token multisets: 1 = same words, 0 = nothing in common. */
export function resemblance(a: string, b: string): number {
  const ta = tokens(a);
  const tb = tokens(b);
  let common = 0;
  let total = 0;
  for (const [word, n] of ta) {
    common += Math.min(n, tb.get(word) ?? 0);
    total += n;
  }
  for (const n of tb.values()) {
    total += n;
  }
  return total === 0 ? 0 : (2 * common) / total;
}

/** Below this resemblance to the decomposed text, a tracked problem is dropped. */
export const MIN_RESEMBLANCE = 0.6;
/** Tracked problems per document; the oldest go first. */
const MAX_PER_DOCUMENT = 20;

export class ProblemTracker implements vscode.Disposable {
  private readonly problems = new Map<string, TrackedProblem[]>();
  private readonly disposables: vscode.Disposable[] = [];
  private readonly changeEmitter = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changeEmitter.event;

  constructor() {
    this.disposables.push(
      this.changeEmitter,
      vscode.workspace.onDidChangeTextDocument((e) => this.applyEdits(e)),
      vscode.workspace.onDidCloseTextDocument((doc) => {
        if (this.problems.delete(doc.uri.toString())) {
          this.changeEmitter.fire();
        }
      }),
    );
  }

  track(document: vscode.TextDocument, range: vscode.Range, sessionId: string, decomposition: Decomposition): TrackedProblem {
    const uri = document.uri.toString();
    const start = document.offsetAt(range.start);
    const end = document.offsetAt(range.end);
    // A new decomposition of (roughly) the same text replaces the old one.
    const list = (this.problems.get(uri) ?? []).filter((p) => p.end <= start || p.start >= end);
    const tracked: TrackedProblem = { sessionId, uri, start, end, originalText: document.getText(range), decomposition };
    list.push(tracked);
    this.problems.set(uri, list.slice(-MAX_PER_DOCUMENT));
    this.changeEmitter.fire();
    return tracked;
  }

  /** The tracked problem containing `position`, if any. */
  at(document: vscode.TextDocument, position: vscode.Position): TrackedProblem | undefined {
    const offset = document.offsetAt(position);
    return this.problems.get(document.uri.toString())?.find((p) => offset >= p.start && offset <= p.end);
  }

  bySession(sessionId: string): TrackedProblem | undefined {
    for (const list of this.problems.values()) {
      const found = list.find((p) => p.sessionId === sessionId);
      if (found) {
        return found;
      }
    }
    return undefined;
  }

  all(): readonly TrackedProblem[] {
    return [...this.problems.values()].flat();
  }

  private applyEdits(e: vscode.TextDocumentChangeEvent): void {
    const uri = e.document.uri.toString();
    const list = this.problems.get(uri);
    if (!list || e.contentChanges.length === 0) {
      return;
    }
    // contentChanges are non-overlapping; applying them from the last to the first keeps the
    // offsets of the earlier ones valid.
    const changes = [...e.contentChanges].sort((a, b) => b.rangeOffset - a.rangeOffset);
    for (const p of list) {
      for (const c of changes) {
        const cStart = c.rangeOffset;
        const cEnd = c.rangeOffset + c.rangeLength;
        const delta = c.text.length - c.rangeLength;
        if (cEnd <= p.start) {
          // Entirely before (an insertion exactly at the start moves the problem too).
          p.start += delta;
          p.end += delta;
        } else if (cStart >= p.end) {
          // Entirely after: an insertion right at the end is not part of the problem.
          continue;
        } else {
          // Overlaps the problem: keep the part outside the change, absorb the new text.
          p.start = Math.min(p.start, cStart);
          p.end = Math.max(cStart + c.text.length, p.end + delta);
        }
      }
    }
    const kept = list.filter((p) => {
      const text = e.document.getText(new vscode.Range(e.document.positionAt(p.start), e.document.positionAt(p.end)));
      return p.end > p.start && resemblance(p.originalText, text) >= MIN_RESEMBLANCE;
    });
    if (kept.length !== list.length) {
      this.problems.set(uri, kept);
      this.changeEmitter.fire();
    }
  }

  dispose(): void {
    this.problems.clear();
    for (const d of this.disposables.splice(0)) {
      d.dispose();
    }
  }
}
