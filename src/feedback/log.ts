// The feedback log: append-only JSONL event files in a directory the caller owns (the extension
// passes <globalStorage>/feedback). Several VS Code windows may append at once, any of them may be
// killed mid-write, and files rotate at a size limit. Why this is safe without a lock file:
// docs/feedback.md ("Multi-process safety"). Nothing here touches the network.

import { randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import {
  answerEvent,
  foldFeedbackEvents,
  looksTorn,
  MAX_FEEDBACK_LINE_BYTES,
  parseFeedbackLine,
  serializeFeedbackEvent,
  shownEvent,
  voteEvent,
  type FeedbackEvent,
  type FeedbackRecord,
  type FoldProblem,
  type PositionedEvent,
  type VoteTarget,
  type VoteValue,
} from '../core/feedbackRecord';
import type { Decomposition } from '../core/types';

/** The file every writer appends to. */
export const ACTIVE_LOG_FILE = 'feedback.jsonl';
/** Rotated files: feedback-<UTC yyyymmddThhmmssmmmZ>-<pid>-<random>.jsonl; names sort by age. */
const ROTATED_LOG_FILE = /^feedback-\d{8}T\d{9}Z-\d+-[0-9a-f]+\.jsonl$/;
export const DEFAULT_MAX_LOG_BYTES = 10 * 1024 * 1024;

export interface FeedbackLogOptions {
  /** Directory of the log; created on the first append. */
  dir: string;
  /** Logging switch, read before every append (pass a function to follow a live setting). Default on. */
  enabled?: boolean | (() => boolean);
  /** Rotate the active file before an append would take it past this size. Default 10 MB. */
  maxBytes?: number;
  /** Clock, for tests. */
  now?: () => Date;
}

/** A line that could not be used, with its 1-based line number in `file` (a base name). */
export interface LineProblem {
  file: string;
  line: number;
  /** torn = cut off mid-write (a killed writer); invalid = anything else. */
  kind: 'torn' | 'invalid';
  reason: string;
}

export interface LogReadResult {
  /** Base names, oldest first. */
  files: string[];
  /** Non-blank lines looked at. */
  lines: number;
  events: PositionedEvent[];
  problems: LineProblem[];
}

export interface LogContents extends LogReadResult {
  records: FeedbackRecord[];
  foldProblems: FoldProblem[];
}

export class FeedbackLog {
  readonly dir: string;
  private readonly enabled: () => boolean;
  private readonly maxBytes: number;
  private readonly now: () => Date;
  /** Appends of this process run one after another, so file order = call order. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(options: FeedbackLogOptions) {
    this.dir = options.dir;
    const enabled = options.enabled ?? true;
    this.enabled = typeof enabled === 'function' ? enabled : () => enabled;
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_LOG_BYTES;
    if (!(this.maxBytes > 0)) {
      throw new Error(`maxBytes must be positive, got ${this.maxBytes}`);
    }
    this.now = options.now ?? (() => new Date());
  }

  get isEnabled(): boolean {
    return this.enabled();
  }

  /**
   * Logs that a decomposition was shown and returns its id, the key for later votes and answers.
   * The id is returned even when logging is off, so callers need no special case.
   */
  async recordShown(decomposition: Decomposition, trueAnswer?: number): Promise<string> {
    const id = randomUUID();
    await this.append(shownEvent(decomposition, id, this.now(), trueAnswer));
    return id;
  }

  /** Thumbs on sub-question `target` (0-based) or `overall`; 0 withdraws the vote. */
  recordVote(id: string, target: VoteTarget, vote: VoteValue, reason?: string): Promise<boolean> {
    return this.append(voteEvent(id, this.now(), target, vote, reason));
  }

  recordAnswer(
    id: string,
    step: number | 'final',
    answer: string,
    extra?: { value?: string; correct?: boolean },
  ): Promise<boolean> {
    return this.append(answerEvent(id, this.now(), step, answer, extra));
  }

  /** Appends one event as one line. Resolves false (and writes nothing) when logging is off. */
  append(event: FeedbackEvent): Promise<boolean> {
    const run = this.queue.then(() => this.appendNow(event));
    // A failed append is reported to its caller only; the next one still runs.
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async appendNow(event: FeedbackEvent): Promise<boolean> {
    if (!this.enabled()) {
      return false;
    }
    const line = Buffer.from(serializeFeedbackEvent(event), 'utf8');
    if (line.length > MAX_FEEDBACK_LINE_BYTES) {
      throw new Error(`feedback event of ${line.length} bytes exceeds ${MAX_FEEDBACK_LINE_BYTES}`);
    }
    await fs.mkdir(this.dir, { recursive: true });
    await this.rotateIfNeeded(line.length);
    // 'a+' = O_APPEND | O_CREAT | O_RDWR: every write lands at the current end of file, whoever
    // else appended meanwhile; reading lets us look at the last byte first.
    const handle = await fs.open(path.join(this.dir, ACTIVE_LOG_FILE), 'a+');
    try {
      const { size } = await handle.stat();
      let data = line;
      if (size > 0) {
        const last = Buffer.alloc(1);
        await handle.read(last, 0, 1, size - 1);
        // A writer killed mid-line left no newline: start on a fresh line so that only the torn
        // fragment is lost, not this event too.
        if (last[0] !== 0x0a) {
          data = Buffer.concat([Buffer.from('\n'), line]);
        }
      }
      // One write of the whole line: with O_APPEND the kernel places it atomically at the end.
      let offset = 0;
      for (let attempt = 0; offset < data.length && attempt < 100; attempt++) {
        const { bytesWritten } = await handle.write(data, offset, data.length - offset, null);
        offset += bytesWritten;
      }
      if (offset < data.length) {
        throw new Error(`could not write feedback event (${offset}/${data.length} bytes written)`);
      }
    } finally {
      await handle.close();
    }
    return true;
  }

  private async rotateIfNeeded(incoming: number): Promise<void> {
    const active = path.join(this.dir, ACTIVE_LOG_FILE);
    let size: number;
    try {
      size = (await fs.stat(active)).size;
    } catch (err) {
      if (isNotFound(err)) {
        return;
      }
      throw err;
    }
    if (size === 0 || size + incoming <= this.maxBytes) {
      return;
    }
    const stamp = this.now().toISOString().replace(/[-:.]/g, '');
    const rotated = `feedback-${stamp}-${process.pid}-${randomBytes(4).toString('hex')}.jsonl`;
    try {
      await fs.rename(active, path.join(this.dir, rotated));
    } catch (err) {
      // ENOENT: another window rotated first. EPERM/EBUSY (Windows, file open elsewhere): keep
      // appending to the active file and try again on the next append. Either way nothing is lost.
      if (!isNotFound(err) && !isBusy(err)) {
        throw err;
      }
    }
  }

  /** Log files, oldest first (rotated files by their timestamped names, then the active file). */
  async files(): Promise<string[]> {
    let names: string[];
    try {
      names = await fs.readdir(this.dir);
    } catch (err) {
      if (isNotFound(err)) {
        return [];
      }
      throw err;
    }
    return names.filter((n) => n === ACTIVE_LOG_FILE || ROTATED_LOG_FILE.test(n)).sort(fileOrder);
  }

  /** Reads every line of every file; bad lines are reported with their position, never thrown. */
  async read(): Promise<LogReadResult> {
    // Keyed by inode, not name: a rotation between listing and reading renames the active file, so
    // listing again and reading every file not seen yet picks up lines that moved, without reading
    // any file twice. Bounded: a rotation needs 10 MB of appends.
    const byInode = new Map<string, ParsedFile>();
    for (let pass = 0; pass < 5; pass++) {
      let readSomething = false;
      for (const name of await this.files()) {
        readSomething = (await this.readFile(name, byInode)) || readSomething;
      }
      if (!readSomething) {
        break;
      }
    }
    const parsed = [...byInode.values()].sort((a, b) => fileOrder(a.name, b.name));
    const result: LogReadResult = { files: parsed.map((p) => p.name), lines: 0, events: [], problems: [] };
    for (const p of parsed) {
      result.lines += p.lines;
      result.events.push(...p.events);
      result.problems.push(...p.problems);
    }
    return result;
  }

  /** Parses `name` into `byInode` unless that file was parsed already; true if it read it. */
  private async readFile(name: string, byInode: Map<string, ParsedFile>): Promise<boolean> {
    let text: string;
    let key: string;
    try {
      const handle = await fs.open(path.join(this.dir, name), 'r');
      try {
        const stat = await handle.stat({ bigint: true });
        key = `${stat.dev}:${stat.ino}`;
        const known = byInode.get(key);
        if (known) {
          known.name = name; // renamed by a rotation since: order it by its new name
          return false;
        }
        text = await handle.readFile('utf8');
      } finally {
        await handle.close();
      }
    } catch (err) {
      if (isNotFound(err)) {
        return false;
      }
      throw err;
    }
    const out: ParsedFile = { name, lines: 0, events: [], problems: [] };
    const parts = text.split('\n');
    const unterminated = parts.pop() ?? '';
    parts.forEach((raw, i) => {
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (line.trim() === '') {
        return;
      }
      out.lines++;
      const parsed = parseFeedbackLine(line);
      if (parsed.ok) {
        out.events.push({ event: parsed.record, at: { file: name, line: i + 1 } });
      } else if (looksTorn(line)) {
        out.problems.push({ file: name, line: i + 1, kind: 'torn', reason: `line cut off mid-write (${parsed.reason})` });
      } else {
        out.problems.push({ file: name, line: i + 1, kind: 'invalid', reason: parsed.reason });
      }
    });
    if (unterminated.trim() !== '') {
      // No newline after it: its writer was stopped mid-write (or is still writing). Never used.
      out.lines++;
      out.problems.push({ file: name, line: parts.length + 1, kind: 'torn', reason: 'last line has no newline (writer stopped mid-write)' });
    }
    byInode.set(key, out);
    return true;
  }

  /** Reads and folds the whole log into one record per decomposition. */
  async contents(): Promise<LogContents> {
    const read = await this.read();
    const folded = foldFeedbackEvents(read.events);
    return { ...read, records: folded.records, foldProblems: folded.problems };
  }

  /**
   * Removes every log file (active and rotated) and the directory if that leaves it empty.
   * Returns how many files were removed. Works whether or not logging is enabled.
   */
  async deleteAll(): Promise<number> {
    let removed = 0;
    // Appends of this process queued before the delete land first, then get deleted.
    await this.queue;
    for (const name of await this.files()) {
      try {
        await fs.unlink(path.join(this.dir, name));
        removed++;
      } catch (err) {
        if (!isNotFound(err)) {
          throw err;
        }
      }
    }
    try {
      await fs.rmdir(this.dir);
    } catch {
      // Not empty (something that is not ours) or already gone: leave it.
    }
    return removed;
  }
}

interface ParsedFile {
  name: string;
  lines: number;
  events: PositionedEvent[];
  problems: LineProblem[];
}

/** Rotated files by name (= age), the active file last. */
function fileOrder(a: string, b: string): number {
  const rank = (n: string): number => (n === ACTIVE_LOG_FILE ? 1 : 0);
  return rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0);
}

function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined;
}

function isNotFound(err: unknown): boolean {
  return errorCode(err) === 'ENOENT';
}

function isBusy(err: unknown): boolean {
  const code = errorCode(err);
  return code === 'EPERM' || code === 'EBUSY' || code === 'EACCES';
}
